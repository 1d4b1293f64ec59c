"""A learned correction of the baselines' average: its last realised errors, fitted on what the
files hold.

At an origin ``T`` the average of the simple extrapolations has already been wrong once where it
can be checked: from ``T′`` — the start of the later period the damped trend's persistence line is
fitted on (1995 at 2000, 2000 at 2005 and 2010, 2010 at 2020) — to ``T``. Its annual log error
over that period, ``e = ln(P_T / Â_{T′→T}) / (t_T − t_T′)``, is regressed (median regression, with
an intercept) on what was known of each municipality at ``T′``:

- its size (log population) and its growth over the period that ended at ``T′``;
- its state's growth over the same period;
- its share of men (the sex ratio of the enumeration);
- where a CONAPO index was published by ``T′``: the shares of households with emigrants, return
  migrants and remittances, and the log of persons per household.

At ``T`` the fitted line is read with the same predictors measured at ``T`` (the latest CONAPO
index up to ``T``; at 2020 the 2020 structure) and the average's forecast is moved by the
predicted error per year times the horizon. A unit missing a predictor keeps the average.

This is one of the candidates the published method is chosen from
(:mod:`projections.selection`); it knows only the data up to ``T``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from migsys.projections.baselines import (
    AVERAGE,
    baseline_forecasts,
    damped_fit_periods,
    damped_persistence,
)
from migsys.projections.depopulation import DepopulationData

INDICATOR_COLUMNS = (
    "pct_households_emigrants",
    "pct_households_return",
    "pct_households_remittances",
)
MIN_UNITS_PER_PREDICTOR = 20


@dataclass(frozen=True)
class Correction:
    """The median-regression line of the average's annual log error on standardised predictors."""

    training_origin: int  # T′: the forecast whose errors were learned started here
    origin: int  # T: the errors were realised here
    with_index: bool  # whether the CONAPO predictors are in the design
    used: np.ndarray  # [k] bool: the predictors that varied across units (the others dropped)
    center: np.ndarray
    spread: np.ndarray
    coefficients: np.ndarray  # intercept first

    def rate(self, data: DepopulationData, at: int) -> np.ndarray:
        """``[n_units]`` predicted annual log error of the average for a forecast from ``at``
        (0 where a predictor is missing)."""
        predictors = unit_predictors(data, at, self.with_index)[:, self.used]
        design = (predictors - self.center) / self.spread
        rate = self.coefficients[0] + design @ self.coefficients[1:]
        return np.where(np.isfinite(rate), rate, 0.0)


def unit_predictors(data: DepopulationData, at: int, with_index: bool) -> np.ndarray:
    """``[n_units, k]`` predictors of every unit as known at the enumeration ``at`` (module
    doc); NaN where a unit lacks one."""
    known = data.until(at)
    panel = known.panel
    earlier = [year for year in panel.years if year < at]
    if not earlier:
        raise ValueError(f"learned correction: no enumeration before {at} to measure growth")
    previous = earlier[-1]
    states, totals = panel.state_totals()
    with np.errstate(divide="ignore", invalid="ignore"):
        state_growth = np.log(totals[:, panel.column(at)] / totals[:, panel.column(previous)]) / (
            panel.date(at) - panel.date(previous)
        )
        columns = [
            np.log(panel.level(at)),
            panel.growth_rate(previous, at),
            state_growth[panel.state_of_rows()],
            known.male_share[:, panel.column(at)],
        ]
    if with_index:
        year = known.index_year()
        if year is None:
            raise ValueError(f"learned correction: no CONAPO index published by {at}")
        table = (
            known.indicators[known.indicators["index_year"] == year]
            .set_index("cve_mun")
            .reindex(panel.cve_mun)
        )
        columns += [table[name].to_numpy(float) / 100.0 for name in INDICATOR_COLUMNS]
        population = (
            panel.level(year) if year in panel.years else np.full(panel.cve_mun.size, np.nan)
        )
        households = table["households"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            columns.append(np.log(population / households))
    design = np.column_stack(columns)
    design[~np.isfinite(design)] = np.nan
    return design


def _median_regression(design: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    from statsmodels.regression.quantile_regression import QuantReg
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, IterationLimitWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", IterationLimitWarning)
        return np.asarray(QuantReg(outcome, design).fit(q=0.5, max_iter=5000).params)


def fit_correction(data: DepopulationData, origin: int) -> Correction | None:
    """The correction learned at ``origin`` from the data up to it, or None where it cannot be
    (fewer than three enumerations, or too few units with every predictor)."""
    known = data.until(origin)
    panel = known.panel
    periods = damped_fit_periods(panel, origin)
    if periods is None:
        return None
    training = periods[1][0]
    if not [year for year in panel.years if year < training]:
        return None
    line = damped_persistence(panel, origin)
    average = baseline_forecasts(
        panel.until(training), training, np.array([panel.date(origin)]), fallback_line=line
    )[AVERAGE][:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.log(panel.level(origin) / average) / (panel.date(origin) - panel.date(training))
    with_index = known.until(training).index_year() is not None
    design = unit_predictors(known, training, with_index)
    usable = np.all(np.isfinite(design), axis=1) & np.isfinite(error)
    if usable.sum() < MIN_UNITS_PER_PREDICTOR * (design.shape[1] + 1):
        return None
    center = design[usable].mean(axis=0)
    spread = design[usable].std(axis=0)
    # a predictor the same for every unit (one state in the data) says nothing about any of them
    used = spread > 1e-9 * np.maximum(np.abs(center), 1.0)
    center, spread = center[used], spread[used]
    standard = (design[usable][:, used] - center) / spread
    coefficients = _median_regression(
        np.column_stack([np.ones(int(usable.sum())), standard]), error[usable]
    )
    return Correction(training, origin, with_index, used, center, spread, coefficients)


def corrected_average(
    data: DepopulationData, origin: int, average: np.ndarray, horizons: np.ndarray
) -> np.ndarray:
    """``average`` (``[n_units, n_targets]`` levels from ``origin``) moved by the correction
    learned at ``origin``; the average itself where none can be learned."""
    correction = fit_correction(data, origin)
    if correction is None:
        return average.copy()
    rate = correction.rate(data.until(origin), origin)
    return average * np.exp(rate[:, None] * np.asarray(horizons, dtype=float)[None, :])
