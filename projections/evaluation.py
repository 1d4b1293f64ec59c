"""Rolling-origin evaluation (Tashman 2000): every method, every origin/horizon the data allow.

At each *origin* (a census or count year for depopulation, a year for remittances) every method
sees only the data up to that origin — :meth:`DepopulationData.until` / :meth:`RemittanceData.until`
cut them before anything is fitted — and forecasts every later *target*; where the target was
observed, the forecast is scored (:mod:`projections.skill`). Intervals come from each method's
own errors realised by the origin (:mod:`projections.intervals`).

Depopulation: origins are the enumerations with an earlier one (1995, 2000, 2005, 2010, 2020);
targets are every later enumeration and, beyond the last one, ``FUTURE_YEARS``. The model needs
three enumerations up to its origin (the variogram of its share models), so it and its
combinations start in 2000; the extrapolations start in 1995 (the damped trend, which needs two
periods, in 2000). Remittances: every origin from 2003 (after the recording change) to every
year 1–5 years ahead that is observed; the last year forecasts ``REMITTANCE_FUTURE_HORIZONS``.

Every candidate for the published method is forecast and scored the same way; the published one
is chosen by :mod:`projections.selection` on the early pairs only, and its forecasts from every
origin are what ``fct_forecasts`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from migsys.projections import remittance_forecast as rf
from migsys.projections.baselines import (
    AVERAGE,
    BASELINES,
    DAMPED_TREND,
    SINGLE_BASELINES,
    ZERO_GROWTH,
    BasePeriod,
    baseline_forecasts,
    damped_persistence,
)
from migsys.projections.census import COUNT, CensusPanel
from migsys.projections.depopulation import DepopulationData
from migsys.projections.intervals import (
    ErrorProfile,
    Probabilistic,
    error_profile,
    growth_classes,
    probabilistic,
)
from migsys.projections.learned_correction import corrected_average
from migsys.projections.methods import (
    AVERAGE_WITH_MODEL,
    COMBINATIONS,
    CORRECTED_AVERAGE,
    INTERVAL_RULES,
    MODEL,
    MODEL_AND_AVERAGE,
    PER_HORIZON,
    PER_ROOT_YEAR,
    PER_YEAR,
)
from migsys.projections.municipal_forecast import (
    ShareModelFit,
    fit_share_models,
    forecast_municipalities,
    size_classes,
)
from migsys.projections.selection import (
    SELECTION_LAST_TARGET,
    MethodChoice,
    choose_municipal_method,
    choose_remittance_method,
    selection_rows,
)
from migsys.projections.skill import SIZE_ALL, scores_by_size

FUTURE_YEARS = (2015, 2020, 2025, 2030)
MODEL_MIN_ENUMERATIONS = 3
REMITTANCE_FUTURE_HORIZONS = (1, 2, 3, 4, 5)
# What a municipality the published method cannot forecast gets (one created since the last
# census, enumerated once by the origin): the first of these methods that can forecast it, with
# that method's calibrated interval and its name in ``method``. The cohort-component share model
# projects from the origin level alone; zero growth keeps it.
UNFORECASTABLE_FALLBACKS = (MODEL, ZERO_GROWTH)
# fewer errors than this at one horizon: the per-horizon rule reads every horizon's, per √year
MIN_HORIZON_ERRORS = 5
FORECAST_COLUMNS: dict[str, str] = {
    "kernel": "VARCHAR",
    "method": "VARCHAR",  # the published method that made the forecast (or the fallback's name)
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
    """Point forecasts of every method available at ``origin``: the baselines, the learned
    correction of their average, and, when ``fit``, the model and its combinations with the
    baselines. Every method but the model is scaled by the horizon."""
    panel = data.panel
    dates = target_dates(panel, years)
    horizons = dates - panel.date(origin)
    level = baseline_forecasts(panel.until(origin), origin, dates, fallback_line=line)
    level[CORRECTED_AVERAGE] = corrected_average(data, origin, level[AVERAGE], horizons)
    scale = {method: np.broadcast_to(horizons, values.shape) for method, values in level.items()}
    if fit is not None:
        model = forecast_municipalities(data, origin, dates, fit)
        # a count target carries the count's own error on top of the model's sd
        counts = np.array([y in panel.years and panel.kind(y) == COUNT for y in years])
        noise = np.array([p.count_noise for p in fit.municipal])
        extra = np.where(model.size_class >= 0, noise[np.maximum(model.size_class, 0)], np.nan)
        level[MODEL] = model.level
        scale[MODEL] = np.sqrt(model.log_sd**2 + np.outer(extra**2, counts))
        singles = [level[method] for method in SINGLE_BASELINES if method in level]
        level[AVERAGE_WITH_MODEL] = np.mean(np.stack([*singles, model.level]), axis=0)
        level[MODEL_AND_AVERAGE] = 0.5 * (model.level + level[AVERAGE])
        for method in COMBINATIONS:
            scale[method] = np.broadcast_to(horizons, model.level.shape)
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
    method: str,
    origin: int,
    units: np.ndarray,
    years: list[int],
    forecast: Probabilistic,
    observed: np.ndarray | None,
) -> pd.DataFrame:
    """Long rows (one per unit and year) of one method's probabilistic forecast; units without
    one left out."""
    frames = []
    for position, year in enumerate(years):
        p50 = forecast.p50[:, position]
        keep = np.isfinite(p50)
        frames.append(
            pd.DataFrame(
                {
                    "kernel": kernel,
                    "method": method,
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
    """The rolling-origin evaluation of one kernel: every method's skill rows, the published
    method's forecasts from every origin, and how that method was chosen."""

    skill: pd.DataFrame
    forecasts: pd.DataFrame
    choice: MethodChoice | None = None


def observed_levels(panel: CensusPanel, years: list[int]) -> np.ndarray:
    """``[n_units, n_years]`` enumerated populations (NaN for a year with no enumeration)."""
    return np.column_stack(
        [
            panel.level(year) if year in panel.years else np.full(panel.cve_mun.size, np.nan)
            for year in years
        ]
    )


def depopulation_years(panel: CensusPanel, origin: int, future_years: tuple[int, ...]) -> list[int]:
    """Targets of ``origin``: every later enumeration, then ``future_years`` beyond the last."""
    later = [year for year in panel.years if year > origin]
    return later + [year for year in future_years if year > panel.years[-1]]


def municipal_choice(data: DepopulationData, skill: pd.DataFrame | None = None) -> MethodChoice:
    """The published municipal method (:func:`projections.selection.choose_municipal_method`),
    from the rows of :func:`evaluate_depopulation` when given (the rule keeps the pairs up to
    ``SELECTION_LAST_TARGET``), else from the origins before it evaluated on the data cut there."""
    if skill is None:
        limit = SELECTION_LAST_TARGET["depopulation"]
        known = data.until(limit)
        rows = []
        for origin in depopulation_origins(known.panel):
            years = [year for year in known.panel.years if year > origin]
            if years:
                rows += depopulation_origin(known, origin, years).skill
        skill = pd.DataFrame(rows, columns=list(skill_columns()))
    return choose_municipal_method(selection_rows(skill, "depopulation"))


def evaluate_depopulation(
    data: DepopulationData, future_years: tuple[int, ...] = FUTURE_YEARS
) -> Evaluation:
    """Every origin to every later enumeration (scored) and to ``future_years`` (forecast only);
    the published method chosen on the pairs up to 2010 (:mod:`projections.selection`)."""
    panel = data.panel
    results = []
    for origin in depopulation_origins(panel):
        years = depopulation_years(panel, origin, future_years)
        if years:
            results.append(depopulation_origin(data, origin, years))
    skill = pd.DataFrame(
        [row for result in results for row in result.skill], columns=list(skill_columns())
    )
    choice = municipal_choice(data, skill)
    frames = [
        frame
        for result in results
        if choice.method in result.forecasts
        for frame in published_frames(panel, result, choice.method)
    ]
    forecasts = pd.concat(frames, ignore_index=True) if frames else empty_forecasts()
    return Evaluation(skill, forecasts, choice)


def published_frames(panel: CensusPanel, result: OriginResult, method: str) -> list[pd.DataFrame]:
    """The published method's forecast rows from one origin, and for each municipality it cannot
    forecast (enumerated once by the origin: those created since the last census) the rows of
    the first of ``UNFORECASTABLE_FALLBACKS`` that can, labelled with that method's name, so no
    municipality of the origin's census is left without a published forecast and none is
    imputed silently."""
    observed = observed_levels(panel, result.years)
    frames = []
    missing = np.isfinite(panel.level(result.origin))
    for name in (method, *(m for m in UNFORECASTABLE_FALLBACKS if m != method)):
        forecast = result.forecasts.get(name)
        if forecast is None or not missing.any():
            continue
        rows = forecast_frame(
            "depopulation", name, result.origin, panel.cve_mun, result.years, forecast, observed
        )
        frames.append(rows[rows["unit"].isin(set(panel.cve_mun[missing]))])
        missing &= ~np.isfinite(forecast.p50).any(axis=1)
    return frames


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


def remittance_quantiles(
    errors: list[tuple[int, int, float]], origin: int, horizons: np.ndarray, rule: str
) -> np.ndarray | None:
    """``[n_horizons, levels]`` quantiles of the absolute log error at each horizon, from every
    error realised by ``origin`` (:data:`~projections.methods.INTERVAL_RULES`); None with fewer
    than ``MIN_CALIBRATION_ERRORS``."""
    if rule not in INTERVAL_RULES:
        raise ValueError(f"interval rule: unknown {rule!r}; choose one of {INTERVAL_RULES}")
    known = [(horizon, error) for pseudo, horizon, error in errors if pseudo + horizon <= origin]
    if len(known) < rf.MIN_CALIBRATION_ERRORS:
        return None
    steps = np.array([horizon for horizon, _ in known], dtype=float)
    per_root_year = np.array([error for _, error in known])
    out = []
    for horizon in np.asarray(horizons, dtype=float):
        same = per_root_year[steps == horizon] * np.sqrt(horizon)
        if rule == PER_YEAR:
            quantiles = _profile(per_root_year / np.sqrt(steps)).pooled * horizon
        elif rule == PER_HORIZON and same.size >= MIN_HORIZON_ERRORS:
            quantiles = _profile(same).pooled
        else:
            quantiles = _profile(per_root_year).pooled * np.sqrt(horizon)
        out.append(quantiles)
    return np.stack(out)


def _profile(errors: np.ndarray) -> ErrorProfile:
    zeros = np.zeros(errors.size, dtype=int)
    return error_profile(errors, zeros, zeros)


def by_horizon(point: np.ndarray, quantiles: np.ndarray | None) -> Probabilistic:
    """The probabilistic forecast of one series (``point`` ``[1, n_horizons]``) with each
    horizon's quantiles of the absolute log error (``[n_horizons, levels]``; None: point only)."""
    if quantiles is None:
        return probabilistic(point, np.ones_like(point), None)
    parts = [
        probabilistic(point[:, [j]], np.ones((1, 1)), quantiles[j][None, :])
        for j in range(point.shape[1])
    ]

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(part, name) for part in parts], axis=1)

    return Probabilistic(
        *(joined(name) for name in ("p05", "p25", "p50", "p75", "p95")),
        log_ensemble=joined("log_ensemble"),
    )


def remittance_origin(
    data: rf.RemittanceData,
    origin: int,
    years: list[int],
    memo: PseudoForecasts | None = None,
    interval_rule: str = PER_ROOT_YEAR,
) -> OriginResult:
    """Forecast ``years`` from ``origin`` with every method, intervals by ``interval_rule``, and
    score the observed ones."""
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
    errors = realised_remittance_errors(data, origin, memo)
    base = float(data.remittances_usd[origin])
    forecasts = {
        method: by_horizon(
            np.exp(log_values)[None, :],
            remittance_quantiles(errors.get(method, []), origin, horizons, interval_rule),
        )
        for method, log_values in points.items()
    }
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


def remittance_selection_rows(
    data: rf.RemittanceData, memo: PseudoForecasts | None = None
) -> pd.DataFrame:
    """What the remittance rule may see: every method's skill at every pair with a target up to
    ``SELECTION_LAST_TARGET``, once per interval rule (column ``interval_rule``), computed on
    the data cut there."""
    limit = SELECTION_LAST_TARGET["remittances"]
    known = data.until(limit)
    memo = {} if memo is None else memo
    rows = []
    for origin in range(rf.FIRST_ORIGIN, known.last_year):
        years = [origin + h for h in range(1, rf.MAX_HORIZON + 1) if origin + h <= known.last_year]
        for rule in INTERVAL_RULES:
            result = remittance_origin(known, origin, years, memo, rule)
            rows += [{**row, "interval_rule": rule} for row in result.skill]
    frame = pd.DataFrame(rows, columns=[*skill_columns(), "interval_rule"])
    return selection_rows(frame, "remittances")


def remittance_choice(data: rf.RemittanceData, memo: PseudoForecasts | None = None) -> MethodChoice:
    """The published remittance method and interval rule
    (:func:`projections.selection.choose_remittance_method`)."""
    return choose_remittance_method(remittance_selection_rows(data, memo))


def evaluate_remittances(data: rf.RemittanceData) -> Evaluation:
    """Every origin from 2003 to the last year but one, 1–5 years ahead (scored), and the last
    year forecasting ``REMITTANCE_FUTURE_HORIZONS`` years (forecast only); the published method
    and interval rule chosen on the pairs up to 2012 (:mod:`projections.selection`)."""
    last = data.last_year
    memo: PseudoForecasts = {}
    choice = remittance_choice(data, memo)
    rule = choice.interval_rule or PER_ROOT_YEAR
    skill, frames = [], []
    for origin in range(rf.FIRST_ORIGIN, last + 1):
        if origin < last:
            years = [origin + h for h in range(1, rf.MAX_HORIZON + 1) if origin + h <= last]
        else:
            years = [origin + h for h in REMITTANCE_FUTURE_HORIZONS]
        result = remittance_origin(data, origin, years, memo, rule)
        skill.extend(result.skill)
        observed = np.array([[float(data.remittances_usd.get(year, np.nan)) for year in years]])
        frames.append(
            forecast_frame(
                "remittances",
                choice.method,
                origin,
                np.array(["national"]),
                years,
                result.forecasts[choice.method],
                observed,
            )
        )
    forecasts = pd.concat(frames, ignore_index=True) if frames else empty_forecasts()
    return Evaluation(pd.DataFrame(skill, columns=skill_columns()), forecasts, choice)


__all__ = [
    "BASELINES",
    "DAMPED_TREND",
    "SIZE_ALL",
    "Evaluation",
    "evaluate_depopulation",
    "evaluate_remittances",
]
