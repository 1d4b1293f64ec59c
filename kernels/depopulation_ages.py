"""Starting age structures for units known only by their totals: stable and quasi-stable.

The census files give municipal totals by sex, not by age, so a unit's age structure has to be
implied by its rates:

- :func:`stable_age_shares` — the *stable population* of the unit's base-year fertility,
  mortality, emigration and returns held constant: the dominant eigenvector of one projection
  step, found by power iteration with the kernel's own step (:mod:`kernels.depopulation_step`),
  the discrete counterpart of Lotka's stable population and exact for this model;
- :func:`quasi_stable_age_shares` — the structure of a population that has grown at its
  *observed* rate under the base-year mortality and emigration (Coale's quasi-stable population).
  Mexico's fertility more than halved between 1970 and 2000, so the stable structure of 2000
  rates is far older than the real one (65+ about 13 % against the census's 5 %); the
  quasi-stable structure at the observed intercensal growth is the recommended choice for real
  municipalities.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from migsys.kernels._schedules import (
    FEMALE,
    MALE,
    N_AGES,
    N_SEXES,
    STEP_YEARS,
    standard_cumulative_hazard,
)
from migsys.kernels.depopulation_step import (
    E0_GAIN,
    EMIGRATION_TREND,
    N_CELLS,
    RETURN_SCALE,
    SEX_RATIO_BIRTH,
    TFR_BASE,
    TFR_TARGET,
    age_and_bear_block,
    migrate_block,
    scenario_schedules,
)

POWER_ITERATION_TOLERANCE = 1e-14
POWER_ITERATION_MAX_STEPS = 20_000


def base_rate_schedules(params_row: np.ndarray) -> tuple:
    """Schedules of the base-year rates held constant (no life-expectancy gain, fertility at
    ``tfr_base``, no emigration trend): survival ``[36]``, birth survival ``[2]``, TFR,
    emigration ``[36]``, fertility weights ``[18]``, male share of births."""
    row = np.array(params_row, dtype=np.float64)
    row[E0_GAIN] = 0.0
    row[TFR_TARGET] = row[TFR_BASE]
    row[EMIGRATION_TREND] = 0.0
    survival = np.empty((1, N_SEXES, N_AGES))
    birth_survival = np.empty((1, N_SEXES))
    tfr = np.empty(1)
    emigration = np.empty((1, N_SEXES, N_AGES))
    weights = np.empty(N_AGES)
    scenario_schedules(
        row, standard_cumulative_hazard(), 1, survival, birth_survival, tfr, emigration, weights
    )
    male_birth_share = row[SEX_RATIO_BIRTH] / (1.0 + row[SEX_RATIO_BIRTH])
    return (
        survival[0].reshape(N_CELLS),
        birth_survival[0],
        float(tfr[0]),
        emigration[0].reshape(N_CELLS),
        weights,
        male_birth_share,
    )


@njit(cache=True)
def _stable_shares(
    intensity: np.ndarray,
    return_share: np.ndarray,
    survival: np.ndarray,
    birth_survival: np.ndarray,
    tfr: float,
    emigration: np.ndarray,
    weights: np.ndarray,
    male_birth_share: float,
    out: np.ndarray,
) -> None:
    """Power iteration of all units at once (``out`` is ``[36 cells, n_units]``): repeat the
    kernel's step and renormalise each unit until no share moves by more than the tolerance
    (the subdominant root of a five-year Leslie matrix is about 0.8–0.9 of the dominant one, so
    a few hundred steps suffice)."""
    n_units = intensity.shape[0]
    current = np.full((N_CELLS, n_units), 1.0 / N_CELLS)
    following = np.empty((N_CELLS, n_units))
    stayers = np.empty((N_CELLS, n_units))
    scratch = np.empty((4, n_units))
    for _ in range(POWER_ITERATION_MAX_STEPS):
        migrate_block(
            n_units, current, intensity, return_share, emigration, stayers, scratch[0], scratch[1]
        )
        age_and_bear_block(
            n_units,
            stayers,
            survival,
            birth_survival,
            tfr,
            weights,
            male_birth_share,
            following,
            scratch[2],
            scratch[3],
        )
        change = 0.0
        for unit in range(n_units):
            total = 0.0
            for cell in range(N_CELLS):
                total += following[cell, unit]
            for cell in range(N_CELLS):
                following[cell, unit] /= total
                change = max(change, abs(following[cell, unit] - current[cell, unit]))
        current, following = following, current
        if change < POWER_ITERATION_TOLERANCE:
            break
    out[:, :] = current


def stable_age_shares(
    params_row: np.ndarray, emigration_intensity: np.ndarray, return_intensity: np.ndarray
) -> np.ndarray:
    """Age-sex shares ``[n_units, 2, 18]`` (summing to 1 per unit) of each unit's stable population.

    The stable population of a unit is the dominant eigenvector of one projection step under its
    base-year rates held constant (no life-expectancy gain, fertility at ``tfr_base``, no
    emigration trend): the age structure that the unit's own fertility, mortality and net
    emigration reproduce exactly, growing or shrinking by the same factor every five years.
    """
    if not params_row[TFR_BASE] > 0:
        raise ValueError(
            "params: tfr_base must be > 0 to derive a stable age structure, "
            f"got {params_row[TFR_BASE]}"
        )
    survival, birth_survival, tfr, emigration, weights, male_births = base_rate_schedules(
        params_row
    )
    return_share = np.minimum(1.0, params_row[RETURN_SCALE] * return_intensity)
    shares = np.empty((N_CELLS, emigration_intensity.shape[0]))
    _stable_shares(
        np.ascontiguousarray(emigration_intensity, dtype=np.float64),
        np.ascontiguousarray(return_share, dtype=np.float64),
        survival,
        birth_survival,
        tfr,
        emigration,
        weights,
        male_births,
        shares,
    )
    return np.ascontiguousarray(shares.T).reshape(-1, N_SEXES, N_AGES)


def quasi_stable_age_shares(
    params_row: np.ndarray,
    emigration_intensity: np.ndarray,
    return_intensity: np.ndarray,
    growth_rate: np.ndarray,
) -> np.ndarray:
    """Age-sex shares ``[n_units, 2, 18]`` of the population that has grown at the observed
    annual ``growth_rate`` under the base-year mortality and net emigration (quasi-stable).

    In the kernel's discrete terms, with λ = exp(5 r), stayer fraction g_a = 1 − q_a (1 − ρ) and
    survival s_a: P_{a+1} = P_a g_a s_a / λ, the open group P_85+ = P_80 g_80 s_80 / (λ − g_85
    s_85), and boys/girls at 0–4 in the ratio of births surviving.
    """
    survival, birth_survival, _, emigration, _, male_births = base_rate_schedules(params_row)
    survival = survival.reshape(N_SEXES, N_AGES)
    emigration = emigration.reshape(N_SEXES, N_AGES)
    return_share = np.minimum(1.0, params_row[RETURN_SCALE] * return_intensity)
    five_year_rate = STEP_YEARS * emigration_intensity[:, None, None] * emigration[None]
    leaving = np.minimum(1.0, five_year_rate / (1.0 + 0.5 * five_year_rate))
    carried = (1.0 - leaving * (1.0 - return_share[:, None, None])) * survival[None]
    factor = np.exp(STEP_YEARS * growth_rate)[:, None, None]
    denominator = factor[:, :, 0] - carried[:, :, N_AGES - 1]
    if (denominator <= 0).any():
        unit = int(np.argwhere(denominator <= 0)[0, 0])
        raise ValueError(
            f"growth_rate: {growth_rate[unit]} at unit {unit} is too low for a quasi-stable "
            "structure (the open age group would have to grow)"
        )
    shares = np.empty((emigration_intensity.shape[0], N_SEXES, N_AGES))
    shares[:, MALE, 0] = male_births * birth_survival[MALE]
    shares[:, FEMALE, 0] = (1.0 - male_births) * birth_survival[FEMALE]
    ratios = carried[:, :, : N_AGES - 2] / factor
    shares[:, :, 1 : N_AGES - 1] = shares[:, :, :1] * np.cumprod(ratios, axis=2)
    shares[:, :, N_AGES - 1] = shares[:, :, N_AGES - 2] * carried[:, :, N_AGES - 2] / denominator
    return shares / shares.sum(axis=(1, 2), keepdims=True)
