"""Depopulation kernel: cohort-component projection of many units under many scenarios.

A *unit* is a municipality (or an intensity degree when only the paper's Table 1 is available).
State: population by sex (0 = male, 1 = female) and 18 five-year age groups 0–4 … 80–84, 85+.
Five-year groups and five-year steps because (i) the census and the quinquennial INEGI counts
(1990, 1995, 2000, 2005, 2010) are five years apart, so a step lands on every observation the
calibration and backtests compare with; (ii) CONAPO's and the UN's projections and most published
schedules (fertility, Rogers–Castro fits) are quinquennial; and (iii) speed: 36 cells per unit
make 10,000 scenarios × 2,456 municipalities × 10 steps about 9·10⁹ cell updates, minutes on
two cores, where single years would be 25 times more.

One step from t to t+5, per unit, sex and age group a (all probabilities are over five years):

* emigrants      E_a = P_a · min(1, 5 m_a / (1 + 2.5 m_a)) (actuarial m → q conversion), with
  m_a = intensity_u · scale · exp(trend·τ) · sex factor · RC(a), RC the Rogers–Castro schedule
  normalised to mean 1 (``_schedules``);
* returns        R_a = ρ_u · E_a with ρ_u = min(1, return_scale · return_intensity_u): emigrants
  who come back within the step (circular and return migration, CONAPO indicators);
* stayers        S_a = P_a − E_a + R_a, who age: P_{a+1}(t+5) = S_a · s_a (open group 85+ gets
  S_16 s_16 + S_17 s_17) and deaths are S_a (1 − s_a); s from the life table whose life
  expectancy follows the path e0(τ) = min(95, e0_base + gain τ) (Siler shape, ``_schedules``);
* births         B = TFR(τ) · Σ_a w_a · ½ (S^f_a + S^f_{a−1} s^f_{a−1}) over ages 15–49, with
  TFR(τ) = target + (base − target) exp(−speed τ) and w the fertility age weights; births split
  by the sex ratio at birth and survive to 0–4 with 5L0/5, the rest are deaths;
* growth shock   the new population is scaled by exp(s z − s²/2), s = growth_shock_sd · √5 and z
  a fresh standard normal per unit and step (non-persistent: growth that changes between
  periods, which the calibrated forecast intervals show is large; mean one in levels; draws
  shared by every scenario, ``depopulation_step.shock_normal``). With growth_shock_sd = 0 there
  is no shock.

τ is the step's midpoint in years since the base year. Hence, per unit and exactly up to
rounding, P(t+5) = P(t) + births − deaths − emigrants + returns + shocks (see
``DepopulationResult``'s components). The scale enters only through E (monotone) and zero
intensity and no shock give the closed population.

Units without an age structure: :meth:`DepopulationUnits.from_totals` spreads each total over
ages as the stable population implied by the unit's own base rates, or — recommended for real
municipalities, whose fertility fell fast — the quasi-stable structure at the unit's observed
growth (:mod:`kernels.depopulation_ages`). Each sex's age profile is then scaled to the observed
male and female totals.

Where things live: this module is the batch wrapper and the parallel loop; the step itself (one
implementation, shared with the stable-population power iteration) is
:mod:`kernels.depopulation_step`; the units and their checks :mod:`kernels.depopulation_units`;
starting age structures :mod:`kernels.depopulation_ages`; CONAPO indicators to unit rates
:mod:`kernels.depopulation_indicators`; the independent NumPy twin :mod:`kernels.reference`.

Threads: the kernel loops over scenarios with ``prange``; set the thread count with
:func:`kernels.set_threads` (``numba.set_num_threads``). Units are projected in blocks of
``UNIT_BLOCK`` held as ``[36 cells, block]`` arrays, so memory per thread is O(block × ages) and
memory per call is the summaries (O(scenarios × steps × degrees)) unless ``keep_trajectories``
(O(scenarios × steps × units)) or ``report_years`` (O(scenarios × reports × units)) ask for more.
Results do not depend on the thread count.

Batch use (sweeps): ``project_depopulation(params[n, 17], units, 2000, 2050)`` with
``params`` from :mod:`kernels.defaults`; measured at about 3–4 ns per cohort-cell update on one
core of the development machine (``bench/kernels.py``), i.e. 1,000 scenarios × 2,456
municipalities × 10 steps in roughly 3 s per core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from migsys.kernels._schedules import (
    N_AGES,
    N_SEXES,
    STEP_YEARS,
    standard_cumulative_hazard,
)
from migsys.kernels._validate import check_params, check_years
from migsys.kernels.defaults import DEPOPULATION_PARAMETERS
from migsys.kernels.depopulation_step import (  # noqa: F401  (column constants re-exported)
    E0_FEMALE_BASE,
    E0_GAIN,
    E0_MALE_BASE,
    EMIGRATION_FEMALE_RATIO,
    EMIGRATION_SCALE,
    EMIGRATION_TREND,
    GROWTH_SHOCK_SD,
    MEAN_AGE_CHILDBEARING,
    N_COMPONENTS,
    RC_BASELINE_LEVEL,
    RC_CHILD_LEVEL,
    RC_FALL,
    RC_PEAK_AGE,
    RC_RISE,
    RETURN_SCALE,
    SEX_RATIO_BIRTH,
    TFR_BASE,
    TFR_SPEED,
    TFR_TARGET,
    UNIT_BLOCK,
    age_and_bear_block,
    block_totals,
    migrate_block,
    scenario_schedules,
    shock_block,
)
from migsys.kernels.depopulation_units import (  # noqa: F401  (the kernel's input type)
    DEGREE_NAMES,
    N_DEGREES,
    DepopulationUnits,
)

COMPONENT_NAMES = ("births", "deaths", "emigrants", "returns", "shocks")
AGE_GROUP_LABELS = tuple(f"{5 * a}-{5 * a + 4}" for a in range(N_AGES - 1)) + ("85+",)


@dataclass(frozen=True)
class DepopulationResult:
    """Outputs of :func:`project_depopulation`; the first axis of every array is the scenario.

    years: ``[n_steps + 1]`` base year, base+5, …, horizon.
    national_population, share_65plus: ``[n_scen, n_steps + 1]`` (share in [0, 1]).
    depopulating_units: ``[n_scen, n_steps]`` units whose population fell during each period.
    depopulating_by_degree: ``[n_scen, n_steps, 6]`` the same by degree code.
    units_below_75pct, units_below_50pct: ``[n_scen]`` units whose horizon population is below
        75 % / 50 % of their base population.
    report_years, unit_population: ``[n_report]`` and ``[n_scen, n_report, n_units]`` when asked.
    births, deaths, emigrants, returns, shocks: ``[n_scen, n_steps, n_units]`` accounting
        components per period, only with ``keep_trajectories=True`` (shocks: the change made by
        the non-persistent growth shock, zero when ``growth_shock_sd`` is 0).
    """

    years: np.ndarray
    national_population: np.ndarray
    share_65plus: np.ndarray
    depopulating_units: np.ndarray
    depopulating_by_degree: np.ndarray
    units_below_75pct: np.ndarray
    units_below_50pct: np.ndarray
    report_years: np.ndarray
    unit_population: np.ndarray | None = None
    births: np.ndarray | None = None
    deaths: np.ndarray | None = None
    emigrants: np.ndarray | None = None
    returns: np.ndarray | None = None
    shocks: np.ndarray | None = None


def project_depopulation(
    params: np.ndarray,
    units: DepopulationUnits,
    base_year: int,
    horizon_year: int,
    *,
    report_years: np.ndarray | list[int] | None = None,
    keep_trajectories: bool = False,
) -> DepopulationResult:
    """Project every unit under every row of ``params`` (columns: DEPOPULATION_PARAMETERS).

    ``horizon_year - base_year`` must be a positive multiple of 5. ``report_years`` (years on the
    5-year grid) adds ``unit_population``; ``keep_trajectories`` adds the accounting components
    and, when ``report_years`` is None, reports every year of the grid.
    """
    plan = prepare_depopulation(
        params, units, base_year, horizon_year, report_years, keep_trajectories
    )
    _depopulation_kernel(*plan.kernel_arguments())
    return plan.result()


@dataclass
class DepopulationPlan:
    """Validated inputs and allocated outputs of one call (shared by the twin for equal inputs)."""

    params: np.ndarray
    units: DepopulationUnits
    years: np.ndarray
    report_years: np.ndarray
    report_index: np.ndarray
    keep: bool
    national: np.ndarray
    share_65plus: np.ndarray
    depopulating: np.ndarray
    by_degree: np.ndarray
    below_75: np.ndarray
    below_50: np.ndarray
    unit_population: np.ndarray
    components: np.ndarray

    def kernel_arguments(self) -> tuple:
        return (
            self.params,
            self.units.population,
            self.units.emigration_intensity,
            self.units.return_intensity,
            self.units.degree_code,
            standard_cumulative_hazard(),
            self.report_index,
            self.keep,
            self.national,
            self.share_65plus,
            self.depopulating,
            self.by_degree,
            self.below_75,
            self.below_50,
            self.unit_population,
            self.components,
        )

    def result(self) -> DepopulationResult:
        components = dict.fromkeys(COMPONENT_NAMES)
        if self.keep:
            components = {
                name: self.components[:, :, index, :] for index, name in enumerate(COMPONENT_NAMES)
            }
        return DepopulationResult(
            years=self.years,
            national_population=self.national,
            share_65plus=self.share_65plus,
            depopulating_units=self.depopulating,
            depopulating_by_degree=self.by_degree,
            units_below_75pct=self.below_75,
            units_below_50pct=self.below_50,
            report_years=self.report_years,
            unit_population=self.unit_population if self.report_years.size else None,
            **components,
        )


def prepare_depopulation(
    params: np.ndarray,
    units: DepopulationUnits,
    base_year: int,
    horizon_year: int,
    report_years: np.ndarray | list[int] | None = None,
    keep_trajectories: bool = False,
) -> DepopulationPlan:
    """Validate the inputs of :func:`project_depopulation` and allocate its outputs."""
    params = check_params(params, DEPOPULATION_PARAMETERS)
    if not isinstance(units, DepopulationUnits):
        raise ValueError(f"units: expected DepopulationUnits, got {type(units).__name__}")
    n_steps = check_years(base_year, horizon_year, STEP_YEARS)
    years = base_year + STEP_YEARS * np.arange(n_steps + 1, dtype=np.int64)
    if report_years is None:
        report = years.copy() if keep_trajectories else np.zeros(0, dtype=np.int64)
    else:
        report = np.asarray(report_years, dtype=np.int64).ravel()
        off_grid = ~np.isin(report, years)
        if off_grid.any():
            raise ValueError(
                f"report_years: {int(report[np.argmax(off_grid)])} is not on the projection grid "
                f"{int(years[0])}, {int(years[0]) + STEP_YEARS}, …, {int(years[-1])}"
            )
    if np.unique(report).size != report.size:
        raise ValueError(f"report_years: must not repeat a year, got {report.tolist()}")
    report_index = np.full(n_steps + 1, -1, dtype=np.int64)
    for position, year in enumerate(report):
        report_index[(year - base_year) // STEP_YEARS] = position
    n_scen, n_units = params.shape[0], units.n_units
    keep = bool(keep_trajectories)
    return DepopulationPlan(
        params=params,
        units=units,
        years=years,
        report_years=report,
        report_index=report_index,
        keep=keep,
        national=np.zeros((n_scen, n_steps + 1)),
        share_65plus=np.zeros((n_scen, n_steps + 1)),
        depopulating=np.zeros((n_scen, n_steps), dtype=np.int64),
        by_degree=np.zeros((n_scen, n_steps, N_DEGREES), dtype=np.int64),
        below_75=np.zeros(n_scen, dtype=np.int64),
        below_50=np.zeros(n_scen, dtype=np.int64),
        unit_population=np.zeros((n_scen, report.size, n_units)),
        components=np.zeros(
            (n_scen, n_steps, N_COMPONENTS, n_units) if keep else (n_scen, 0, N_COMPONENTS, 0)
        ),
    )


@njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
def _depopulation_kernel(
    params,
    population,
    emigration_intensity,
    return_intensity,
    degree_code,
    hazard,
    report_index,
    keep,
    national,
    share_65plus,
    depopulating,
    by_degree,
    below_75,
    below_50,
    unit_population,
    components,
):
    """All scenarios × unit blocks × steps; each scenario writes only its own output rows.

    Per scenario and block of ``UNIT_BLOCK`` units the state is held as ``[36 cells, block]`` so
    the innermost loops run over units with unit stride (SIMD-friendly, no per-unit call or
    view); memory per thread is O(block × ages) plus O(steps) accumulators.
    """
    n_scen = params.shape[0]
    n_units = population.shape[0]
    n_steps = national.shape[1] - 1
    n_cells = N_SEXES * N_AGES
    n_degrees = by_degree.shape[2]
    flat_population = population.reshape((n_units, n_cells))
    for scenario in prange(n_scen):
        row = params[scenario]
        survival = np.empty((n_steps, N_SEXES, N_AGES))
        birth_survival = np.empty((n_steps, N_SEXES))
        tfr = np.empty(n_steps)
        emigration = np.empty((n_steps, N_SEXES, N_AGES))
        weights = np.empty(N_AGES)
        scenario_schedules(row, hazard, n_steps, survival, birth_survival, tfr, emigration, weights)
        flat_survival = survival.reshape((n_steps, n_cells))
        flat_emigration = emigration.reshape((n_steps, n_cells))
        male_birth_share = row[SEX_RATIO_BIRTH] / (1.0 + row[SEX_RATIO_BIRTH])
        current = np.empty((n_cells, UNIT_BLOCK))
        following = np.empty((n_cells, UNIT_BLOCK))
        stayers = np.empty((n_cells, UNIT_BLOCK))
        vectors = np.zeros((10, UNIT_BLOCK))
        intensity = vectors[0]
        return_share = vectors[1]
        start = vectors[2]
        previous = vectors[3]
        totals = vectors[4]
        births = vectors[5]
        deaths = vectors[6]
        emigrants = vectors[7]
        returns = vectors[8]
        shocks = vectors[9]
        shock_sd = row[GROWTH_SHOCK_SD]
        population_by_step = np.zeros(n_steps + 1)
        old_by_step = np.zeros(n_steps + 1)
        falling = np.zeros((n_steps, n_degrees), dtype=np.int64)
        under_75 = 0
        under_50 = 0
        for block_start in range(0, n_units, UNIT_BLOCK):
            count = min(UNIT_BLOCK, n_units - block_start)
            for unit in range(count):
                index = block_start + unit
                intensity[unit] = emigration_intensity[index]
                return_share[unit] = min(1.0, row[RETURN_SCALE] * return_intensity[index])
                for cell in range(n_cells):
                    current[cell, unit] = flat_population[index, cell]
            old_by_step[0] += block_totals(count, current, start)
            for unit in range(count):
                previous[unit] = start[unit]
            for step in range(n_steps + 1):
                if step > 0:
                    migrate_block(
                        count,
                        current,
                        intensity,
                        return_share,
                        flat_emigration[step - 1],
                        stayers,
                        emigrants,
                        returns,
                    )
                    age_and_bear_block(
                        count,
                        stayers,
                        flat_survival[step - 1],
                        birth_survival[step - 1],
                        tfr[step - 1],
                        weights,
                        male_birth_share,
                        following,
                        births,
                        deaths,
                    )
                    if shock_sd > 0.0:
                        shock_block(
                            count, block_start, step - 1, shock_sd, following, totals, shocks
                        )
                    current, following = following, current
                    old_by_step[step] += block_totals(count, current, totals)
                    for unit in range(count):
                        if totals[unit] < previous[unit]:
                            falling[step - 1, degree_code[block_start + unit]] += 1
                        previous[unit] = totals[unit]
                    if keep:
                        for unit in range(count):
                            index = block_start + unit
                            components[scenario, step - 1, 0, index] = births[unit]
                            components[scenario, step - 1, 1, index] = deaths[unit]
                            components[scenario, step - 1, 2, index] = emigrants[unit]
                            components[scenario, step - 1, 3, index] = returns[unit]
                            components[scenario, step - 1, 4, index] = shocks[unit]
                block_total = 0.0
                for unit in range(count):
                    block_total += previous[unit]
                population_by_step[step] += block_total
                if report_index[step] >= 0:
                    for unit in range(count):
                        unit_population[scenario, report_index[step], block_start + unit] = (
                            previous[unit]
                        )
            for unit in range(count):
                if previous[unit] < 0.75 * start[unit]:
                    under_75 += 1
                if previous[unit] < 0.5 * start[unit]:
                    under_50 += 1
        for step in range(n_steps + 1):
            national[scenario, step] = population_by_step[step]
            if population_by_step[step] > 0.0:
                share_65plus[scenario, step] = old_by_step[step] / population_by_step[step]
        for step in range(n_steps):
            total_falling = 0
            for degree in range(n_degrees):
                by_degree[scenario, step, degree] = falling[step, degree]
                total_falling += falling[step, degree]
            depopulating[scenario, step] = total_falling
        below_75[scenario] = under_75
        below_50[scenario] = under_50
