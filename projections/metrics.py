"""Backtest scores and the naive baselines a projection must beat.

Everything here is pure NumPy on aligned arrays (one entry per unit), so the scoring can be checked
on hand-made examples without a warehouse or a kernel.

Conventions
- Absolute percentage error (APE) of a projected level against the observed level, as a fraction
  (0.05 = 5 %); ``median_ape`` and ``mean_ape`` summarise it over units.
- Growth sign: a unit is *depopulating* over base→target when its population falls (growth < 0),
  the same rule as ``fct_municipal_growth.is_depopulating``. A projection gets a unit's sign right
  when it puts the unit on the same side of that rule as the observation. Zero growth therefore
  counts as "not depopulating", which gives the zero-growth baseline the share of growing units,
  not a free zero.
- Growth rates are continuous (log) annual rates: ``r = ln(P_end / P_start) / years``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ZERO_GROWTH = "zero_growth"
LAST_PERIOD_GROWTH = "last_period_growth"
NATIONAL_GROWTH = "national_growth"
BASELINE_METHODS = (ZERO_GROWTH, LAST_PERIOD_GROWTH, NATIONAL_GROWTH)


@dataclass(frozen=True)
class Scores:
    """How one projection of one target year compares with what was observed."""

    n_units: int
    median_ape: float
    mean_ape: float
    sign_share: float


def _as_positive_array(name: str, values: np.ndarray | float) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: every value must be finite (found NaN or infinite)")
    if np.any(array <= 0):
        raise ValueError(f"{name}: every value must be > 0 (a population or amount level)")
    return array


def annual_growth_rate(
    start: np.ndarray | float, end: np.ndarray | float, years: float
) -> np.ndarray:
    """Continuous annual growth rate between two positive levels ``years`` apart."""
    if years <= 0:
        raise ValueError(f"years: must be > 0, got {years}")
    start_a = _as_positive_array("start", start)
    end_a = _as_positive_array("end", end)
    return np.log(end_a / start_a) / years


def absolute_percentage_errors(projected: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """|projected − observed| / observed per unit, as fractions."""
    projected_a = np.asarray(projected, dtype=float)
    observed_a = _as_positive_array("observed", observed)
    if projected_a.shape != observed_a.shape:
        raise ValueError(
            f"projected: shape {projected_a.shape} does not match observed {observed_a.shape}"
        )
    if not np.all(np.isfinite(projected_a)):
        raise ValueError("projected: every value must be finite (found NaN or infinite)")
    return np.abs(projected_a - observed_a) / observed_a


def growth_sign_share(base: np.ndarray, projected: np.ndarray, observed: np.ndarray) -> float:
    """Share of units the projection puts on the observed side of 'depopulating' (growth < 0)."""
    base_a = np.asarray(base, dtype=float)
    projected_depopulating = np.asarray(projected, dtype=float) < base_a
    observed_depopulating = np.asarray(observed, dtype=float) < base_a
    return float(np.mean(projected_depopulating == observed_depopulating))


def score(base: np.ndarray, projected: np.ndarray, observed: np.ndarray) -> Scores:
    """APE summaries and sign share of one projection against the observed levels."""
    base_a = np.atleast_1d(np.asarray(base, dtype=float))
    projected_a = np.atleast_1d(np.asarray(projected, dtype=float))
    observed_a = np.atleast_1d(np.asarray(observed, dtype=float))
    if not (base_a.shape == projected_a.shape == observed_a.shape):
        raise ValueError(
            "base, projected, observed: shapes differ "
            f"({base_a.shape}, {projected_a.shape}, {observed_a.shape})"
        )
    if base_a.size == 0:
        raise ValueError("observed: no unit has both a base and an observed value to score")
    ape = absolute_percentage_errors(projected_a, observed_a)
    return Scores(
        n_units=int(base_a.size),
        median_ape=float(np.median(ape)),
        mean_ape=float(np.mean(ape)),
        sign_share=growth_sign_share(base_a, projected_a, observed_a),
    )


def zero_growth_projection(base: np.ndarray, years_ahead: float) -> np.ndarray:
    """Every unit keeps its base level."""
    del years_ahead  # same level whatever the horizon
    return np.asarray(base, dtype=float).copy()


def continued_growth_projection(
    base: np.ndarray, annual_rate: np.ndarray | float, years_ahead: float
) -> np.ndarray:
    """Each unit grows at ``annual_rate`` (its own, or one shared rate) for ``years_ahead`` years."""
    base_a = np.asarray(base, dtype=float)
    return base_a * np.exp(np.asarray(annual_rate, dtype=float) * years_ahead)


def baseline_projections(
    base: np.ndarray, previous: np.ndarray, period_years: float, years_ahead: float
) -> dict[str, np.ndarray]:
    """The three naive baselines from the last observed period ``previous → base``.

    - zero growth: the base level;
    - last period's growth continued: each unit's own ``previous → base`` rate;
    - national growth: the rate of the summed levels applied to every unit.
    """
    base_a = _as_positive_array("base", base)
    previous_a = _as_positive_array("previous", previous)
    own_rate = annual_growth_rate(previous_a, base_a, period_years)
    national_rate = annual_growth_rate(previous_a.sum(), base_a.sum(), period_years)
    return {
        ZERO_GROWTH: zero_growth_projection(base_a, years_ahead),
        LAST_PERIOD_GROWTH: continued_growth_projection(base_a, own_rate, years_ahead),
        NATIONAL_GROWTH: continued_growth_projection(base_a, national_rate, years_ahead),
    }
