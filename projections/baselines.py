"""The simple extrapolations small-area demographers use, which a projection must beat.

Smith, Tayman & Swanson (2013, *A Practitioner's Guide to State and Local Population
Projections*, ch. 13) and Wilson (2015) evaluate these on the same units as any model:

- ``zero_growth`` — the origin level;
- ``linear`` — the absolute change of the base period continued (floored at one person: a
  straight line can cross zero, a population cannot);
- ``exponential`` — the continuous growth rate of the base period continued;
- ``share_of_state`` — the municipality keeps its share of its state, whose total follows its
  own exponential trend over the same base (the constant-share method);
- ``damped_trend`` — the damped trend as the field defines it, on census decades: the annual
  growth ``r`` of the latest census-to-census decade up to the origin (1990–2000 at 2000 and at
  2005, 2000–2010 at 2010, 2010–2020 at 2020; a *Conteo* endpoint only where no census decade
  exists, 1990–1995 at 1995) becomes ``r′ = a + b r``, where ``a`` and ``b`` are the
  least-absolute-deviations intercept and slope of one period's growth on the previous period's,
  both before the origin: two consecutive census decades where they exist (2000–10 on 1990–2000
  at 2010), else the last two periods between enumerations (1995–2000 on 1990–95 at 2000);
  ``b`` is the persistence;
- ``average`` — the equal-weight mean of the above, level by level.

Every baseline starts from the origin's enumeration. The base period of the other trends is the
ten years before the origin (1990–2000 for an origin in 2000; 1995–2005 for 2005), or the one
earlier period there is (1990–1995 for 1995). Every rate divides by the exact time between the
reference dates (the 1995 count came 5.65 years after the 1990 census and 4.28 before the 2000
one). Each function takes a panel already cut at the origin and returns ``[n_units, n_targets]``
levels, NaN where the unit lacks what the method needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from migsys.projections.census import CENSUS, CensusPanel, base_start

ZERO_GROWTH = "zero_growth"
LINEAR = "linear"
EXPONENTIAL = "exponential"
SHARE_OF_STATE = "share_of_state"
DAMPED_TREND = "damped_trend"
AVERAGE = "average"
SINGLE_BASELINES = (ZERO_GROWTH, LINEAR, EXPONENTIAL, SHARE_OF_STATE, DAMPED_TREND)
BASELINES = (*SINGLE_BASELINES, AVERAGE)
LINEAR_FLOOR = 1.0  # persons
CENSUS_DECADE = 10  # nominal years between two censuses of the field's damped trend


def lad_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope minimising Σ|y − a − b x| (exact, as a linear programme)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3:
        raise ValueError(f"lad_line: need at least 3 finite pairs, got {x.size}")
    n = x.size
    design = sparse.csr_matrix(np.column_stack([np.ones(n), x]))
    identity = sparse.eye(n, format="csr")
    result = linprog(
        np.r_[0.0, 0.0, np.ones(2 * n)],
        A_eq=sparse.hstack([design, identity, -identity]),
        b_eq=y,
        bounds=[(None, None)] * 2 + [(0, None)] * (2 * n),
        method="highs",
    )
    if not result.success:
        raise ValueError(f"lad_line: the linear programme failed ({result.message})")
    return float(result.x[0]), float(result.x[1])


@dataclass(frozen=True)
class BasePeriod:
    """What the trend baselines read at one origin."""

    origin: int
    start: int
    years: float  # exact time between the two reference dates
    level: np.ndarray  # [n_units] origin population
    start_level: np.ndarray  # [n_units] base-start population
    rate: np.ndarray  # [n_units] continuous annual growth over the base

    @classmethod
    def of(cls, panel: CensusPanel, origin: int) -> BasePeriod:
        start = base_start(panel, origin)
        years = panel.date(origin) - panel.date(start)
        rate = panel.growth_rate(start, origin)
        return cls(origin, start, years, panel.level(origin), panel.level(start), rate)


def _horizons(panel: CensusPanel, origin: int, target_dates: np.ndarray) -> np.ndarray:
    horizons = np.asarray(target_dates, dtype=float) - panel.date(origin)
    if np.any(horizons <= 0):
        raise ValueError(f"target dates: every target must come after the origin {origin}")
    return horizons


def census_decades(panel: CensusPanel, origin: int) -> list[tuple[int, int]]:
    """Consecutive census pairs ten (nominal) years apart, up to ``origin``, in time order."""
    censuses = [y for y in panel.years if y <= origin and panel.kind(y) == CENSUS]
    return [
        (earlier, later)
        for earlier, later in zip(censuses[:-1], censuses[1:], strict=True)
        if later - earlier == CENSUS_DECADE
    ]


def damped_base(panel: CensusPanel, origin: int) -> tuple[int, int]:
    """(start, end) of the growth the damped trend extrapolates at ``origin``: the latest census
    decade up to it, else (no census decade) the base period of the other trends."""
    decades = census_decades(panel, origin)
    return decades[-1] if decades else (base_start(panel, origin), origin)


def damped_fit_periods(
    panel: CensusPanel, origin: int
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The two consecutive periods whose growth rates the persistence line is fitted on: the
    last two census decades up to ``origin`` where they exist, else the periods between the last
    three enumerations; None with fewer than three enumerations."""
    decades = census_decades(panel, origin)
    if len(decades) >= 2 and decades[-2][1] == decades[-1][0]:
        return decades[-2], decades[-1]
    years = [year for year in panel.years if year <= origin]
    if len(years) < 3:
        return None
    first, middle, last = years[-3:]
    return (first, middle), (middle, last)


def damped_persistence(panel: CensusPanel, origin: int) -> tuple[float, float] | None:
    """(a, b) of the LAD line of a period's growth on the previous period's
    (:func:`damped_fit_periods`), or None with fewer than three enumerations up to ``origin``."""
    periods = damped_fit_periods(panel, origin)
    if periods is None:
        return None
    earlier, later = periods
    return lad_line(panel.growth_rate(*earlier), panel.growth_rate(*later))


def damped_trend(
    panel: CensusPanel, origin: int, horizons: np.ndarray, line: tuple[float, float]
) -> np.ndarray:
    """``[n_units, n_targets]`` levels: the origin level grown at ``a + b r`` (module doc)."""
    intercept, slope = line
    rate = panel.growth_rate(*damped_base(panel, origin))[:, None]
    return panel.level(origin)[:, None] * np.exp((intercept + slope * rate) * horizons)


def baseline_forecasts(
    panel: CensusPanel,
    origin: int,
    target_dates: np.ndarray,
    fallback_line: tuple[float, float] | None = None,
) -> dict[str, np.ndarray]:
    """Every baseline available at ``origin``: ``{method: [n_units, n_targets]}`` levels.

    ``panel`` may extend past the origin; only enumerations up to it are read. A unit lacks a
    method's forecast (NaN) where it was not enumerated at what the method reads. The damped
    trend needs three enumerations up to the origin; with fewer it uses ``fallback_line`` (the line a
    later origin estimated, for the errors that calibrate its intervals) or is left out.
    """
    known = panel.until(origin)
    horizons = _horizons(known, origin, target_dates)[None, :]
    base = BasePeriod.of(known, origin)
    level = base.level[:, None]
    rate = base.rate[:, None]
    forecasts = {
        ZERO_GROWTH: np.repeat(level, horizons.shape[1], axis=1),
        LINEAR: np.maximum(
            level + (level - base.start_level[:, None]) / base.years * horizons, LINEAR_FLOOR
        ),
        EXPONENTIAL: level * np.exp(rate * horizons),
    }
    states, totals = known.state_totals()
    state_rate = np.log(totals[:, known.column(origin)] / totals[:, known.column(base.start)])
    state_rate = (state_rate / base.years)[known.state_of_rows()]
    forecasts[SHARE_OF_STATE] = level * np.exp(state_rate[:, None] * horizons)
    line = damped_persistence(known, origin) or fallback_line
    if line is not None:
        forecasts[DAMPED_TREND] = damped_trend(known, origin, horizons, line)
    forecasts[AVERAGE] = np.mean(np.stack(list(forecasts.values())), axis=0)
    # a unit without a base-start population has no trend: NaN, never a silent zero-growth
    no_base = ~np.isfinite(base.rate)
    for values in forecasts.values():
        values[no_base, :] = np.nan
    return forecasts
