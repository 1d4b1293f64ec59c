"""Study specs: the shipped examples load; bad specs fail naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

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
        build_model(spec)


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
        (('name = "good"', 'name = "Bad Name!"'), r"name: String should match pattern"),
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
