"""Plain-NumPy twins of the Numba kernels: the same model written with array operations only.

They share the wrappers' validation and output allocation (``prepare_*``) but none of the
numerical code: schedules, life tables and projections are re-implemented here, vectorised over
the large axis (units for the depopulation kernel, scenarios × durations for the remittance
kernel). Tests assert agreement to 1e-10 relative; the benchmarks time kernels against them.
"""

from __future__ import annotations

import numpy as np

from migsys.kernels import depopulation as dep
from migsys.kernels import remittances as rem
from migsys.kernels._schedules import (
    E0_CAP,
    FEMALE,
    FERTILITY_SD_YEARS,
    FIRST_AGE_65,
    FIRST_FERTILE,
    LAST_FERTILE,
    MALE,
    N_AGES,
    STEP_YEARS,
    standard_cumulative_hazard,
)
from migsys.kernels.coupled import CoupledResult
from migsys.kernels.depopulation import DepopulationResult, DepopulationUnits
from migsys.kernels.remittances import RemittanceInputs, RemittanceResult

FERTILE = slice(FIRST_FERTILE, LAST_FERTILE + 1)


def hazard_level_for_e0_numpy(e0: np.ndarray, hazard: np.ndarray) -> np.ndarray:
    """Level k per entry of ``e0`` with trapezoid life expectancy ``e0`` (Newton on log k)."""
    e0 = np.atleast_1d(np.asarray(e0, dtype=np.float64))
    log_k = np.zeros_like(e0)
    done = np.zeros(e0.shape, dtype=bool)
    for _ in range(200):
        k = np.exp(log_k)
        survivors = np.exp(-k[:, None] * hazard[None, :])
        expectancy = 0.5 * (survivors[:, :-1] + survivors[:, 1:]).sum(axis=1)
        slope = 0.5 * (
            hazard[None, :-1] * survivors[:, :-1] + hazard[None, 1:] * survivors[:, 1:]
        ).sum(axis=1)
        step = np.clip((expectancy - e0) / (k * slope), -2.0, 2.0)
        log_k = np.where(done, log_k, log_k + step)
        done |= np.abs(step) < 1e-14
        if done.all():
            break
    return np.exp(log_k)


def person_years_numpy(e0: np.ndarray, hazard: np.ndarray) -> np.ndarray:
    """5L per five-year group 0–4 … 105–109, shape ``[len(e0), 22]``."""
    k = hazard_level_for_e0_numpy(e0, hazard)
    survivors = np.exp(-k[:, None] * hazard[None, :])
    yearly = 0.5 * (survivors[:, :-1] + survivors[:, 1:])
    return yearly.reshape(len(k), -1, STEP_YEARS).sum(axis=2)


def survival_ratios_numpy(e0: np.ndarray, hazard: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Survival ratios ``[len(e0), 18]`` and births' survival ``[len(e0)]`` (see ``_schedules``)."""
    person_years = person_years_numpy(e0, hazard)
    ratios = np.empty((len(person_years), N_AGES))
    ratios[:, : N_AGES - 2] = person_years[:, 1 : N_AGES - 1] / person_years[:, : N_AGES - 2]
    open_ratio = person_years[:, N_AGES:].sum(axis=1) / person_years[:, N_AGES - 2 :].sum(axis=1)
    ratios[:, N_AGES - 2 :] = open_ratio[:, None]
    return ratios, person_years[:, 0] / STEP_YEARS


def rogers_castro_numpy(
    peak_age: float, rise: float, fall: float, child_level: float, baseline_level: float
) -> np.ndarray:
    """Rogers–Castro schedule by five-year group, normalised to mean 1."""
    ages = np.arange(N_AGES * STEP_YEARS, dtype=np.float64) + 0.5
    single = (
        child_level * np.exp(-fall * ages)
        + np.exp(-fall * (ages - peak_age) - np.exp(-rise * (ages - peak_age)))
        + baseline_level
    )
    groups = single.reshape(N_AGES, STEP_YEARS).mean(axis=1)
    return groups / groups.mean()


def fertility_weights_numpy(mean_age: float) -> np.ndarray:
    """Gaussian fertility weights over groups 15–49 summing to 1."""
    weights = np.zeros(N_AGES)
    midpoints = STEP_YEARS * np.arange(N_AGES)[FERTILE] + 2.5
    weights[FERTILE] = np.exp(-0.5 * ((midpoints - mean_age) / FERTILITY_SD_YEARS) ** 2)
    return weights / weights.sum()


def depopulation_schedules_numpy(row: np.ndarray, n_steps: int) -> dict[str, np.ndarray]:
    """Per-step schedules of one scenario: survival ``[steps, 2, 18]``, birth survival
    ``[steps, 2]``, TFR ``[steps]``, emigration ``[steps, 2, 18]``, fertility weights ``[18]``."""
    hazard = standard_cumulative_hazard()
    midpoints = STEP_YEARS * np.arange(n_steps) + 0.5 * STEP_YEARS
    gain = row[dep.E0_GAIN] * midpoints
    survival = np.empty((n_steps, 2, N_AGES))
    birth_survival = np.empty((n_steps, 2))
    for sex, column in ((MALE, dep.E0_MALE_BASE), (FEMALE, dep.E0_FEMALE_BASE)):
        e0 = np.clip(row[column] + gain, 20.0, E0_CAP)
        survival[:, sex, :], birth_survival[:, sex] = survival_ratios_numpy(e0, hazard)
    tfr = row[dep.TFR_TARGET] + (row[dep.TFR_BASE] - row[dep.TFR_TARGET]) * np.exp(
        -row[dep.TFR_SPEED] * midpoints
    )
    schedule = rogers_castro_numpy(
        row[dep.RC_PEAK_AGE],
        row[dep.RC_RISE],
        row[dep.RC_FALL],
        row[dep.RC_CHILD_LEVEL],
        row[dep.RC_BASELINE_LEVEL],
    )
    ratio = row[dep.EMIGRATION_FEMALE_RATIO]
    sex_factor = np.array([2.0 / (1.0 + ratio), 2.0 * ratio / (1.0 + ratio)])
    level = row[dep.EMIGRATION_SCALE] * np.exp(row[dep.EMIGRATION_TREND] * midpoints)
    emigration = level[:, None, None] * sex_factor[None, :, None] * schedule[None, None, :]
    return {
        "survival": survival,
        "birth_survival": birth_survival,
        "tfr": tfr,
        "emigration": emigration,
        "weights": fertility_weights_numpy(row[dep.MEAN_AGE_CHILDBEARING]),
    }


def depopulation_step_numpy(
    population: np.ndarray,
    intensity: np.ndarray,
    return_share: np.ndarray,
    survival: np.ndarray,
    birth_survival: np.ndarray,
    tfr: float,
    emigration: np.ndarray,
    weights: np.ndarray,
    male_birth_share: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One step for all units: ``population[n_units, 2, 18]`` → (next population, components
    ``[4, n_units]`` = births, deaths, emigrants, returns)."""
    five_year_rate = STEP_YEARS * intensity[:, None, None] * emigration[None]
    leaving = population * np.minimum(1.0, five_year_rate / (1.0 + 0.5 * five_year_rate))
    coming_back = return_share[:, None, None] * leaving
    stayers = population - leaving + coming_back
    following = np.zeros_like(population)
    following[:, :, 1:] = stayers[:, :, :-1] * survival[None, :, :-1]
    following[:, :, -1] += stayers[:, :, -1] * survival[None, :, -1]
    deaths = (stayers * (1.0 - survival[None])).sum(axis=(1, 2))
    females = stayers[:, FEMALE, :]
    previous = slice(FIRST_FERTILE - 1, LAST_FERTILE)
    exposure = 0.5 * (females[:, FERTILE] + females[:, previous] * survival[FEMALE, previous])
    births = tfr * (weights[FERTILE] * exposure).sum(axis=1)
    male_births = births * male_birth_share
    female_births = births - male_births
    following[:, MALE, 0] = male_births * birth_survival[MALE]
    following[:, FEMALE, 0] = female_births * birth_survival[FEMALE]
    deaths += male_births * (1.0 - birth_survival[MALE]) + female_births * (
        1.0 - birth_survival[FEMALE]
    )
    components = np.stack(
        [
            births,
            deaths,
            leaving.sum(axis=(1, 2)),
            coming_back.sum(axis=(1, 2)),
            np.zeros_like(births),
        ]
    )
    return following, components


MASK_64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def _splitmix64(state: int) -> int:
    """splitmix64 in Python integers (the kernel's is in Numba uint64)."""
    z = (state + GOLDEN_GAMMA) & MASK_64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK_64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK_64
    return z ^ (z >> 31)


def shock_normals_numpy(n_units: int, step: int) -> np.ndarray:
    """The standard normal draws of every unit in ``step`` (Box–Muller of two splitmix64 outputs
    seeded by ``unit × golden gamma + step``)."""
    out = np.empty(n_units)
    for unit in range(n_units):
        first = _splitmix64((unit * GOLDEN_GAMMA + step) & MASK_64)
        second = _splitmix64(first)
        u1 = ((first >> 11) + 0.5) / 2.0**53
        u2 = (second >> 11) / 2.0**53
        out[unit] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return out


def apply_growth_shock_numpy(
    population: np.ndarray, components: np.ndarray, sd: float, step: int
) -> np.ndarray:
    """Scale each unit by its mean-one lognormal shock; record the change as component 4."""
    if sd <= 0.0:
        return population
    scale = sd * np.sqrt(STEP_YEARS)
    factor = np.exp(scale * shock_normals_numpy(population.shape[0], step) - 0.5 * scale**2)
    components[4] = population.sum(axis=(1, 2)) * (factor - 1.0)
    return population * factor[:, None, None]


def project_depopulation_numpy(
    params: np.ndarray,
    units: DepopulationUnits,
    base_year: int,
    horizon_year: int,
    *,
    report_years: np.ndarray | list[int] | None = None,
    keep_trajectories: bool = False,
) -> DepopulationResult:
    """NumPy twin of :func:`kernels.depopulation.project_depopulation` (same signature/result)."""
    plan = dep.prepare_depopulation(
        params, units, base_year, horizon_year, report_years, keep_trajectories
    )
    n_steps = plan.years.size - 1
    degrees = units.degree_code
    for scenario, row in enumerate(plan.params):
        schedules = depopulation_schedules_numpy(row, n_steps)
        return_share = np.minimum(1.0, row[dep.RETURN_SCALE] * units.return_intensity)
        male_birth_share = row[dep.SEX_RATIO_BIRTH] / (1.0 + row[dep.SEX_RATIO_BIRTH])
        population = units.population.copy()
        totals = population.sum(axis=(1, 2))
        start = totals
        _record_depopulation_state(plan, scenario, 0, population, totals)
        for step in range(n_steps):
            population, components = depopulation_step_numpy(
                population,
                units.emigration_intensity,
                return_share,
                schedules["survival"][step],
                schedules["birth_survival"][step],
                schedules["tfr"][step],
                schedules["emigration"][step],
                schedules["weights"],
                male_birth_share,
            )
            population = apply_growth_shock_numpy(
                population, components, row[dep.GROWTH_SHOCK_SD], step
            )
            following_totals = population.sum(axis=(1, 2))
            falling = following_totals < totals
            plan.depopulating[scenario, step] = falling.sum()
            plan.by_degree[scenario, step] = np.bincount(degrees[falling], minlength=dep.N_DEGREES)
            if plan.keep:
                plan.components[scenario, step] = components
            totals = following_totals
            _record_depopulation_state(plan, scenario, step + 1, population, totals)
        plan.below_75[scenario] = (totals < 0.75 * start).sum()
        plan.below_50[scenario] = (totals < 0.5 * start).sum()
    return plan.result()


def _record_depopulation_state(
    plan: dep.DepopulationPlan,
    scenario: int,
    step: int,
    population: np.ndarray,
    totals: np.ndarray,
) -> None:
    national = totals.sum()
    plan.national[scenario, step] = national
    if national > 0:
        plan.share_65plus[scenario, step] = population[:, :, FIRST_AGE_65:].sum() / national
    if plan.report_index[step] >= 0:
        plan.unit_population[scenario, plan.report_index[step]] = totals


def _paths_numpy(observed: np.ndarray, params: np.ndarray, n_years: int) -> np.ndarray:
    """Paths ``[6, n_scen, n_years]``: observations, then growth at each scenario's rates."""
    n_observed = observed.shape[1]
    paths = np.empty((observed.shape[0], params.shape[0], n_years))
    paths[:, :, :n_observed] = observed[:, None, :]
    if n_years > n_observed:
        ahead = np.arange(1, n_years - n_observed + 1, dtype=np.float64)
        growth = params[:, list(rem.PATH_GROWTH_COLUMNS)].T
        paths[:, :, n_observed:] = observed[:, -1, None, None] * (
            (1.0 + growth[:, :, None]) ** ahead[None, None, :]
        )
    return paths


def project_remittances_numpy(
    params: np.ndarray,
    inputs: RemittanceInputs,
    base_year: int,
    horizon_year: int,
    *,
    arrivals: np.ndarray | None = None,
) -> RemittanceResult:
    """NumPy twin of :func:`kernels.remittances.project_remittances`, vectorised over scenarios
    and durations."""
    params, observed, external, n_years = rem.prepare_remittances(
        params, inputs, base_year, horizon_year, arrivals
    )
    outputs = rem._allocate_outputs(params.shape[0], n_years)
    (
        usd,
        mxn,
        pct,
        households,
        stock_total,
        remitters_out,
        arrivals_out,
        returns_out,
        deaths_out,
        peak_index,
        peak_value,
        below_index,
    ) = outputs
    us_wage, mx_wage, demand, gdp, fx, all_households = _paths_numpy(observed, params, n_years)
    durations = np.arange(inputs.initial_stock.size, dtype=np.float64)
    column = params.T
    return_rate = column[rem.RETURN_RATE_INITIAL, :, None] * np.exp(
        -column[rem.RETURN_RATE_DECAY, :, None] * durations
    )
    death_rate = np.minimum(
        1.0,
        column[rem.MORTALITY_RATE, :, None]
        * np.exp(column[rem.MORTALITY_DURATION_GROWTH, :, None] * durations),
    )
    keep = (1.0 - return_rate) * (1.0 - death_rate)
    share = column[rem.REMITTER_SHARE_INITIAL, :, None] * np.exp(
        -column[rem.REMITTER_SHARE_DECAY, :, None] * durations
    )
    stock = np.tile(inputs.initial_stock, (params.shape[0], 1))
    gap = us_wage / mx_wage
    for year in range(n_years):
        remitters = (stock * share).sum(axis=1)
        amount = (
            column[rem.AMOUNT_BASE]
            * (us_wage[:, year] / us_wage[:, 0]) ** column[rem.AMOUNT_WAGE_ELASTICITY]
        )
        usd[:, year] = remitters * amount
        remitters_out[:, year] = remitters
        stock_total[:, year] = stock.sum(axis=1)
        households[:, year] = np.minimum(
            all_households[:, year], column[rem.HOUSEHOLDS_PER_REMITTER] * remitters
        )
        if year == n_years - 1:
            break
        if arrivals is None:
            arriving = (
                column[rem.INFLOW_BASE]
                * (gap[:, year] / gap[:, 0]) ** column[rem.INFLOW_GAP_ELASTICITY]
                * (demand[:, year] / demand[:, 0]) ** column[rem.INFLOW_DEMAND_ELASTICITY]
            )
        else:
            arriving = external[:, year]
        returns_out[:, year] = (stock * return_rate).sum(axis=1)
        deaths_out[:, year] = (stock * (1.0 - return_rate) * death_rate).sum(axis=1)
        arrivals_out[:, year] = arriving
        surviving = stock * keep
        stock = np.concatenate([arriving[:, None], surviving[:, :-1]], axis=1)
        stock[:, -1] += surviving[:, -1]
    mxn[:] = usd * fx
    pct[:] = 100.0 * usd / gdp
    peak_index[:] = np.argmax(usd, axis=1)
    peak_value[:] = usd.max(axis=1)
    below = pct < pct[:, :1]
    below_index[:] = np.where(below.any(axis=1), np.argmax(below, axis=1), -1)
    return rem._result(base_year, n_years, outputs)


def yearly_arrivals_numpy(emigrants: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """Net emigrants per year ``[n_scen, 5 × n_steps]``: each five-year period's national net
    emigration, one fifth in each of its years (written here with a broadcast, not the
    coupled module's repeat)."""
    net = emigrants.sum(axis=2) - returns.sum(axis=2)  # [n_scen, n_steps]
    per_year = np.empty((net.shape[0], net.shape[1], STEP_YEARS))
    per_year[:] = (net / STEP_YEARS)[:, :, None]
    return per_year.reshape(net.shape[0], -1)


def allocate_to_units_numpy(
    unit_population: np.ndarray,
    households: np.ndarray,
    remittance_household_share: np.ndarray,
    national_usd: np.ndarray,
    national_receiving: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The coupled allocation written unit by unit: households follow population from the base;
    each unit receives the national flow in proportion to its receiving households."""
    n_scen, n_grid, n_units = unit_population.shape
    outputs = [np.zeros((n_scen, n_grid, n_units)) for _ in range(5)]
    unit_households, unit_receiving, unit_usd, per_household, per_capita = outputs
    for scenario in range(n_scen):
        for step in range(n_grid):
            weights = np.zeros(n_units)
            for unit in range(n_units):
                base = unit_population[scenario, 0, unit]
                ratio = unit_population[scenario, step, unit] / base if base > 0 else 0.0
                unit_households[scenario, step, unit] = households[unit] * ratio
                weights[unit] = (
                    unit_households[scenario, step, unit] * (remittance_household_share[unit])
                )
            total = weights.sum()
            if total <= 0:
                continue
            for unit in range(n_units):
                share = weights[unit] / total
                usd = national_usd[scenario, step] * share
                unit_usd[scenario, step, unit] = usd
                unit_receiving[scenario, step, unit] = national_receiving[scenario, step] * share
                if unit_households[scenario, step, unit] > 0:
                    per_household[scenario, step, unit] = (
                        usd / unit_households[scenario, step, unit]
                    )
                if unit_population[scenario, step, unit] > 0:
                    per_capita[scenario, step, unit] = usd / unit_population[scenario, step, unit]
    return unit_households, unit_receiving, unit_usd, per_household, per_capita


def project_coupled_numpy(
    dep_params: np.ndarray,
    rem_params: np.ndarray,
    units: DepopulationUnits,
    inputs: RemittanceInputs,
    base_year: int,
    horizon_year: int,
) -> CoupledResult:
    """NumPy twin of :func:`kernels.coupled.project_coupled`, built on the two twins above and
    its own arrivals and allocation (no code shared with the module it is compared with)."""
    if units.households is None or units.remittance_household_share is None:
        raise ValueError(
            "units: the coupled run needs units.households and units.remittance_household_share"
        )
    depopulation = project_depopulation_numpy(
        dep_params, units, base_year, horizon_year, keep_trajectories=True
    )
    arrivals = yearly_arrivals_numpy(depopulation.emigrants, depopulation.returns)
    remittances = project_remittances_numpy(
        rem_params, inputs, base_year, horizon_year, arrivals=arrivals
    )
    grid = (depopulation.years - base_year).astype(np.int64)
    allocation = allocate_to_units_numpy(
        depopulation.unit_population,
        units.households,
        units.remittance_household_share,
        remittances.remittances_usd[:, grid],
        remittances.receiving_households[:, grid],
    )
    return CoupledResult(
        depopulation.years, depopulation, remittances, depopulation.unit_population, *allocation
    )
