"""The one projection step of the depopulation kernel, for a block of units at a time.

Every function here is Numba-compiled and writes into caller-allocated arrays. The kernel
(:mod:`kernels.depopulation`) and the stable-population demography
(:mod:`kernels.depopulation_ages`) both advance populations with :func:`migrate_block` and
:func:`age_and_bear_block`, so there is a single implementation of the step; the plain-NumPy twin
in :mod:`kernels.reference` is written independently and tests compare the two.

State layout: ``[36 cells, block]`` with cell = sex * 18 + age group, so the innermost loops run
over units with unit stride. The step is described in :mod:`kernels.depopulation`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from migsys.kernels._schedules import (
    FEMALE,
    FIRST_AGE_65,
    FIRST_FERTILE,
    LAST_FERTILE,
    MALE,
    N_AGES,
    N_SEXES,
    STEP_YEARS,
    fertility_weights,
    rogers_castro_schedule,
    survival_ratios,
)

# Column order of ``params`` (kernels.defaults.DEPOPULATION_PARAMETERS); a test pins it.
(
    E0_FEMALE_BASE,
    E0_MALE_BASE,
    E0_GAIN,
    TFR_BASE,
    TFR_TARGET,
    TFR_SPEED,
    MEAN_AGE_CHILDBEARING,
    SEX_RATIO_BIRTH,
    EMIGRATION_SCALE,
    EMIGRATION_TREND,
    EMIGRATION_FEMALE_RATIO,
    RC_PEAK_AGE,
    RC_RISE,
    RC_FALL,
    RC_CHILD_LEVEL,
    RC_BASELINE_LEVEL,
    RETURN_SCALE,
    GROWTH_SHOCK_SD,
) = range(18)
N_CELLS = N_SEXES * N_AGES

N_COMPONENTS = 5  # births, deaths, emigrants, returns, growth shock
SHOCK_STREAM = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio increment of splitmix64
TWO_TO_53 = 9007199254740992.0

# Units are projected in blocks so that a block's state (3 arrays of 36 × BLOCK doubles, about
# 220 kB) stays in the core's L2 cache across the ten steps: without blocking the state of all
# 2,456 municipalities (2 MB) streams from memory every step and two threads fight for it.
UNIT_BLOCK = 256


@njit(cache=True)
def scenario_schedules(
    row: np.ndarray,
    hazard: np.ndarray,
    n_steps: int,
    survival: np.ndarray,
    birth_survival: np.ndarray,
    tfr: np.ndarray,
    emigration: np.ndarray,
    weights: np.ndarray,
) -> None:
    """Per-step schedules of one scenario (no unit dependence) into the given arrays."""
    schedule = np.empty(N_AGES)
    rogers_castro_schedule(
        row[RC_PEAK_AGE],
        row[RC_RISE],
        row[RC_FALL],
        row[RC_CHILD_LEVEL],
        row[RC_BASELINE_LEVEL],
        schedule,
    )
    fertility_weights(row[MEAN_AGE_CHILDBEARING], weights)
    ratio = row[EMIGRATION_FEMALE_RATIO]
    male_factor = 2.0 / (1.0 + ratio)
    female_factor = 2.0 * ratio / (1.0 + ratio)
    for step in range(n_steps):
        midpoint = STEP_YEARS * step + 0.5 * STEP_YEARS
        gain = row[E0_GAIN] * midpoint
        e0_male = min(95.0, max(20.0, row[E0_MALE_BASE] + gain))
        e0_female = min(95.0, max(20.0, row[E0_FEMALE_BASE] + gain))
        birth_survival[step, MALE] = survival_ratios(e0_male, hazard, survival[step, MALE])
        birth_survival[step, FEMALE] = survival_ratios(e0_female, hazard, survival[step, FEMALE])
        tfr[step] = row[TFR_TARGET] + (row[TFR_BASE] - row[TFR_TARGET]) * math.exp(
            -row[TFR_SPEED] * midpoint
        )
        level = row[EMIGRATION_SCALE] * math.exp(row[EMIGRATION_TREND] * midpoint)
        for group in range(N_AGES):
            emigration[step, MALE, group] = level * male_factor * schedule[group]
            emigration[step, FEMALE, group] = level * female_factor * schedule[group]


@njit(cache=True, inline="always")
def step_probability(rate: float) -> float:
    """Probability over a five-year step of leaving at annual rate ``rate``: the actuarial
    conversion q = n m / (1 + n m / 2) (Preston, Heuveline and Guillot 2001, eq. 3.5 with
    a = n / 2), capped at 1. Unlike 1 − exp(−n m) it needs no transcendental call, so the cell
    loop stays a few cycles long; the two differ by less than 0.1 % of q for n m < 0.1."""
    leaving = STEP_YEARS * rate
    return min(1.0, leaving / (1.0 + 0.5 * leaving))


@njit(cache=True, inline="always")
def migrate_block(
    count, current, intensity, return_share, emigration, stayers, emigrants, returns
) -> None:
    """Emigration and returns of the first ``count`` units of a block (cells × units layout)."""
    for unit in range(count):
        emigrants[unit] = 0.0
        returns[unit] = 0.0
    for cell in range(N_SEXES * N_AGES):
        schedule = emigration[cell]
        for unit in range(count):
            leaving = current[cell, unit] * step_probability(intensity[unit] * schedule)
            coming_back = return_share[unit] * leaving
            stayers[cell, unit] = current[cell, unit] - leaving + coming_back
            emigrants[unit] += leaving
            returns[unit] += coming_back


@njit(cache=True, inline="always")
def age_and_bear_block(
    count,
    stayers,
    survival,
    birth_survival,
    tfr,
    weights,
    male_birth_share,
    following,
    births,
    deaths,
) -> None:
    """Survival, ageing, births and deaths of the first ``count`` units of a block."""
    for unit in range(count):
        deaths[unit] = 0.0
        births[unit] = 0.0
    for sex in range(N_SEXES):
        first = sex * N_AGES
        last = first + N_AGES - 1
        for cell in range(first, last):
            alive = survival[cell]
            for unit in range(count):
                following[cell + 1, unit] = stayers[cell, unit] * alive
                deaths[unit] += stayers[cell, unit] * (1.0 - alive)
        alive = survival[last]
        for unit in range(count):
            following[last, unit] += stayers[last, unit] * alive
            deaths[unit] += stayers[last, unit] * (1.0 - alive)
    for cell in range(FEMALE * N_AGES + FIRST_FERTILE, FEMALE * N_AGES + LAST_FERTILE + 1):
        weight = 0.5 * weights[cell - FEMALE * N_AGES]
        alive = survival[cell - 1]
        for unit in range(count):
            births[unit] += weight * (stayers[cell, unit] + stayers[cell - 1, unit] * alive)
    for unit in range(count):
        total_births = tfr * births[unit]
        male_births = total_births * male_birth_share
        female_births = total_births - male_births
        births[unit] = total_births
        following[MALE * N_AGES, unit] = male_births * birth_survival[MALE]
        following[FEMALE * N_AGES, unit] = female_births * birth_survival[FEMALE]
        deaths[unit] += male_births * (1.0 - birth_survival[MALE]) + female_births * (
            1.0 - birth_survival[FEMALE]
        )


@njit(cache=True, inline="always")
def block_totals(count, state, totals) -> float:
    """Total per unit of a block into ``totals``; returns the block's population aged 65+."""
    for unit in range(count):
        totals[unit] = 0.0
    old = 0.0
    for sex in range(N_SEXES):
        for group in range(N_AGES):
            cell = sex * N_AGES + group
            for unit in range(count):
                totals[unit] += state[cell, unit]
                if group >= FIRST_AGE_65:
                    old += state[cell, unit]
    return old


@njit(cache=True, inline="always")
def splitmix64(state: np.uint64) -> np.uint64:
    """One output of the splitmix64 generator (Steele, Lea & Flood 2014) for ``state``."""
    z = state + SHOCK_STREAM
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def shock_normal(unit: int, step: int) -> float:
    """Standard normal draw of ``unit`` in ``step`` (Box–Muller on two splitmix64 outputs).

    A pure function of (unit, step): every scenario sees the same draws (common random numbers,
    so scenarios differ by their parameters, not by luck), and results do not depend on threads,
    blocks or how a sweep is chunked.
    """
    first = splitmix64(np.uint64(unit) * SHOCK_STREAM + np.uint64(step))
    second = splitmix64(first)
    u1 = (float(first >> np.uint64(11)) + 0.5) / TWO_TO_53
    u2 = float(second >> np.uint64(11)) / TWO_TO_53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, inline="always")
def shock_block(count, first_unit, step, sd, following, totals, shocks) -> None:
    """Non-persistent growth shock of the first ``count`` units of a block after a step.

    Each unit's new population is scaled by ``exp(s z − s²/2)`` with ``s = sd √5`` and ``z`` a
    fresh standard normal (mean one in levels); the change is its ``shocks`` component.
    """
    scale = sd * math.sqrt(STEP_YEARS)
    for unit in range(count):
        factor = math.exp(scale * shock_normal(first_unit + unit, step) - 0.5 * scale * scale)
        total = 0.0
        for cell in range(N_SEXES * N_AGES):
            total += following[cell, unit]
            following[cell, unit] *= factor
        totals[unit] = total
        shocks[unit] = total * (factor - 1.0)
