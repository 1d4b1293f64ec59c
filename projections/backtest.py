"""Backtests: calibrate on data up to a year, project later years, score against what happened.

Each run yields one score row per (kernel, train_until, target_year, method) — the calibrated
model and the naive baselines side by side (:mod:`projections.metrics`) — and the projections
themselves (p05/p50/p95), also for target years the warehouse has no observation for. The model
is scored on its ensemble median (p50).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from migsys.projections import depopulation, remittances
from migsys.projections.calibration import check_kernel
from migsys.projections.inputs import census_population, census_years
from migsys.projections.metrics import Scores, baseline_projections, score
from migsys.projections.store import Calibration, new_backtest_id

MODEL = "model"


@dataclass(frozen=True)
class BacktestResult:
    """Score rows (``backtests`` table), projections (``--out``) and the calibration used."""

    rows: list[dict]
    projections: pd.DataFrame
    calibration: Calibration


def check_target_years(train_until: int, target_years: list[int]) -> list[int]:
    """Target years sorted and de-duplicated; each must come after ``train_until``."""
    if not target_years:
        raise ValueError("target_years: give at least one year to project")
    early = [year for year in target_years if year <= train_until]
    if early:
        raise ValueError(
            f"target_years: {early[0]} is not after train_until {train_until}; a backtest "
            "projects years the calibration has not seen"
        )
    return sorted(set(int(year) for year in target_years))


def _row(
    backtest_id: str,
    kernel: str,
    calibration: Calibration,
    target_year: int,
    method: str,
    scores: Scores | None,
    coverage: float | None = None,
) -> dict:
    return {
        "backtest_id": backtest_id,
        "kernel": kernel,
        "train_until": calibration.train_until,
        "target_year": target_year,
        "method": method,
        "n_units": 0 if scores is None else scores.n_units,
        "median_ape": None if scores is None else scores.median_ape,
        "mean_ape": None if scores is None else scores.mean_ape,
        "sign_share": None if scores is None else scores.sign_share,
        "interval_coverage": coverage,
        "calibration_id": calibration.calibration_id,
        "created_at": datetime.now(UTC).replace(tzinfo=None),
        "code_version": calibration.code_version,
    }


def _interval_coverage(low: np.ndarray, high: np.ndarray, observed: np.ndarray) -> float:
    return float(np.mean((observed >= low) & (observed <= high)))


def backtest_depopulation(
    con, train_until: int, target_years: list[int], *, draws: int = 200, seed: int = 0
) -> BacktestResult:
    """Calibrate on censuses up to ``train_until``, project municipalities, score each census.

    Scored units: municipalities enumerated at the base census, the census before it (the
    last-period baseline needs it) and the target year. Baselines use the last training period.
    """
    targets = check_target_years(train_until, target_years)
    fitted = depopulation.calibrate_depopulation(con, train_until)
    calibration = fitted.calibration
    projected = depopulation.project_municipalities(con, fitted, targets, draws=draws, seed=seed)
    base = fitted.base_year
    available = census_years(con)
    previous = max(year for year in available if year < base)
    backtest_id = new_backtest_id()
    rows = []
    for year in targets:
        if year not in available:
            rows.append(_row(backtest_id, "depopulation", calibration, year, MODEL, None))
            continue
        levels = census_population(con, [previous, base, year])
        frame = (
            projected[projected["year"] == year].set_index("cve_mun").join(levels, how="inner")
        ).dropna(subset=[previous, base, year])
        observed = frame[year].to_numpy(float)
        base_levels = frame[base].to_numpy(float)
        rows.append(
            _row(
                backtest_id,
                "depopulation",
                calibration,
                year,
                MODEL,
                score(base_levels, frame["population_p50"].to_numpy(float), observed),
                _interval_coverage(
                    frame["population_p05"].to_numpy(float),
                    frame["population_p95"].to_numpy(float),
                    observed,
                ),
            )
        )
        baselines = baseline_projections(
            base_levels, frame[previous].to_numpy(float), base - previous, year - base
        )
        for method, values in baselines.items():
            rows.append(
                _row(
                    backtest_id,
                    "depopulation",
                    calibration,
                    year,
                    method,
                    score(base_levels, values, observed),
                )
            )
    return BacktestResult(rows, projected, calibration)


def backtest_remittances(
    con, train_until: int, target_years: list[int], *, draws: int = 200, seed: int = 0
) -> BacktestResult:
    """Calibrate on remittances and the migrant stock up to ``train_until``; score each year.

    One national series: APE of the year's USD remittances, and the sign of its change from
    ``train_until``. Baselines: the ``train_until`` level, and the last year's growth continued
    (the national-growth baseline is the model's own series here, so it is not repeated).
    """
    targets = check_target_years(train_until, target_years)
    fitted = remittances.calibrate_remittances(con, train_until)
    calibration = fitted.calibration
    projected = remittances.project_national(con, fitted, targets, draws=draws, seed=seed)
    observed_series = remittances.observed_remittances(con)
    backtest_id = new_backtest_id()
    rows = []
    missing = [year for year in (train_until - 1, train_until) if year not in observed_series]
    if missing:
        raise ValueError(
            f"fct_remittances_annual: no complete year {missing[0]}, which the last-period "
            f"baseline for train_until {train_until} needs"
        )
    base_level = float(observed_series[train_until])
    previous_level = float(observed_series[train_until - 1])
    for year in targets:
        if year not in observed_series.index:
            rows.append(_row(backtest_id, "remittances", calibration, year, MODEL, None))
            continue
        observed = np.array([observed_series[year]])
        base_array = np.array([base_level])
        this_year = projected[projected["year"] == year]
        rows.append(
            _row(
                backtest_id,
                "remittances",
                calibration,
                year,
                MODEL,
                score(base_array, this_year["remittances_usd_p50"].to_numpy(float), observed),
                _interval_coverage(
                    this_year["remittances_usd_p05"].to_numpy(float),
                    this_year["remittances_usd_p95"].to_numpy(float),
                    observed,
                ),
            )
        )
        baselines = baseline_projections(
            base_array, np.array([previous_level]), 1.0, year - train_until
        )
        for method in ("zero_growth", "last_period_growth"):
            rows.append(
                _row(
                    backtest_id,
                    "remittances",
                    calibration,
                    year,
                    method,
                    score(base_array, baselines[method], observed),
                )
            )
    return BacktestResult(rows, projected, calibration)


def run_backtest(
    con,
    kernel: str,
    train_until: int,
    target_years: list[int],
    *,
    draws: int = 200,
    seed: int = 0,
) -> BacktestResult:
    """Backtest ``kernel`` ('depopulation' or 'remittances')."""
    check_kernel(kernel)
    check_target_years(train_until, target_years)
    runner = backtest_depopulation if kernel == "depopulation" else backtest_remittances
    return runner(con, train_until, target_years, draws=draws, seed=seed)
