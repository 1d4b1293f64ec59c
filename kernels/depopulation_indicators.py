"""CONAPO's migration-intensity indicators turned into the depopulation kernel's unit rates.

CONAPO publishes, per municipality, the share of households with an emigrant to the US in the
five years before the census, with a return migrant, with a circular migrant and receiving
remittances. The kernel wants a crude annual emigration rate and a return share per unit.
"""

from __future__ import annotations

import numpy as np

from migsys.kernels._validate import as_float_array, check_range, unit_vector


def emigration_intensity_from_indicators(
    pct_households_emigrants: np.ndarray,
    households: np.ndarray,
    population: np.ndarray,
    period_years: float = 5.0,
) -> np.ndarray:
    """Crude annual emigration rate from CONAPO's share of households with emigrants.

    CONAPO counts households with at least one member who left for the US in the five years
    before the census; at one emigrant per such household this is
    pct/100 · households / population / period_years — a lower bound CONAPO itself uses as the
    emigration indicator; ``emigration_scale`` absorbs the level. Zero-population units get 0.
    """
    pct = as_float_array(pct_households_emigrants, "pct_households_emigrants", 1)
    check_range(pct, "pct_households_emigrants", 0.0, 100.0)
    households = unit_vector(households, "households", pct.shape[0])
    check_range(households, "households", 0.0, np.inf)
    population = unit_vector(population, "population", pct.shape[0])
    check_range(population, "population", 0.0, np.inf)
    if not period_years > 0:
        raise ValueError(f"period_years: must be > 0, got {period_years}")
    emigrants = pct / 100.0 * households
    rate = np.divide(
        emigrants, population * period_years, out=np.zeros_like(pct), where=population > 0
    )
    return np.minimum(rate, 1.0)


def return_intensity_from_indicators(
    pct_households_return: np.ndarray, pct_households_emigrants: np.ndarray
) -> np.ndarray:
    """Share of emigrants who return within five years: households with return migrants over
    households with emigrants (CONAPO indicators, same period), capped at 1; 0 without emigrants."""
    returns = as_float_array(pct_households_return, "pct_households_return", 1)
    check_range(returns, "pct_households_return", 0.0, 100.0)
    emigrants = unit_vector(pct_households_emigrants, "pct_households_emigrants", returns.shape[0])
    check_range(emigrants, "pct_households_emigrants", 0.0, 100.0)
    ratio = np.divide(returns, emigrants, out=np.zeros_like(returns), where=emigrants > 0)
    return np.minimum(ratio, 1.0)
