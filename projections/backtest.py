"""``migsys backtest``: the rolling-origin evaluation, or one origin/target pair of it.

- :func:`run_rolling_origin` — every origin/horizon pair the data allow (the refresh runs the
  same thing, :mod:`projections.evaluation`); its rows are the skill table.
- :func:`run_backtest` — one origin (the last enumeration, or year, not after ``train_until``) to
  the given target years, observed or not: the per-method skill rows of the observed ones (stored
  under ``MIGSYS_HOME/backtests`` and loaded into ``main.backtests``) and the **published
  method's** forecast (:mod:`projections.selection`) of every one in the columns scripts have
  always read (``cve_mun, year, population_p05, population_p50, population_p95`` or ``year,
  remittances_usd_p05/p50/p95``), one row per unit and year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from migsys.fingerprint import fingerprint
from migsys.projections import remittance_forecast as rf
from migsys.projections.depopulation import read_depopulation_data
from migsys.projections.evaluation import (
    MODEL_MIN_ENUMERATIONS,
    Evaluation,
    OriginResult,
    PseudoForecasts,
    depopulation_origin,
    evaluate_depopulation,
    evaluate_remittances,
    municipal_choice,
    remittance_choice,
    remittance_origin,
)
from migsys.projections.methods import PER_ROOT_YEAR
from migsys.projections.store import new_backtest_id

KERNELS = ("depopulation", "remittances")


def check_kernel(kernel: str, *, allow_all: bool = False) -> None:
    """Refuse an unknown kernel name, naming the known ones."""
    known = (*KERNELS, "all") if allow_all else KERNELS
    if kernel not in known:
        raise ValueError(f"kernel: unknown kernel {kernel!r}; choose one of {', '.join(known)}")


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


@dataclass(frozen=True)
class BacktestResult:
    """Skill rows of every method (none when no target was observed), and the published
    method's forecast in the ``--out`` columns."""

    rows: list[dict]
    projections: pd.DataFrame
    origin: int
    method: str


def stamp_rows(rows: list[dict]) -> list[dict]:
    """Skill rows with one fresh ``backtest_id``, creation time and code version (to store);
    none for none."""
    backtest_id = new_backtest_id()
    created = datetime.now(UTC).replace(tzinfo=None)
    version = fingerprint(code=[stamp_rows])  # this module and what it imports
    return [
        {"backtest_id": backtest_id, **row, "created_at": created, "code_version": version}
        for row in rows
    ]


def _depopulation_pair(con, train_until: int, years: list[int]) -> BacktestResult:
    data = read_depopulation_data(con)
    enumerations = list(data.panel.years)
    if train_until > enumerations[-1]:
        raise ValueError(
            f"train_until: {train_until} is after the last census in the warehouse "
            f"({enumerations[-1]}); nothing after {enumerations[-1]} can be trained on"
        )
    usable = [year for year in enumerations if year <= train_until]
    if len(usable) < 2:
        raise ValueError(
            f"train_until: {train_until} leaves {len(usable)} census/count year(s) "
            f"({', '.join(map(str, usable)) or 'none'}); every method needs 2 "
            f"(census years: {enumerations})"
        )
    origin = usable[-1]
    method = municipal_choice(data).method
    result: OriginResult = depopulation_origin(data, origin, years)
    if method not in result.forecasts:
        raise ValueError(
            f"train_until: {train_until} leaves {len(usable)} census/count year(s) "
            f"({', '.join(map(str, usable))}); the published method {method} needs "
            f"{MODEL_MIN_ENUMERATIONS} (census years: {enumerations})"
        )
    forecast = result.forecasts[method]
    frames = []
    for position, year in enumerate(result.years):
        keep = np.isfinite(forecast.p50[:, position])
        frames.append(
            pd.DataFrame(
                {
                    "cve_mun": data.panel.cve_mun[keep],
                    "year": np.int64(year),
                    "population_p05": forecast.p05[keep, position],
                    "population_p50": forecast.p50[keep, position],
                    "population_p95": forecast.p95[keep, position],
                }
            )
        )
    return BacktestResult(
        stamp_rows(result.skill), pd.concat(frames, ignore_index=True), origin, method
    )


def _remittance_pair(con, train_until: int, years: list[int]) -> BacktestResult:
    data = rf.read_remittance_data(con)
    if train_until > data.last_year:
        raise ValueError(
            f"train_until: {train_until} is after the last complete year of remittances in the "
            f"warehouse ({data.last_year})"
        )
    memo: PseudoForecasts = {}
    choice = remittance_choice(data, memo)
    result = remittance_origin(
        data, train_until, years, memo, choice.interval_rule or PER_ROOT_YEAR
    )
    forecast = result.forecasts[choice.method]
    projections = pd.DataFrame(
        {
            "year": np.array(result.years, dtype=np.int64),
            "remittances_usd_p05": forecast.p05[0],
            "remittances_usd_p50": forecast.p50[0],
            "remittances_usd_p95": forecast.p95[0],
        }
    )
    return BacktestResult(stamp_rows(result.skill), projections, train_until, choice.method)


def run_backtest(con, kernel: str, train_until: int, target_years: list[int]) -> BacktestResult:
    """One origin (data up to ``train_until``) of ``kernel`` to ``target_years``."""
    check_kernel(kernel)
    years = check_target_years(train_until, target_years)
    runner = _depopulation_pair if kernel == "depopulation" else _remittance_pair
    return runner(con, int(train_until), years)


def run_rolling_origin(con, kernel: str = "all") -> dict[str, Evaluation]:
    """Every origin/horizon pair the data allow, for ``kernel`` or both."""
    check_kernel(kernel, allow_all=True)
    kernels = KERNELS if kernel == "all" else (kernel,)
    out = {}
    for name in kernels:
        if name == "depopulation":
            out[name] = evaluate_depopulation(read_depopulation_data(con))
        else:
            out[name] = evaluate_remittances(rf.read_remittance_data(con))
    return out
