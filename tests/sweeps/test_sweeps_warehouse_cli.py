"""Studies land in SQL (schema sweeps) and the migsys sweep commands work end to end."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from migsys.cli.app import app
from migsys.sweeps import registry
from migsys.sweeps.analysis import analyze_study
from migsys.sweeps.engine import run_study
from migsys.sweeps.evaluators import InProcess
from migsys.sweeps.warehouse import TABLES, load_sweeps


def _counts(con) -> dict[str, int]:
    return {
        table: con.execute(f"select count(*) from sweeps.{table}").fetchall()[0][0]
        for table in TABLES
    }


def test_tables_exist_even_without_studies(tmp_path: Path) -> None:
    con = duckdb.connect()
    assert load_sweeps(con, tmp_path / "no-sweeps-yet").loaded == []
    counts = _counts(con)
    assert counts.pop("kernels") == len(registry.names())
    assert counts == dict.fromkeys(set(TABLES) - {"kernels"}, 0)


def test_finished_studies_load_and_stale_analysis_is_left_out(make_spec, sweeps_root: Path) -> None:
    spec = make_spec(n=64, chunk_size=100)
    run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    analyze_study(sweeps_root, spec)
    con = duckdb.connect()
    assert load_sweeps(con, sweeps_root).loaded == ["ishigami-test"]
    counts = _counts(con)
    assert counts["studies"] == 1 and counts["scenarios"] == 320 * 3 and counts["outcomes"] == 320
    assert counts["sensitivity"] == 6
    # The long tables join back to the Parquet parts row for row.
    glob = con.execute("select parts_glob from sweeps.studies").fetchall()[0][0]
    mismatches = con.execute(
        f"""
        select count(*) from read_parquet('{glob}') as p
        join sweeps.outcomes as o on o.scenario_id = p.scenario_id and o.outcome = 'y'
        where o.value is distinct from p.y
        """
    ).fetchall()[0][0]
    assert mismatches == 0
    # An analysis of other results (fingerprint differs) is not loaded; an unfinished study neither.
    meta = sweeps_root / "ishigami-test" / "analysis" / "analysis.json"
    meta.write_text(json.dumps({"fingerprint": "other", "warnings": []}))
    unfinished = make_spec(name="half-done", n=64, chunk_size=100)
    run_study(unfinished, sweeps_root, evaluator=InProcess(), progress=False)
    next((sweeps_root / "half-done" / "parts").iterdir()).joinpath("part.parquet").unlink()
    con = duckdb.connect()
    loaded = load_sweeps(con, sweeps_root)
    assert loaded.loaded == ["ishigami-test"]
    assert [(q.name, "missing" in q.reason) for q in loaded.quarantined] == [("half-done", True)]
    assert _counts(con)["sensitivity"] == 0
    assert con.execute("select analyzed from sweeps.studies").fetchall() == [(False,)]
    assert con.execute("select study from sweeps.quarantined_studies").fetchall() == [
        ("half-done",)
    ]


def _write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


SPEC = """
[study]
name = "cli-study"
kernel = "sobol_g"
seed = 9
chunk_size = 500
[design]
method = "sobol"
n = 256
[parameters]
x1 = { low = 0.0, high = 1.0 }
x2 = { low = 0.0, high = 1.0 }
"""


def test_cli_run_status_analyze(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MIGSYS_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    spec = _write_spec(tmp_path, SPEC)
    result = runner.invoke(app, ["sweep", "run", str(spec), "--in-process", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "cli-study: 3 of 3 chunks run (1,024 scenarios" in result.output
    result = runner.invoke(app, ["sweep", "status", "cli-study"])
    assert (
        result.exit_code == 0 and "finished" in result.output and "1,024 / 1,024" in result.output
    )
    result = runner.invoke(app, ["sweep", "analyze", "cli-study"])
    assert result.exit_code == 0, result.output
    assert "S1" in result.output and "x1" in result.output
    result = runner.invoke(app, ["sweep", "export", "cli-study", "--format", "iamc"])
    assert result.exit_code == 2 and "no yearly series kept" in result.output


def test_analysis_by_name_keeps_the_parameter_order(tmp_path: Path, monkeypatch) -> None:
    """study.json is written with sorted keys; the spec read back must keep the design's order."""
    monkeypatch.setenv("MIGSYS_HOME", str(tmp_path / "home"))
    text = SPEC.replace(
        "x1 = { low = 0.0, high = 1.0 }\nx2", "x2 = { low = 0.0, high = 1.0 }\nx1"
    ).replace(
        "x1 = { low = 0.0, high = 1.0 }\n",
        "x1 = { low = 0.0, high = 1.0 }\nx3 = { low = 0.0, high = 1.0 }\n",
        1,
    )
    spec_path = _write_spec(tmp_path, text)
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["sweep", "run", str(spec_path), "--in-process", "--no-progress"]
        ).exit_code
        == 0
    )
    from migsys.sweeps.engine import load_study_spec
    from migsys.sweeps.spec import load_spec

    stored = load_study_spec(tmp_path / "home" / "sweeps", "cli-study")
    assert stored.swept_names == load_spec(spec_path).swept_names == ("x2", "x1", "x3")
    result = runner.invoke(app, ["sweep", "analyze", "cli-study"])
    assert result.exit_code == 0, result.output
    frame = analyze_study(tmp_path / "home" / "sweeps", stored, write=False).sensitivity
    s1 = frame[frame["index"] == "S1"].set_index("parameter")["value"]
    assert s1.idxmax() == "x1"  # Sobol G: a = 0 for x1, the most influential factor


def test_cli_reports_bad_specs_and_missing_studies(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MIGSYS_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    bad = _write_spec(tmp_path, SPEC.replace("n = 256", "n = 300"))
    result = runner.invoke(app, ["sweep", "run", str(bad)])
    assert result.exit_code == 2
    assert "design: n = 300" in result.output and "power of 2" in result.output
    result = runner.invoke(app, ["sweep", "status", "never-ran"])
    assert result.exit_code == 1 and "missing" in result.output
    result = runner.invoke(app, ["sweep", "analyze", "never-ran"])
    assert result.exit_code == 2 and "no results under" in result.output
    result = runner.invoke(app, ["sweep", "export", "never-ran", "--format", "csv"])
    assert result.exit_code == 2 and "only 'iamc'" in result.output
