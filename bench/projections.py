"""Calibration and backtest timings and headline scores on the published warehouse.

Reads ``MIGSYS_HOME/warehouse.duckdb`` (run ``migsys refresh`` first) read-only and writes
nothing under ``MIGSYS_HOME``: the backtest runs in memory. Metrics:

- ``projections.depopulation.calibrate_seconds``: calibration on censuses up to 2000;
- ``projections.depopulation.backtest_seconds``: calibration + 200-draw projection + scoring;
- ``projections.depopulation.mape_2010`` and ``.best_baseline_mape_2010`` (fractions);
- ``projections.depopulation.sign_share_2010`` and ``.best_baseline_sign_share_2010``;
- ``projections.remittances.backtest_seconds`` and ``.mape_2011_2015`` (mean over the years).
"""

from __future__ import annotations

import time

import duckdb
import numpy as np

from migsys.bench.common import metric
from migsys.projections.backtest import backtest_depopulation, backtest_remittances
from migsys.projections.depopulation import calibrate_depopulation
from migsys.warehouse.paths import MigsysPaths


def _scores(rows: list[dict], year: int) -> tuple[dict, list[dict]]:
    scored = [row for row in rows if row["target_year"] == year]
    model = next(row for row in scored if row["method"] == "model")
    return model, [row for row in scored if row["method"] != "model"]


def collect() -> dict[str, dict]:
    paths = MigsysPaths.from_env()
    if not paths.warehouse.is_file():
        raise FileNotFoundError(f"no published warehouse at {paths.warehouse}: run migsys refresh")
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        start = time.perf_counter()
        calibrate_depopulation(con, 2000)
        calibrate_seconds = time.perf_counter() - start
        start = time.perf_counter()
        depopulation = backtest_depopulation(con, 2000, [2010], draws=200)
        depopulation_seconds = time.perf_counter() - start
        start = time.perf_counter()
        remittances = backtest_remittances(con, 2010, list(range(2011, 2016)), draws=200)
        remittance_seconds = time.perf_counter() - start
    finally:
        con.close()
    model, baselines = _scores(depopulation.rows, 2010)
    remittance_mape = np.mean(
        [row["mean_ape"] for row in remittances.rows if row["method"] == "model"]
    )
    return {
        "projections.depopulation.calibrate_seconds": metric(calibrate_seconds, "s", None, False),
        "projections.depopulation.backtest_seconds": metric(depopulation_seconds, "s", None, False),
        "projections.depopulation.mape_2010": metric(model["mean_ape"], "fraction", None, False),
        "projections.depopulation.best_baseline_mape_2010": metric(
            min(row["mean_ape"] for row in baselines), "fraction", None, False
        ),
        "projections.depopulation.sign_share_2010": metric(model["sign_share"], "fraction"),
        "projections.depopulation.best_baseline_sign_share_2010": metric(
            max(row["sign_share"] for row in baselines), "fraction"
        ),
        "projections.remittances.backtest_seconds": metric(remittance_seconds, "s", None, False),
        "projections.remittances.mape_2011_2015": metric(
            float(remittance_mape), "fraction", None, False
        ),
    }
