"""How well could any forecast made from these files have done? A hindsight bound, never a forecast.

At an origin, a forecast of a municipality's growth can only be a function of what the data held
then: its growth over every period up to the origin, its size at the origin, the CONAPO
indicators published by then (emigrant, return and remittance-receiving households) and its
state. The bound fits the *realised* growth from the origin to the target on those predictors —
median regression with the squares of the growth rates and of log size and a fixed effect per
state — and scores it out of fold: every municipality is predicted by a fit on the other
municipalities' realised outcomes (``FOLDS`` folds).

No method working at the origin knows how those predictors relate to the coming period better than
a fit on that period's own outcomes, so the out-of-fold MdAPE is a floor for forecasts built from
these predictors: when it sits above 0.9 × the best baseline's, a forecast that is 10 % better
than the baselines cannot be built from these files, however it is tuned. The same goes for the
share of units whose growth direction it gets right. A different predictor
(municipal age structure, registered births and deaths, a later migration index) could move the
floor; a cleverer use of these cannot move it much.

It reads the outcome by design: ``make bench`` reports it beside the skill ratios, and nothing
writes it to the forecast marts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from migsys.projections.baselines import BasePeriod
from migsys.projections.depopulation import DepopulationData

FOLDS = 10
SEED = 0
INDICATOR_COLUMNS = (
    "pct_households_emigrants",
    "pct_households_return",
    "pct_households_remittances",
)


@dataclass(frozen=True)
class HindsightBound:
    """MdAPE (fractions) of the hindsight fit of one origin/target pair, and the share of units
    it puts on the observed side of "population fell" (the skill mart's direction rule)."""

    origin: int
    target: int
    n_units: int
    in_sample_mdape: float
    out_of_fold_mdape: float
    out_of_fold_direction: float


def _period_rates(data: DepopulationData, origin: int) -> list[np.ndarray]:
    """Annual log growth of every period between enumerations up to ``origin``, and over the
    base period the baselines extrapolate."""
    panel = data.panel.until(origin)
    rates = [
        panel.growth_rate(earlier, later)
        for earlier, later in zip(panel.years[:-1], panel.years[1:], strict=True)
    ]
    rates.append(BasePeriod.of(panel, origin).rate)
    return rates


def _indicators(data: DepopulationData, origin: int) -> np.ndarray:
    """``[n_units, 4]``: the latest CONAPO indicators up to ``origin`` (shares, 0 where absent)
    and a flag for the units without them."""
    known = data.until(origin)
    year = known.index_year()
    n_units = data.panel.cve_mun.size
    if year is None:
        return np.zeros((n_units, 0))
    table = (
        known.indicators[known.indicators["index_year"] == year]
        .set_index("cve_mun")
        .reindex(data.panel.cve_mun)
    )
    values = table[list(INDICATOR_COLUMNS)].to_numpy(float) / 100.0
    missing = ~np.all(np.isfinite(values), axis=1)
    return np.column_stack([np.nan_to_num(values), missing.astype(float)])


def predictors(data: DepopulationData, origin: int) -> np.ndarray:
    """``[n_units, k]`` design of everything known at ``origin`` (module docstring)."""
    panel = data.panel
    log_size = np.log(panel.level(origin))
    rates = _period_rates(data, origin)
    states = np.unique(panel.cve_ent)
    # one state is the reference level of the intercept the fit adds
    state_effects = (panel.cve_ent[:, None] == states[None, 1:]).astype(float)
    # a period a unit was not enumerated in (created since) is a 0 with a flag, not a lost unit
    gaps = [~np.isfinite(values) for values in rates[:-1]]
    rates = [np.where(np.isfinite(values), values, 0.0) for values in rates[:-1]] + rates[-1:]
    smooth = [log_size, *rates]
    return np.column_stack(
        [
            *smooth,
            *(values**2 for values in smooth),
            *(gap.astype(float) for gap in gaps if gap.any()),
            _indicators(data, origin),
            state_effects,
        ]
    )


def _median_fit(design: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    from statsmodels.regression.quantile_regression import QuantReg
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, IterationLimitWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", IterationLimitWarning)
        return QuantReg(outcome, design).fit(q=0.5, max_iter=5000).params


def hindsight_bound(
    data: DepopulationData, origin: int, target: int, folds: int = FOLDS, seed: int = SEED
) -> HindsightBound:
    """The hindsight bound of ``origin → target`` over the units the evaluation scores there
    (enumerated at the base start, the origin and the target)."""
    panel = data.panel
    if origin not in panel.years or target not in panel.years or target <= origin:
        raise ValueError(
            f"hindsight bound: {origin} -> {target} must be two enumerations in order "
            f"(years: {list(panel.years)})"
        )
    start = BasePeriod.of(panel.until(origin), origin).start
    design = predictors(data, origin)
    horizon = panel.date(target) - panel.date(origin)
    with np.errstate(invalid="ignore", divide="ignore"):
        outcome = np.log(panel.level(target) / panel.level(origin)) / horizon
    scored = (
        np.isfinite(panel.level(start))
        & np.isfinite(panel.level(origin))
        & np.isfinite(panel.level(target))
        & np.all(np.isfinite(design), axis=1)
    )
    design, outcome = design[scored], outcome[scored]
    design = design[:, np.ptp(design, axis=0) > 0]  # drop constant columns (empty states)
    design = np.column_stack([np.ones(outcome.size), design])
    if outcome.size < 5 * design.shape[1]:
        raise ValueError(
            f"hindsight bound: {outcome.size} units for {design.shape[1]} predictors at "
            f"{origin} -> {target}; too few to fit"
        )

    def mdape(predicted_rate: np.ndarray) -> float:
        return float(np.median(np.abs(np.expm1((predicted_rate - outcome) * horizon))))

    in_sample = mdape(design @ _median_fit(design, outcome))
    fold = np.random.default_rng(seed).integers(0, folds, outcome.size)
    predicted = np.empty(outcome.size)
    for number in range(folds):
        held = fold == number
        predicted[held] = design[held] @ _median_fit(design[~held], outcome[~held])
    direction = float(np.mean((predicted < 0) == (outcome < 0)))
    return HindsightBound(origin, target, int(outcome.size), in_sample, mdape(predicted), direction)
