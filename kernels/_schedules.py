"""Age schedules shared by the Numba kernels: life table from life expectancy, Rogers–Castro
emigration schedule, fertility age pattern. Each is a small ``@njit`` function writing into a
caller-allocated array; their NumPy twins live in :mod:`kernels.reference`.

Age grid: 18 five-year groups 0–4, 5–9, …, 80–84, 85+ (see :mod:`kernels.depopulation` for why).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

N_AGES = 18
N_SEXES = 2
MALE = 0
FEMALE = 1
STEP_YEARS = 5
FIRST_AGE_65 = 13
FIRST_FERTILE = 3  # 15–19
LAST_FERTILE = 9  # 45–49
FERTILITY_SD_YEARS = 6.0
E0_CAP = 95.0
LIFE_TABLE_TOP_AGE = 110

# Siler (1979) competing-hazard shape mu(x) = a1 exp(-b1 x) + a2 + a3 exp(b3 x): infant/child,
# constant and Gompertz senescent components. Its level is scaled by k (proportional hazards) so
# that the life expectancy matches the path; the shape constants give e0 near 78 at k = 1 and an
# age pattern close to Mexican life tables of 2000 (infant q0 about 0.03, Gompertz slope 0.1).
SILER_SHAPE = (0.04, 1.0, 0.0003, 0.00003, 0.1)


def standard_cumulative_hazard() -> np.ndarray:
    """Cumulative Siler hazard H(x) at single ages 0..110 (closed form), float64."""
    a1, b1, a2, a3, b3 = SILER_SHAPE
    ages = np.arange(LIFE_TABLE_TOP_AGE + 1, dtype=np.float64)
    return a1 / b1 * (1.0 - np.exp(-b1 * ages)) + a2 * ages + a3 / b3 * (np.exp(b3 * ages) - 1.0)


@njit(cache=True)
def hazard_level_for_e0(e0: float, hazard: np.ndarray) -> float:
    """Level k such that l(x) = exp(-k H(x)) has life expectancy ``e0`` (Newton on log k).

    e0(k) is the trapezoid integral of l over ages 0..110; its derivative is -∫ H l, so Newton
    converges in a handful of iterations from k = 1.
    """
    log_k = 0.0
    for _ in range(200):
        k = math.exp(log_k)
        expectancy = 0.0
        slope = 0.0
        previous_l = math.exp(-k * hazard[0])
        for x in range(hazard.shape[0] - 1):
            next_l = math.exp(-k * hazard[x + 1])
            expectancy += 0.5 * (previous_l + next_l)
            slope += 0.5 * (hazard[x] * previous_l + hazard[x + 1] * next_l)
            previous_l = next_l
        step = (expectancy - e0) / (k * slope)
        step = min(2.0, max(-2.0, step))
        log_k += step
        if abs(step) < 1e-14:
            break
    return math.exp(log_k)


@njit(cache=True)
def person_years_by_group(e0: float, hazard: np.ndarray, out: np.ndarray) -> None:
    """Person-years 5L(a) of the life table with life expectancy ``e0`` for the 22 five-year groups
    0–4 … 105–109 into ``out`` (radix 1; trapezoid over single years)."""
    k = hazard_level_for_e0(e0, hazard)
    for group in range(out.shape[0]):
        total = 0.0
        for x in range(group * STEP_YEARS, (group + 1) * STEP_YEARS):
            total += 0.5 * (math.exp(-k * hazard[x]) + math.exp(-k * hazard[x + 1]))
        out[group] = total


@njit(cache=True)
def survival_ratios(e0: float, hazard: np.ndarray, out: np.ndarray) -> float:
    """Five-year survival ratios for the 18 groups into ``out``; returns the births' ratio.

    ``out[a]`` (a < 16) = 5L(a+1)/5L(a): share of group a alive five years later in group a+1;
    ``out[16] = out[17]`` = T(90)/T(80), the usual open-interval ratio for 80–84 and 85+ moving into
    85+ (Preston, Heuveline and Guillot 2001, ch. 6). Births over five years survive to 0–4 with
    5L(0)/5.
    """
    n_groups = (hazard.shape[0] - 1) // STEP_YEARS
    person_years = np.empty(n_groups)
    person_years_by_group(e0, hazard, person_years)
    for group in range(N_AGES - 2):
        out[group] = person_years[group + 1] / person_years[group]
    above_80 = 0.0
    above_90 = 0.0
    for group in range(N_AGES - 2, n_groups):
        above_80 += person_years[group]
        if group >= N_AGES:
            above_90 += person_years[group]
    out[N_AGES - 2] = above_90 / above_80
    out[N_AGES - 1] = above_90 / above_80
    return person_years[0] / STEP_YEARS


@njit(cache=True)
def rogers_castro_schedule(
    peak_age: float,
    rise: float,
    fall: float,
    child_level: float,
    baseline_level: float,
    out: np.ndarray,
) -> None:
    """Rogers–Castro (1981) schedule by five-year group into ``out``, normalised to mean 1.

    M(x) = a1 exp(-alpha1 x) + exp(-alpha2 (x - mu2) - exp(-lambda2 (x - mu2))) + c with a2 = 1,
    alpha1 = alpha2 (the regularity Rogers and Castro report); each group's value is the mean at
    its five single-year midpoints. Mean 1 over the groups makes a unit's intensity its crude
    annual emigration rate under a uniform age distribution.
    """
    total = 0.0
    for group in range(N_AGES):
        value = 0.0
        for offset in range(STEP_YEARS):
            x = group * STEP_YEARS + offset + 0.5
            value += (
                child_level * math.exp(-fall * x)
                + math.exp(-fall * (x - peak_age) - math.exp(-rise * (x - peak_age)))
                + baseline_level
            )
        out[group] = value / STEP_YEARS
        total += out[group]
    mean = total / N_AGES
    for group in range(N_AGES):
        out[group] = out[group] / mean


@njit(cache=True)
def fertility_weights(mean_age: float, out: np.ndarray) -> None:
    """Share of a woman's lifetime births in each five-year group into ``out`` (sums to 1).

    A Gaussian of sd 6 years centred on the mean age of childbearing, evaluated at group midpoints
    15–49 and normalised: a one-parameter stand-in for the Hadwiger/gamma schedules whose shape
    moves with the mean age, which is what the sweeps vary.
    """
    total = 0.0
    for group in range(N_AGES):
        out[group] = 0.0
        if FIRST_FERTILE <= group <= LAST_FERTILE:
            z = (group * STEP_YEARS + 2.5 - mean_age) / FERTILITY_SD_YEARS
            out[group] = math.exp(-0.5 * z * z)
            total += out[group]
    for group in range(N_AGES):
        out[group] = out[group] / total
