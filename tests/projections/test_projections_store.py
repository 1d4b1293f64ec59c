"""Calibrations and backtests as files under MIGSYS_HOME, loaded into the warehouse tables."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pyarrow as pa
import pytest

from migsys.projections.store import (
    Calibration,
    FitStatistics,
    load_projection_tables,
    new_backtest_id,
    read_unit_components,
    save_backtest_rows,
    save_calibration,
)


def _calibration(train_until: int = 2000) -> Calibration:
    return Calibration(
        kernel="depopulation",
        parameters={"tfr_base": 2.6, "emigration_scale": 1.3},
        parameter_sd={"tfr_base": 0.02},
        fit=FitStatistics("growth", rmse=0.01, mape=0.1, r2=0.4, n_obs=10),
        data_years=(1990, 1995, 2000),
        train_until=train_until,
        method="least squares",
        unit_components=pa.table({"cve_mun": ["01001"], "residual_rate": [0.01]}),
    )


def _backtest_row(backtest_id: str, method: str, mdape: float | None) -> dict:
    return {
        "backtest_id": backtest_id,
        "kernel": "depopulation",
        "origin": 2000,
        "target_year": 2010,
        "horizon_years": 10.32,
        "method": method,
        "size_class": "all",
        "n_units": 3,
        "mdape": mdape,
        "mape": mdape,
        "median_log_error": 0.01,
        "direction_accuracy": 0.5,
        "crps": None,
        "coverage_90": None,
        "coverage_50": None,
        "created_at": datetime(2026, 1, 1),
        "code_version": "test",
    }


def test_tables_exist_and_are_empty_without_files(tmp_path):
    con = duckdb.connect()
    assert load_projection_tables(con, tmp_path) == {"calibrations": 0, "backtests": 0}
    columns = [row[0] for row in con.execute("DESCRIBE main.backtests").fetchall()]
    assert "direction_accuracy" in columns and "mdape" in columns and "size_class" in columns


def test_stored_results_reach_the_tables(tmp_path):
    calibration = _calibration()
    save_calibration(calibration, tmp_path)
    save_calibration(_calibration(1995), tmp_path)
    backtest_id = new_backtest_id()
    save_backtest_rows(
        [
            _backtest_row(backtest_id, "model", 0.08),
            _backtest_row(backtest_id, "zero_growth", None),
        ],
        tmp_path,
    )
    con = duckdb.connect()
    assert load_projection_tables(con, tmp_path) == {"calibrations": 2, "backtests": 2}
    parameters, years = con.execute(
        "SELECT parameters, data_years FROM main.calibrations WHERE calibration_id = ?",
        [calibration.calibration_id],
    ).fetchone()
    assert json.loads(parameters)["tfr_base"] == 2.6 and years == [1990, 1995, 2000]
    assert con.execute(
        "SELECT mdape FROM main.backtests WHERE method = 'zero_growth'"
    ).fetchone() == (None,)
    assert read_unit_components(tmp_path, calibration.calibration_id).num_rows == 1
    # loading again replaces rather than duplicates
    assert load_projection_tables(con, tmp_path) == {"calibrations": 2, "backtests": 2}


def test_backtests_stored_before_the_skill_grain_still_load(tmp_path):
    import pyarrow.parquet as pq

    (tmp_path / "backtests").mkdir()
    old = pa.table(
        {
            "backtest_id": ["bt-old"],
            "kernel": ["depopulation"],
            "train_until": pa.array([2000], pa.int32()),
            "target_year": pa.array([2010], pa.int32()),
            "method": ["model"],
            "n_units": pa.array([2403], pa.int32()),
            "median_ape": [0.074],
            "mean_ape": [0.1],
            "sign_share": [0.73],
            "interval_coverage": [0.61],
            "calibration_id": ["cal-x"],
            "created_at": pa.array([datetime(2025, 1, 1)], pa.timestamp("us")),
            "code_version": ["old"],
        }
    )
    pq.write_table(old, tmp_path / "backtests" / "bt-old.parquet")
    con = duckdb.connect()
    assert load_projection_tables(con, tmp_path)["backtests"] == 1
    row = con.execute(
        "SELECT origin, size_class, mdape, direction_accuracy, coverage_90 FROM main.backtests"
    ).fetchone()
    assert row == (2000, "all", 0.074, 0.73, 0.61)


def test_a_broken_calibration_file_is_named(tmp_path):
    (tmp_path / "calibrations").mkdir()
    (tmp_path / "calibrations" / "cal-bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="cal-bad.json: not valid JSON"):
        load_projection_tables(duckdb.connect(), tmp_path)


def test_empty_backtest_is_refused(tmp_path):
    with pytest.raises(ValueError, match="rows: a backtest run has at least one score row"):
        save_backtest_rows([], tmp_path)
