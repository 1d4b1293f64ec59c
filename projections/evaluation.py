"""Rolling-origin evaluation (Tashman 2000): every method, every origin/horizon the data allow.

At each *origin* (a census or count year for depopulation, a year for remittances) every method
sees only the data up to that origin — :meth:`DepopulationData.until` / :meth:`RemittanceData.until`
cut them before anything is fitted — and forecasts every later *target*; where the target was
observed, the forecast is scored (:mod:`projections.skill`). Intervals come from each method's
own errors realised by the origin (:mod:`projections.intervals`).

Depopulation: origins are the enumerations with an earlier one (1995, 2000, 2005) plus the
latest (2010), which only forecasts; targets are every later enumeration and ``FUTURE_YEARS``.
The model needs three enumerations up to its origin (the variogram of its share models), so it
starts in 2000; the extrapolations start in 1995 (the damped trend, which needs two periods, in
2000). Remittances: origins 2003–2014 (after the recording change of 2003) to every year 1–5
years ahead, plus the last year, forecasting ``REMITTANCE_FUTURE_HORIZONS`` years.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from migsys.projections import remittance_forecast as rf
from migsys.projections.baselines import (
    BASELINES,
    DAMPED_TREND,
    BasePeriod,
    baseline_forecasts,
    damped_persistence,
)
from migsys.projections.census import COUNT, CensusPanel
from migsys.projections.depopulation import DepopulationData
from migsys.projections.intervals import (
    ErrorProfile,
    Probabilistic,
    central_half_width,
    error_profile,
    growth_classes,
    interval_score,
    probabilistic,
)
from migsys.projections.municipal_forecast import (
    ShareModelFit,
    fit_share_models,
    forecast_municipalities,
    size_classes,
)
from migsys.projections.skill import SIZE_ALL, scores_by_size

MODEL = "model"
FUTURE_YEARS = (2015, 2020, 2025, 2030)
MODEL_MIN_ENUMERATIONS = 3
REMITTANCE_FUTURE_HORIZONS = (1, 2, 3, 4, 5)
# how many years of past forecasts set a remittance interval (None: all of them); the errors of
# one regime (the boom to 2007, the bust, the flat 2010s) say little about the next, so each
# origin picks the window that would have served best so far (choose_error_window); on a tie
# the earlier entry wins, so more errors are preferred to fewer
ERROR_WINDOWS: tuple[int | None, ...] = (None, 5, 3)
MIN_WINDOW_SCORES = 5
FORECAST_COLUMNS: dict[str, str] = {
    "kernel": "VARCHAR",
    "origin": "INTEGER",
    "unit": "VARCHAR",  # cve_mun, or 'national' for remittances
    "year": "INTEGER",
    "p05": "DOUBLE",
    "p25": "DOUBLE",
    "p50": "DOUBLE",
    "p75": "DOUBLE",
    "p95": "DOUBLE",
    "observed": "DOUBLE",
}


def target_dates(panel: CensusPanel, years: list[int]) -> np.ndarray:
    """Exact reference date of each target enumeration; mid-year for a year with none."""
    return np.array([panel.date(y) if y in panel.years else y + 0.5 for y in years], dtype=float)


@dataclass(frozen=True)
class PointForecasts:
    """Every method's levels ``[n_units, n_targets]`` and the scale its errors are divided by."""

    level: dict[str, np.ndarray]
    scale: dict[str, np.ndarray]


def depopulation_points(
    data: DepopulationData,
    origin: int,
    years: list[int],
    fit: ShareModelFit | None,
    line: tuple[float, float] | None,
) -> PointForecasts:
    """Point forecasts of every method available at ``origin`` (the model when ``fit``)."""
    panel = data.panel
    dates = target_dates(panel, years)
    horizons = dates - panel.date(origin)
    level = baseline_forecasts(panel.until(origin), origin, dates, fallback_line=line)
    scale = {method: np.broadcast_to(horizons, values.shape) for method, values in level.items()}
    if fit is not None:
        model = forecast_municipalities(data, origin, dates, fit)
        # a count target carries the count's own error on top of the model's sd
        counts = np.array([y in panel.years and panel.kind(y) == COUNT for y in years])
        noise = np.array([p.count_noise for p in fit.municipal])
        extra = np.where(model.size_class >= 0, noise[np.maximum(model.size_class, 0)], np.nan)
        level[MODEL] = model.level
        scale[MODEL] = np.sqrt(model.log_sd**2 + np.outer(extra**2, counts))
    return PointForecasts(level, scale)


def _classes(panel: CensusPanel, origin: int) -> tuple[np.ndarray, np.ndarray]:
    """(size quintile, growth tercile of the base period) of every unit at ``origin``."""
    known = panel.until(origin)
    return size_classes(known.level(origin)), growth_classes(BasePeriod.of(known, origin).rate)


def realised_profiles(
    data: DepopulationData,
    origin: int,
    fit: ShareModelFit | None,
    line: tuple[float, float] | None,
) -> dict[str, ErrorProfile]:
    """Each method's profile of scaled errors at every earlier origin/target up to ``origin``."""
    known = data.until(origin)
    panel = known.panel
    errors: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for pseudo in panel.years[1:]:
        if pseudo >= origin:
            break
        targets = [year for year in panel.years if pseudo < year <= origin]
        points = depopulation_points(known, pseudo, targets, fit, line)
        size, growth = _classes(panel, pseudo)
        for position, year in enumerate(targets):
            observed = np.log(panel.level(year))
            for method, values in points.level.items():
                scaled = (observed - np.log(values[:, position])) / points.scale[method][
                    :, position
                ]
                errors.setdefault(method, []).append((scaled, size, growth))
    return {
        method: error_profile(
            np.concatenate([e for e, _, _ in parts]),
            np.concatenate([s for _, s, _ in parts]),
            np.concatenate([g for _, _, g in parts]),
        )
        for method, parts in errors.items()
    }


@dataclass(frozen=True)
class OriginResult:
    """Everything one origin produced: probabilistic forecasts by method, skill rows."""

    origin: int
    years: list[int]
    forecasts: dict[str, Probabilistic]
    skill: list[dict]


def depopulation_origin(data: DepopulationData, origin: int, years: list[int]) -> OriginResult:
    """Forecast ``years`` from ``origin`` with every method and score the observed ones."""
    panel = data.panel
    if origin not in panel.years:
        raise ValueError(f"origin: {origin} is not a census or count year ({list(panel.years)})")
    known = data.until(origin)
    if len(known.panel.years) < 2:
        raise ValueError(f"origin: {origin} has no earlier enumeration to extrapolate from")
    years = sorted(set(int(y) for y in years))
    if not years or years[0] <= origin:
        raise ValueError(f"target years: every target must come after the origin {origin}")
    fit = (
        fit_share_models(data, origin) if len(known.panel.years) >= MODEL_MIN_ENUMERATIONS else None
    )
    line = damped_persistence(known.panel, origin)
    points = depopulation_points(data, origin, years, fit, line)
    profiles = realised_profiles(data, origin, fit, line)
    size, growth = _classes(panel, origin)
    forecasts = {}
    for method, values in points.level.items():
        profile = profiles.get(method)
        quantiles = (
            None
            if profile is None or profile.pooled is None
            else profile.quantiles_for(size, growth)
        )
        forecasts[method] = probabilistic(values, points.scale[method], quantiles)
    skill = []
    start = BasePeriod.of(known.panel, origin).start
    for position, year in enumerate(years):
        if year not in panel.years:
            continue
        scored = (
            np.isfinite(panel.level(start))
            & np.isfinite(panel.level(origin))
            & np.isfinite(panel.level(year))
        )
        scored &= np.all([np.isfinite(f.p50[:, position]) for f in forecasts.values()], axis=0)
        if not scored.any():
            continue
        base = panel.level(origin)[scored]
        observed = panel.level(year)[scored]
        size_scored = size_classes(base)
        horizon = float(panel.date(year) - panel.date(origin))
        for method, forecast in forecasts.items():
            bounds = tuple(
                getattr(forecast, name)[scored, position] for name in ("p05", "p25", "p75", "p95")
            )
            ensemble = (
                None if forecast.log_ensemble is None else forecast.log_ensemble[scored, position]
            )
            for row in scores_by_size(
                base, observed, forecast.p50[scored, position], bounds, ensemble, size_scored
            ):
                skill.append(
                    {
                        "kernel": "depopulation",
                        "origin": origin,
                        "target_year": year,
                        "horizon_years": horizon,
                        "method": method,
                        **row,
                    }
                )
    return OriginResult(origin, years, forecasts, skill)


def depopulation_origins(panel: CensusPanel) -> list[int]:
    """Origins of the evaluation: every enumeration with an earlier one."""
    return list(panel.years[1:])


def forecast_frame(
    kernel: str,
    origin: int,
    units: np.ndarray,
    years: list[int],
    forecast: Probabilistic,
    observed: np.ndarray | None,
) -> pd.DataFrame:
    """Long rows (one per unit and year) of one probabilistic forecast; units without one left
    out."""
    frames = []
    for position, year in enumerate(years):
        p50 = forecast.p50[:, position]
        keep = np.isfinite(p50)
        frames.append(
            pd.DataFrame(
                {
                    "kernel": kernel,
                    "origin": origin,
                    "unit": units[keep],
                    "year": year,
                    **{
                        name: getattr(forecast, name)[keep, position]
                        for name in ("p05", "p25", "p50", "p75", "p95")
                    },
                    "observed": np.nan if observed is None else observed[keep, position],
                }
            )
        )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=list(FORECAST_COLUMNS))
    )


@dataclass(frozen=True)
class Evaluation:
    """The rolling-origin evaluation of one kernel: skill rows and the model's forecasts."""

    skill: pd.DataFrame
    forecasts: pd.DataFrame


def evaluate_depopulation(
    data: DepopulationData, future_years: tuple[int, ...] = FUTURE_YEARS
) -> Evaluation:
    """Every origin to every later enumeration (scored) and to ``future_years`` (forecast only)."""
    panel = data.panel
    skill, frames = [], []
    for origin in depopulation_origins(panel):
        later = [year for year in panel.years if year > origin]
        future = [year for year in future_years if year > panel.years[-1]]
        years = later + future
        if not years:
            continue
        result = depopulation_origin(data, origin, years)
        skill.extend(result.skill)
        if MODEL in result.forecasts:
            observed = np.column_stack(
                [
                    panel.level(year)
                    if year in panel.years
                    else np.full(panel.cve_mun.size, np.nan)
                    for year in years
                ]
            )
            frames.append(
                forecast_frame(
                    "depopulation", origin, panel.cve_mun, years, result.forecasts[MODEL], observed
                )
            )
    forecasts = pd.concat(frames, ignore_index=True) if frames else empty_forecasts()
    return Evaluation(pd.DataFrame(skill, columns=list(skill_columns())), forecasts)


def skill_columns() -> list[str]:
    from migsys.projections.skill import SKILL_COLUMNS

    return list(SKILL_COLUMNS)


def empty_forecasts() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="float64") for name in FORECAST_COLUMNS}).astype(
        {"kernel": "object", "unit": "object", "origin": "int64", "year": "int64"}
    )


# --------------------------------------------------------------------------- remittances


PseudoForecasts = dict[int, dict[str, np.ndarray] | None]


def _pseudo_forecasts(
    data: rf.RemittanceData, pseudo: int, memo: PseudoForecasts
) -> dict[str, np.ndarray] | None:
    """Every method's forecast 1..MAX_HORIZON years from ``pseudo`` (memoised: it reads only the
    data up to ``pseudo``, so every later origin may share it); None with too little history."""
    if pseudo not in memo:
        try:
            memo[pseudo] = rf.point_forecasts(data, pseudo, np.arange(1, rf.MAX_HORIZON + 1))
        except ValueError:
            memo[pseudo] = None  # too little history at this early origin
    return memo[pseudo]


RealisedErrors = dict[str, list[tuple[int, int, float]]]


def realised_remittance_errors(
    data: rf.RemittanceData, origin: int, memo: PseudoForecasts | None = None
) -> RealisedErrors:
    """Each method's ``(pseudo-origin, horizon, error per √year)`` of every forecast made before
    ``origin`` whose target was observed by it (at most ``MAX_HORIZON`` ahead), shift-adjusted
    across 2003."""
    memo = {} if memo is None else memo
    known = data.until(origin)
    years = known.remittances_usd.index.astype(int)
    errors: RealisedErrors = {}
    for pseudo in range(int(years.min()) + 1, origin):
        horizons = np.arange(1, min(origin - pseudo, rf.MAX_HORIZON) + 1)
        forecasts = _pseudo_forecasts(known, pseudo, memo)
        if forecasts is None:
            continue
        for position, horizon in enumerate(horizons):
            target = rf.observed_log(known, pseudo + int(horizon), pseudo)
            if target is None:
                continue
            for method, values in forecasts.items():
                scaled = (target - values[position]) / np.sqrt(horizon)
                errors.setdefault(method, []).append((pseudo, int(horizon), float(scaled)))
    return errors


def _errors_known_at(
    errors: list[tuple[int, int, float]], origin: int, window: int | None
) -> np.ndarray:
    """The errors realised by ``origin`` of forecasts made at most ``window`` years before it."""
    return np.array(
        [
            error
            for pseudo, horizon, error in errors
            if pseudo + horizon <= origin and (window is None or pseudo >= origin - window)
        ]
    )


def _profile(errors: np.ndarray) -> ErrorProfile:
    zeros = np.zeros(errors.size, dtype=int)
    return error_profile(errors, zeros, zeros)


def choose_error_window(errors: list[tuple[int, int, float]], origin: int) -> int | None:
    """The window of ``ERROR_WINDOWS`` whose intervals scored best on the errors realised by
    ``origin``: at each earlier forecast, the interval that window would have given then, scored
    by the mean interval score of its 50 % and 90 % intervals (Gneiting & Raftery 2007). Every
    window is scored on the same forecasts; with fewer than ``MIN_WINDOW_SCORES`` of them, every
    error (None)."""

    def window_quantiles(pseudo: int) -> dict[int | None, np.ndarray] | None:
        """Each window's profile of the errors known at ``pseudo`` (None: one has too few)."""
        pools = {window: _errors_known_at(errors, pseudo, window) for window in ERROR_WINDOWS}
        if min(pool.size for pool in pools.values()) < rf.MIN_CALIBRATION_ERRORS:
            return None
        return {window: _profile(pool).pooled for window, pool in pools.items()}

    at_pseudo = {pseudo: window_quantiles(pseudo) for pseudo in {e[0] for e in errors}}
    totals = dict.fromkeys(ERROR_WINDOWS, 0.0)
    scored = 0
    for pseudo, _horizon, error in errors:
        if at_pseudo[pseudo] is None:
            continue
        scored += 1
        for window, quantiles in at_pseudo[pseudo].items():
            for level in (0.5, 0.9):
                totals[window] += interval_score(
                    central_half_width(quantiles, level), abs(error), 1.0 - level
                )
    if scored < MIN_WINDOW_SCORES:
        return None
    return min(ERROR_WINDOWS, key=totals.__getitem__)


def interval_errors(errors: list[tuple[int, int, float]], origin: int) -> np.ndarray:
    """The errors an interval at ``origin`` is built from: those of the window
    :func:`choose_error_window` picks, or every error realised by then when that window holds
    fewer than ``MIN_CALIBRATION_ERRORS`` (its last forecasts could not run)."""
    chosen = _errors_known_at(errors, origin, choose_error_window(errors, origin))
    if chosen.size >= rf.MIN_CALIBRATION_ERRORS:
        return chosen
    return _errors_known_at(errors, origin, None)


def remittance_profiles(
    data: rf.RemittanceData, origin: int, memo: PseudoForecasts | None = None
) -> dict[str, ErrorProfile]:
    """Each method's profile of absolute errors per √year realised by ``origin`` (see
    :func:`interval_errors`)."""
    return {
        method: _profile(interval_errors(errors, origin))
        for method, errors in realised_remittance_errors(data, origin, memo).items()
    }


def remittance_origin(
    data: rf.RemittanceData,
    origin: int,
    years: list[int],
    memo: PseudoForecasts | None = None,
) -> OriginResult:
    """Forecast ``years`` from ``origin`` with every method and score the observed ones."""
    years = sorted(set(int(y) for y in years))
    if not years or years[0] <= origin:
        raise ValueError(f"target years: every target must come after the origin {origin}")
    horizons = np.array(years) - origin
    memo = {} if memo is None else memo
    shared = _pseudo_forecasts(data, origin, memo) if horizons.max() <= rf.MAX_HORIZON else None
    if shared is not None:  # the same forecasts a later origin's calibration reads
        points = {method: values[horizons - 1] for method, values in shared.items()}
    else:
        points = rf.point_forecasts(data, origin, horizons)
    profiles = remittance_profiles(data, origin, memo)
    base = float(data.remittances_usd[origin])
    forecasts = {}
    for method, log_values in points.items():
        profile = profiles.get(method)
        quantiles = None if profile is None or profile.pooled is None else profile.pooled[None, :]
        forecasts[method] = probabilistic(
            np.exp(log_values)[None, :], np.sqrt(horizons)[None, :].astype(float), quantiles
        )
    skill = []
    series = data.remittances_usd
    for position, year in enumerate(years):
        if year not in series.index:
            continue
        observed = np.array([float(series[year])])
        for method, forecast in forecasts.items():
            bounds = tuple(
                getattr(forecast, name)[:, position] for name in ("p05", "p25", "p75", "p95")
            )
            ensemble = None if forecast.log_ensemble is None else forecast.log_ensemble[:, position]
            for row in scores_by_size(
                np.array([base]),
                observed,
                forecast.p50[:, position],
                bounds,
                ensemble,
                np.array([-1]),
            ):
                skill.append(
                    {
                        "kernel": "remittances",
                        "origin": origin,
                        "target_year": year,
                        "horizon_years": float(year - origin),
                        "method": method,
                        **row,
                    }
                )
    return OriginResult(origin, years, forecasts, skill)


def evaluate_remittances(data: rf.RemittanceData) -> Evaluation:
    """Origins 2003 to the last year but one, 1–5 years ahead (scored), and the last year
    forecasting ``REMITTANCE_FUTURE_HORIZONS`` years (forecast only)."""
    last = data.last_year
    skill, frames = [], []
    memo: PseudoForecasts = {}
    for origin in range(rf.FIRST_ORIGIN, last + 1):
        if origin < last:
            years = [origin + h for h in range(1, rf.MAX_HORIZON + 1) if origin + h <= last]
        else:
            years = [origin + h for h in REMITTANCE_FUTURE_HORIZONS]
        result = remittance_origin(data, origin, years, memo)
        skill.extend(result.skill)
        observed = np.array([[float(data.remittances_usd.get(year, np.nan)) for year in years]])
        frames.append(
            forecast_frame(
                "remittances",
                origin,
                np.array(["national"]),
                years,
                result.forecasts[rf.MODEL],
                observed,
            )
        )
    forecasts = pd.concat(frames, ignore_index=True) if frames else empty_forecasts()
    return Evaluation(pd.DataFrame(skill, columns=skill_columns()), forecasts)


__all__ = [
    "BASELINES",
    "DAMPED_TREND",
    "SIZE_ALL",
    "Evaluation",
    "evaluate_depopulation",
    "evaluate_remittances",
]
