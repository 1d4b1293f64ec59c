"""Study specs: the shipped examples load; bad specs fail naming the file and the field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from migsys.sweeps import registry
from migsys.sweeps.models import build_model
from migsys.sweeps.spec import SpecError, load_spec, parse_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
GOOD = """
[study]
name = "good"
kernel = "ishigami"
seed = 1
[design]
method = "sobol"
n = 64
[parameters.x1]
low = -1.0
high = 1.0
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def _study_files() -> list[Path]:
    return [p for p in sorted((REPO_ROOT / "studies").glob("*.toml")) if p.name != "nightly.toml"]


@pytest.mark.parametrize("path", _study_files(), ids=lambda p: p.name)
def test_shipped_studies_are_valid(path: Path) -> None:
    spec = load_spec(path)
    assert spec.n_scenarios > 0
    if spec.kernel in ("ishigami", "sobol_g"):
        build_model(spec, registry.get(spec.kernel))


def test_good_spec_counts_saltelli_rows(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD))
    assert spec.swept_names == ("x1",)
    assert spec.n_scenarios == 64 * (1 + 2)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("n = 64", "n = 100"), r"design: n = 100: .*power of 2 \(try 64 or 128\)"),
        (("high = 1.0", "high = -2.0"), r"parameters.x1: low \(-1.0\) must be < high \(-2.0\)"),
        (("seed = 1", "seed = 1\ncolour = 'red'"), r"colour: unknown key"),
        (("low = -1.0", "low = -1.0\nlwo = 3"), r"parameters.x1.lwo: unknown key"),
        (('method = "sobol"', 'method = "random"'), r"design.method: Input should be 'grid'"),
        (('kernel = "ishigami"', 'kernel = "weather"'), r"kernel: unknown kernel 'weather'"),
        (
            ('name = "good"', 'name = "Bad Name!"'),
            r"name: 'Bad Name!': a study name is lowercase words",
        ),
        (('name = "good"', 'name = "good_study"'), r"try 'good-study'"),
        (
            ('method = "sobol"\nn = 64', 'method = "grid"\nn = 64'),
            r"design: a grid design needs levels",
        ),
        (
            ('method = "sobol"\nn = 64', 'method = "morris"\nn = 10\nlevels = 5'),
            r"morris needs an even",
        ),
        (("[design]", "[desing]"), r"desing: unknown top-level table"),
    ],
)
def test_bad_specs_name_file_and_field(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = _write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(SpecError, match=message) as error:
        load_spec(path)
    assert str(path) in str(error.value)


def test_unknown_kernel_parameter_is_rejected_at_parse_time() -> None:
    with pytest.raises(SpecError, match=r"parameters.x9: kernel ishigami has no such parameter"):
        parse_spec(
            {
                "study": {"name": "t", "kernel": "ishigami", "seed": 1},
                "design": {"method": "lhs", "n": 10},
                "parameters": {"x9": {"low": 0, "high": 1}},
            },
            "t.toml",
        )


def test_unknown_output_is_rejected_at_parse_time() -> None:
    with pytest.raises(SpecError, match=r"t.toml(.|\n)*outputs: kernel sobol_g has no output 'z'"):
        parse_spec(
            {
                "study": {"name": "t", "kernel": "sobol_g", "seed": 1, "outputs": ["z"]},
                "design": {"method": "lhs", "n": 10},
                "parameters": {"x1": {"low": 0, "high": 1}},
            },
            "t.toml",
        )


def test_invalid_toml_and_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"study.toml: not valid TOML"):
        load_spec(_write(tmp_path, "[study\n"))
    with pytest.raises(SpecError, match=r"nowhere.toml: cannot read study spec"):
        load_spec(tmp_path / "nowhere.toml")


def test_parameter_needs_exactly_one_way_to_vary(tmp_path: Path) -> None:
    text = GOOD.replace("high = 1.0", "high = 1.0\nvalue = 0.5")
    with pytest.raises(SpecError, match=r"parameters.x1: a fixed value takes no low"):
        load_spec(_write(tmp_path, text))
    text = GOOD.replace("low = -1.0\nhigh = 1.0", 'distribution = "normal"\nmean = 0.0')
    with pytest.raises(SpecError, match=r"parameters.x1: a normal parameter needs mean and sd"):
        load_spec(_write(tmp_path, text))


def test_nothing_swept_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("low = -1.0\nhigh = 1.0", "value = 0.5")
    with pytest.raises(SpecError, match=r"at least one parameter must vary"):
        load_spec(_write(tmp_path, text))


# --- specs refuse what they cannot run ------------------------------------------------------


def _limits_spec(design: str, parameters: str = "", study: str = "") -> str:
    return (
        '[study]\nname = "big"\nkernel = "sobol_g"\nseed = 1\n'
        + study
        + "\n[design]\n"
        + design
        + "\n[parameters]\n"
        + (parameters or "x1 = { low = 0.0, high = 1.0 }\nx2 = { low = 0.0, high = 1.0 }\n")
    )


@pytest.mark.parametrize(
    ("design", "message"),
    [
        (
            'method = "sobol"\nn = 1099511627776',
            r"design: 5,497,558,138,880 scenarios exceed the limit of 20,000,000",
        ),
        (
            'method = "grid"\nlevels = 1000000',
            r"design.levels: 1,000,000 levels: a grid takes at most 1,000",
        ),
        ('method = "grid"\nlevels = 200', r"a grid design of 8,000,000 scenarios is generated"),
        ('method = "lhs"\nn = 5000000', r"a lhs design of 5,000,000 scenarios is generated whole"),
        (
            'method = "sobol"\nn = 1048576',
            r"analysis.bootstrap: 200 resamples of n = 1,048,576 base rows",
        ),
        (
            'method = "lhs"\nn = 1000000\n[analysis]\nbootstrap = 10',
            r"chunk_size: 1 gives 1,000,000 chunks; at most 100,000 \(chunk_size >= 10\)",
        ),
    ],
)
def test_sizes_this_machine_cannot_hold_are_refused_before_anything_runs(
    tmp_path: Path, design: str, message: str
) -> None:
    three = "".join(f"x{i} = {{ low = 0.0, high = 1.0 }}\n" for i in (1, 2, 3))
    study = "chunk_size = 1\n" if "chunk" in message else ""
    path = _write(tmp_path, _limits_spec(design, three, study))
    with pytest.raises(SpecError, match=message) as error:
        load_spec(path)
    assert str(path) in str(error.value)


def test_the_scenario_limit_is_configurable(tmp_path: Path, monkeypatch) -> None:
    from migsys.sweeps.spec import SpecLimits

    path = _write(tmp_path, _limits_spec('method = "sobol"\nn = 1024'))
    assert load_spec(path).n_scenarios == 4096
    with pytest.raises(SpecError, match=r"4,096 scenarios exceed the limit of 4,000 \(MIGSYS_MAX"):
        load_spec(path, limits=SpecLimits.for_max_scenarios(4000))
    assert load_spec(path, limits=SpecLimits.for_max_scenarios(5000)).n_scenarios == 4096
    with pytest.raises(SpecError, match=r"max_scenarios: must be at least 1, got 0"):
        SpecLimits.for_max_scenarios(0)
    # The library never reads the environment: only the program's settings carry the variable.
    monkeypatch.setenv("MIGSYS_MAX_SCENARIOS", "4000")
    assert load_spec(path).n_scenarios == 4096


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            "x1 = { low = 0.0, high = inf }\n",
            r"parameters.x1.high: Input should be a finite number",
        ),
        ("x1 = { low = nan, high = 1.0 }\n", r"parameters.x1.low: Input should be a finite number"),
        (
            'x1 = { distribution = "normal", mean = 0.5, sd = 0.2 }\n',
            r"parameters.x1: normal\(mean 0.5, sd 0.2\) draws down to -0.906897 and up to 1.9069 "
            r"\(mean ± 7.03 sd\), outside the range kernel sobol_g accepts \[0.0, 1.0\]",
        ),
        (
            "x1 = { value = 2.0 }\nx2 = { low = 0.0, high = 1.0 }\n",
            r"parameters.x1: value 2.0 is outside",
        ),
    ],
)
def test_bounds_must_be_finite_and_within_the_kernels_valid_range(
    tmp_path: Path, parameters: str, message: str
) -> None:
    path = _write(tmp_path, _limits_spec('method = "lhs"\nn = 10', parameters))
    with pytest.raises(SpecError, match=message) as error:
        load_spec(path)
    assert str(path) in str(error.value)


def test_a_truncated_normal_inside_the_valid_range_is_accepted(tmp_path: Path) -> None:
    text = 'x1 = { distribution = "normal", mean = 0.5, sd = 0.2, low = 0.0, high = 1.0 }\n'
    assert load_spec(_write(tmp_path, _limits_spec('method = "lhs"\nn = 10', text))).swept_names


def test_a_non_utf8_spec_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(GOOD.replace('"good"', '"g\xf6od"').encode("latin-1"))
    with pytest.raises(SpecError, match=r"latin1.toml: not UTF-8 text \(byte 0xf6 on line 3\)"):
        load_spec(path)


def test_cli_errors_print_intact_without_markup(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from migsys.cli.app import app

    monkeypatch.setenv("MIGSYS_HOME", str(tmp_path / "home"))
    path = _write(tmp_path, GOOD.replace('name = "good"', 'name = "Bad Name!"'))
    result = CliRunner().invoke(app, ["sweep", "run", str(path)])
    assert result.exit_code == 2
    assert "'Bad Name!': a study name is lowercase words joined by hyphens" in result.output
    assert str(path) in result.output
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"[study]\nname = '\xff'\n")
    result = CliRunner().invoke(app, ["sweep", "run", str(latin)])
    assert result.exit_code == 2 and f"{latin}: not UTF-8 text" in result.output
    assert "Traceback" not in result.output


def _read_only(home: Path) -> list[str]:
    """A command prefix that makes ``home`` read-only for what it runs (root ignores modes)."""
    if os.geteuid() != 0:
        home.chmod(0o555)
        return []
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount --bind {home} {home} && mount -o remount,bind,ro {home}",
        ],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root here: {probe.stderr.decode()[:200]}")
    return [
        "unshare",
        "-m",
        "sh",
        "-c",
        f'mount --bind {home} {home} && mount -o remount,bind,ro {home} && exec "$@"',
        "sh",
    ]


def test_a_read_only_home_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    spec = _write(tmp_path, GOOD)
    prefix = _read_only(home)
    env = os.environ | {"MIGSYS_HOME": str(home)}
    done = subprocess.run(
        [
            *prefix,
            str(Path(sys.executable).parent / "migsys"),
            "sweep",
            "run",
            str(spec),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "cannot write study results" in done.stderr
        and "MIGSYS_HOME must be a writable" in done.stderr
    )
    assert "Traceback" not in done.stderr
