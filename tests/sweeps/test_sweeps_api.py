"""``migsys.study(name)``: a study as DataFrames for notebooks; the sweep commands' help."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from toy_kernel import TOY
from typer.testing import CliRunner

import migsys
from migsys.cli.app import app
from migsys.sweeps import registry
from migsys.sweeps.analysis import analyze_study
from migsys.sweeps.engine import run_study
from migsys.sweeps.evaluators import InProcess
from migsys.sweeps.spec import SpecError, parse_spec


@pytest.fixture()
def toy_home(tmp_path: Path):
    """A MIGSYS_HOME holding one finished toy study (yearly series, two scalars)."""
    registry.register(TOY)
    spec = parse_spec(
        {
            "study": {
                "name": "toy-api",
                "kernel": "toy_logistic",
                "seed": 8,
                "chunk_size": 50,
                "years": [2000, 2005],
            },
            "design": {"method": "sobol", "n": 32},
            "parameters": {
                "rate": {"low": 0.02, "high": 0.3},
                "capacity": {"low": 50.0, "high": 200.0},
            },
        }
    )
    home = tmp_path / "home"
    try:
        run_study(spec, home / "sweeps", evaluator=InProcess(), progress=False)
        yield home, spec
    finally:
        registry.unregister(TOY.name)


def test_study_returns_dataframes(toy_home, monkeypatch) -> None:
    home, spec = toy_home
    study = migsys.study("toy-api", home=home)
    assert study.kernel == "toy_logistic" and study.n_scenarios == 128
    assert list(study.scenarios.columns) == ["scenario_id", "rate", "capacity"]
    assert list(study.outcomes.columns) == ["scenario_id", "stock_horizon", "doubled"]
    assert study.scenarios["scenario_id"].tolist() == list(range(128))
    assert study.fixed_parameters == {"start": 10.0}
    # No analysis stored yet: computed in memory, nothing written.
    assert not (home / "sweeps" / "toy-api" / "analysis").exists()
    expected = analyze_study(home / "sweeps", spec, write=False)
    columns = ["outcome", "method", "index", "parameter", "value", "conf"]
    pd.testing.assert_frame_equal(study.sensitivity[columns], expected.sensitivity[columns])
    assert study.sensitivity["parameter_2"].isna().all()
    assert set(study.bands["series"]) == {"stock"} and set(study.bands["year"]) == set(
        range(2000, 2006)
    )
    paths = study.series("stock")
    assert paths.shape == (128, 6) and list(paths.columns) == list(range(2000, 2006))
    assert np.array_equal(paths[2005].to_numpy(), study.outcomes["stock_horizon"].to_numpy())
    with pytest.raises(KeyError, match="no kept series 'doubled'"):
        study.series("doubled")
    # MIGSYS_HOME is the default home; a stored analysis is read back as is.
    analyze_study(home / "sweeps", spec)
    monkeypatch.setenv("MIGSYS_HOME", str(home))
    again = migsys.study("toy-api")
    pd.testing.assert_frame_equal(again.sensitivity, study.sensitivity)
    pd.testing.assert_frame_equal(again.outcomes, study.outcomes)


def test_study_refuses_what_does_not_verify(toy_home) -> None:
    home, _ = toy_home
    with pytest.raises(
        SpecError, match=r"study nope: no results under .* \(studies there: toy-api\)"
    ):
        migsys.study("nope", home=home)
    part = next((home / "sweeps" / "toy-api" / "parts").glob("*/part.parquet"))
    part.write_bytes(part.read_bytes()[:100])
    with pytest.raises(SpecError, match=r"results do not verify"):
        migsys.study("toy-api", home=home)


@pytest.mark.parametrize("command", ["run", "status", "analyze", "export"])
def test_every_sweep_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, ["sweep", command, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and f"migsys sweep {command}" in result.output


@pytest.mark.parametrize("name", ["../../outside/toy-api", "/tmp/toy-api", "a/b", "", ".."])
def test_study_names_are_names_not_paths(tmp_path: Path, name: str) -> None:
    """Issue 17: `migsys.study('../../x')` and absolute paths loaded studies outside
    MIGSYS_HOME. A name is refused before any file is opened."""
    from migsys.sweeps.store import NotAStudyName

    with pytest.raises(NotAStudyName, match="is not a study name"):
        migsys.study(name, home=tmp_path / "home")


def test_sweep_commands_refuse_a_path_for_a_study_name(tmp_path: Path, monkeypatch) -> None:
    """The CLI too: status (in its own process), analyze and export exit 2 with the rule."""
    import subprocess
    import sys

    home = tmp_path / "home"
    (home / "sweeps").mkdir(parents=True)
    migsys_cli = Path(sys.executable).parent / "migsys"
    env = {"PATH": "/usr/bin:/bin", "MIGSYS_HOME": str(home), "NO_COLOR": "1"}
    done = subprocess.run(
        [str(migsys_cli), "sweep", "status", "../outside/x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "is not a study name" in done.stderr and "Traceback" not in done.stderr
    monkeypatch.setenv("MIGSYS_HOME", str(home))
    for command in (["analyze", str(tmp_path / "outside" / "study")], ["export", "../../x"]):
        result = CliRunner().invoke(app, ["sweep", *command])
        assert result.exit_code == 2, (command, result.output)
        assert "is not a study name" in result.output
    assert sorted(p.name for p in home.rglob("*")) == ["sweeps"]
