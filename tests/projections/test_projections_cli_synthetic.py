"""The CLI on a small kernel-generated warehouse (no real files needed)."""

from __future__ import annotations

import json

import pytest
from projection_warehouses import REMITTANCE_TRUTH, remittance_warehouse
from typer.testing import CliRunner

from migsys.cli.app import app


@pytest.fixture()
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    remittance_warehouse(REMITTANCE_TRUTH, database=str(home / "warehouse.duckdb")).close()
    return home


def test_calibrate_stores_and_publishes(home, monkeypatch):
    published = []
    import migsys.cli.nightly

    # The refresh itself (the nightly flow) is tested in tests/flows; here: that it is asked for.
    monkeypatch.setattr(
        migsys.cli.nightly,
        "run_refresh_command",
        lambda settings: published.append(settings.paths) or settings.paths.warehouse,
    )
    result = CliRunner().invoke(
        app,
        ["calibrate", "--kernel", "remittances", "--train-until", "2010", "--publish"],
        env={"MIGSYS_HOME": str(home)},
    )
    assert result.exit_code == 0, result.output
    (stored,) = (home / "calibrations").glob("*.json")
    record = json.loads(stored.read_text())
    assert record["kernel"] == "remittances" and record["train_until"] == 2010
    assert record["parameters"]["remitter_share_decay"] == pytest.approx(0.06, rel=0.03)
    assert [paths.home for paths in published] == [home]


def test_missing_warehouse_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        app, ["calibrate", "--kernel", "remittances"], env={"MIGSYS_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "no published warehouse" in " ".join(result.output.split())


def test_out_must_be_parquet(home, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--kernel",
            "remittances",
            "--train-until",
            "2008",
            "--target-years",
            "2009",
            "--out",
            str(tmp_path / "x.csv"),
        ],
        env={"MIGSYS_HOME": str(home)},
    )
    assert result.exit_code == 2
    assert "must end in .parquet" in " ".join(result.output.split())


def test_remittance_backtest_writes_todays_columns(home, tmp_path):
    import pandas as pd

    out = tmp_path / "remittances.parquet"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--kernel",
            "remittances",
            "--train-until",
            "2008",
            "--target-years",
            "2009-2012,2020",
            "--out",
            str(out),
        ],
        env={"MIGSYS_HOME": str(home), "COLUMNS": "150"},
    )
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    assert list(written.columns) == [
        "year",
        "remittances_usd_p05",
        "remittances_usd_p50",
        "remittances_usd_p95",
    ]
    assert written["year"].tolist() == [2009, 2010, 2011, 2012, 2020]  # 2020 never observed
    assert (written["remittances_usd_p05"] <= written["remittances_usd_p50"]).all()
    assert (written["remittances_usd_p50"] <= written["remittances_usd_p95"]).all()
    stored = pd.concat(pd.read_parquet(p) for p in (home / "backtests").glob("*.parquet"))
    assert set(stored["method"]) == {
        "model",
        "last_level",
        "drift",
        "damped_ets",
        "model_and_last_level",
    }
    assert set(stored["target_year"]) == {2009, 2010, 2011, 2012}
    assert "published method" in result.output


def test_a_backtest_beyond_the_data_writes_the_published_forecast(home, tmp_path):
    """The main use: forecast years not yet observed, from the last year of data (2012 here).
    Nothing to score, so nothing stored; the published method's forecast is written."""
    import pandas as pd

    out = tmp_path / "future.parquet"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--kernel",
            "remittances",
            "--train-until",
            "2012",
            "--target-years",
            "2013-2015,2020",
            "--out",
            str(out),
        ],
        env={"MIGSYS_HOME": str(home), "COLUMNS": "150"},
    )
    assert result.exit_code == 0, result.output
    assert "no target year observed yet: nothing scored" in " ".join(result.output.split())
    assert not (home / "backtests").exists() or not list((home / "backtests").glob("*"))
    written = pd.read_parquet(out)
    assert written["year"].tolist() == [2013, 2014, 2015, 2020]
    assert written["remittances_usd_p50"].gt(0).all()
    assert (written["remittances_usd_p05"] < written["remittances_usd_p95"]).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train-until", "2008"], "--target-years: required with --train-until"),
        (["--target-years", "2009"], "--target-years: only with --train-until"),
        (["--train-until", "2008", "--target-years", "2009"], "--kernel: name one kernel"),
        (["--kernel", "tides"], "kernel: unknown kernel 'tides'"),
    ],
)
def test_backtest_option_combinations_are_checked(home, args, message):
    result = CliRunner().invoke(app, ["backtest", *args], env={"MIGSYS_HOME": str(home)})
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
