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
  by the sex ratio at birth and survive to 0–4 with 5L0/5, the rest are deaths.

τ is the step's midpoint in years since the base year. Hence, per unit and exactly up to
rounding, P(t+5) = P(t) + births − deaths − emigrants + returns (see ``DepopulationResult``'s
components). The scale enters only through E (monotone) and zero intensity gives the closed
population.

Units without an age structure: :meth:`DepopulationUnits.from_totals` spreads each total over
ages as the *stable population* implied by the unit's own base rates: the dominant eigenvector of
one projection step with the base-year fertility, mortality, emigration and returns held
constant (power iteration with the kernel's own step, :func:`stable_age_shares`) — the discrete
counterpart of Lotka's stable population, exact for this model. Each sex's age profile is then
scaled to the observed male and female totals (the census sex ratio wins over the model's).
High-emigration units so get fewer young adults and, through fewer births, fewer children — the
shape those municipalities show in the census. Mexico in 2000 was not stable (fertility had
more than halved since 1970), so the intrinsic stable structure is far older than the census's;
passing the unit's observed intercensal ``growth_rate`` gives the quasi-stable structure at that
growth instead (:func:`quasi_stable_age_shares`, Coale's remedy), which is the recommended
choice for real municipalities — or pass census age structures through ``population``.

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

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

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
    standard_cumulative_hazard,
    survival_ratios,
)
from migsys.kernels._validate import as_float_array, check_params, check_range, check_years
from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, default_params

N_DEGREES = 6
DEGREE_NAMES = ("very_high", "high", "medium", "low", "very_low", "null")
AGE_GROUP_LABELS = tuple(f"{5 * a}-{5 * a + 4}" for a in range(N_AGES - 1)) + ("85+",)

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
) = range(17)


@dataclass(frozen=True)
class DepopulationUnits:
    """Base-year inputs of the projected units (arrays are copied to float64/int64 and checked).

    population: ``[n_units, 2, 18]`` persons by sex (0 male, 1 female) and five-year age group.
    emigration_intensity: ``[n_units]`` crude annual emigration rate in [0, 1] at the base year
        (see :func:`emigration_intensity_from_indicators`).
    return_intensity: ``[n_units]`` share of emigrants returning within five years, in [0, 1]
        (see :func:`return_intensity_from_indicators`).
    degree_code: ``[n_units]`` int 0..5 = very_high, high, medium, low, very_low, null.
    households, remittance_household_share: optional ``[n_units]``; needed only by the coupled
        run (households ≥ 0, share in [0, 1]).
    """

    population: np.ndarray
    emigration_intensity: np.ndarray
    return_intensity: np.ndarray
    degree_code: np.ndarray
    households: np.ndarray | None = None
    remittance_household_share: np.ndarray | None = None

    def __post_init__(self) -> None:
        population = as_float_array(self.population, "units.population", 3)
        if population.shape[1:] != (N_SEXES, N_AGES) or population.shape[0] < 1:
            raise ValueError(
                f"units.population: expected shape (n_units >= 1, {N_SEXES}, {N_AGES}), "
                f"got {population.shape}"
            )
        check_range(population, "units.population", 0.0, np.inf)
        n_units = population.shape[0]
        emigration = _unit_vector(self.emigration_intensity, "units.emigration_intensity", n_units)
        check_range(emigration, "units.emigration_intensity", 0.0, 1.0)
        returns = _unit_vector(self.return_intensity, "units.return_intensity", n_units)
        check_range(returns, "units.return_intensity", 0.0, 1.0)
        degree = _unit_vector(self.degree_code, "units.degree_code", n_units)
        check_range(degree, "units.degree_code", 0, N_DEGREES - 1)
        if (degree != np.round(degree)).any():
            raise ValueError("units.degree_code: must be whole numbers 0..5")
        object.__setattr__(self, "population", population)
        object.__setattr__(self, "emigration_intensity", emigration)
        object.__setattr__(self, "return_intensity", returns)
        object.__setattr__(self, "degree_code", degree.astype(np.int64))
        if self.households is not None:
            households = _unit_vector(self.households, "units.households", n_units)
            check_range(households, "units.households", 0.0, np.inf)
            object.__setattr__(self, "households", households)
        if self.remittance_household_share is not None:
            share = _unit_vector(
                self.remittance_household_share, "units.remittance_household_share", n_units
            )
            check_range(share, "units.remittance_household_share", 0.0, 1.0)
            object.__setattr__(self, "remittance_household_share", share)

    @property
    def n_units(self) -> int:
        return int(self.population.shape[0])

    @classmethod
    def from_totals(
        cls,
        total: np.ndarray,
        male: np.ndarray,
        female: np.ndarray,
        emigration_intensity: np.ndarray,
        return_intensity: np.ndarray,
        degree_code: np.ndarray,
        *,
        params: np.ndarray | None = None,
        growth_rate: np.ndarray | None = None,
        households: np.ndarray | None = None,
        remittance_household_share: np.ndarray | None = None,
    ) -> DepopulationUnits:
        """Units whose age structure is the stable population implied by their base rates.

        ``total`` is authoritative; ``male``/``female`` give the sex split (their sum must be within
        1 % of ``total``). ``params`` is one row of DEPOPULATION_PARAMETERS (defaults if None).
        With ``growth_rate`` (annual, per unit, in [-0.1, 0.1]) the structure is quasi-stable
        at that observed growth (:func:`quasi_stable_age_shares`), else stable at the unit's
        intrinsic growth (:func:`stable_age_shares`).
        """
        total = as_float_array(total, "total", 1)
        n_units = total.shape[0]
        male = _unit_vector(male, "male", n_units)
        female = _unit_vector(female, "female", n_units)
        for name, values in (("total", total), ("male", male), ("female", female)):
            check_range(values, name, 0.0, np.inf)
        both = male + female
        mismatch = np.abs(both - total) > 0.01 * np.maximum(total, 1.0)
        if mismatch.any():
            row = int(np.argmax(mismatch))
            raise ValueError(
                f"male + female must be within 1 % of total: unit {row} has "
                f"{male[row]} + {female[row]} vs total {total[row]}"
            )
        emigration = _unit_vector(emigration_intensity, "emigration_intensity", n_units)
        check_range(emigration, "emigration_intensity", 0.0, 1.0)
        returns = _unit_vector(return_intensity, "return_intensity", n_units)
        check_range(returns, "return_intensity", 0.0, 1.0)
        row = (
            default_params(DEPOPULATION_PARAMETERS)[0]
            if params is None
            else (check_params(np.atleast_2d(params), DEPOPULATION_PARAMETERS)[0])
        )
        if growth_rate is None:
            shares = stable_age_shares(row, emigration, returns)
        else:
            growth = _unit_vector(growth_rate, "growth_rate", n_units)
            check_range(growth, "growth_rate", -0.1, 0.1)
            shares = quasi_stable_age_shares(row, emigration, returns, growth)
        male_share = np.divide(male, both, out=np.full(n_units, 0.5), where=both > 0)
        population = np.empty((n_units, N_SEXES, N_AGES))
        for sex, sex_total in ((MALE, total * male_share), (FEMALE, total * (1.0 - male_share))):
            by_age = shares[:, sex, :]
            population[:, sex, :] = by_age / by_age.sum(axis=1, keepdims=True) * sex_total[:, None]
        return cls(
            population, emigration, returns, degree_code, households, remittance_household_share
        )


def _unit_vector(values: object, name: str, n_units: int) -> np.ndarray:
    array = as_float_array(values, name, 1)
    if array.shape[0] != n_units:
        raise ValueError(f"{name}: expected {n_units} entries (one per unit), got {array.shape[0]}")
    return array


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
    households = _unit_vector(households, "households", pct.shape[0])
    check_range(households, "households", 0.0, np.inf)
    population = _unit_vector(population, "population", pct.shape[0])
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
    emigrants = _unit_vector(pct_households_emigrants, "pct_households_emigrants", returns.shape[0])
    check_range(emigrants, "pct_households_emigrants", 0.0, 100.0)
    ratio = np.divide(returns, emigrants, out=np.zeros_like(returns), where=emigrants > 0)
    return np.minimum(ratio, 1.0)


def _base_rate_schedules(params_row: np.ndarray) -> tuple:
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
    _scenario_schedules(
        row, standard_cumulative_hazard(), 1, survival, birth_survival, tfr, emigration, weights
    )
    male_birth_share = row[SEX_RATIO_BIRTH] / (1.0 + row[SEX_RATIO_BIRTH])
    return (
        survival[0].reshape(N_SEXES * N_AGES),
        birth_survival[0],
        float(tfr[0]),
        emigration[0].reshape(N_SEXES * N_AGES),
        weights,
        male_birth_share,
    )


def stable_age_shares(
    params_row: np.ndarray, emigration_intensity: np.ndarray, return_intensity: np.ndarray
) -> np.ndarray:
    """Age-sex shares ``[n_units, 2, 18]`` (summing to 1 per unit) of each unit's stable population.

    The stable population of a unit is the dominant eigenvector of one projection step under its
    base-year rates held constant (no life-expectancy gain, fertility at ``tfr_base``, no
    emigration trend): the age structure that the unit's own fertility, mortality and net
    emigration reproduce exactly, growing or shrinking by the same factor every five years. It
    is found by power iteration with the very step function of the kernel, so a stable unit
    projected under constant rates keeps its shares to rounding.
    """
    if not params_row[TFR_BASE] > 0:
        raise ValueError(
            "params: tfr_base must be > 0 to derive a stable age structure, "
            f"got {params_row[TFR_BASE]}"
        )
    survival, birth_survival, tfr, emigration, weights, male_births = _base_rate_schedules(
        params_row
    )
    return_share = np.minimum(1.0, params_row[RETURN_SCALE] * return_intensity)
    shares = np.empty((emigration_intensity.shape[0], N_SEXES * N_AGES))
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
    return shares.reshape(-1, N_SEXES, N_AGES)


def quasi_stable_age_shares(
    params_row: np.ndarray,
    emigration_intensity: np.ndarray,
    return_intensity: np.ndarray,
    growth_rate: np.ndarray,
) -> np.ndarray:
    """Age-sex shares ``[n_units, 2, 18]`` of the population that has grown at the observed
    annual ``growth_rate`` under the base-year mortality and net emigration (quasi-stable).

    Where fertility has fallen fast, as in Mexico (TFR about 6 in 1970, 2.4 in 2000), the stable
    structure of current rates is far older than the real one; the classic remedy (Coale's
    quasi-stable populations) replaces the intrinsic growth rate by the observed one. In the
    kernel's discrete terms, with λ = exp(5 r), stayer fraction g_a = 1 − q_a (1 − ρ) and survival
    s_a: P_{a+1} = P_a g_a s_a / λ, the open group P_85+ = P_80 g_80 s_80 / (λ − g_85 s_85), and
    boys/girls at 0–4 in the ratio of births surviving. Use the unit's intercensal growth
    (e.g. 1990–2000 from ``fct_municipal_growth``) as ``growth_rate``.
    """
    survival, birth_survival, _, emigration, _, male_births = _base_rate_schedules(params_row)
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
    births, deaths, emigrants, returns: ``[n_scen, n_steps, n_units]`` accounting components per
        period, only with ``keep_trajectories=True``.
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
class _DepopulationPlan:
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
        components = dict.fromkeys(("births", "deaths", "emigrants", "returns"))
        if self.keep:
            components = {
                name: self.components[:, :, index, :]
                for index, name in enumerate(("births", "deaths", "emigrants", "returns"))
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
) -> _DepopulationPlan:
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
    return _DepopulationPlan(
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
        components=np.zeros((n_scen, n_steps, 4, n_units) if keep else (n_scen, 0, 4, 0)),
    )


@njit(cache=True)
def _scenario_schedules(
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
def _step_probability(rate: float) -> float:
    """Probability over a five-year step of leaving at annual rate ``rate``: the actuarial
    conversion q = n m / (1 + n m / 2) (Preston, Heuveline and Guillot 2001, eq. 3.5 with
    a = n / 2), capped at 1. Unlike 1 − exp(−n m) it needs no transcendental call, so the cell
    loop stays a few cycles long; the two differ by less than 0.1 % of q for n m < 0.1."""
    leaving = STEP_YEARS * rate
    return min(1.0, leaving / (1.0 + 0.5 * leaving))


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _project_unit_step(
    population: np.ndarray,
    intensity: float,
    return_share: float,
    survival: np.ndarray,
    birth_survival: np.ndarray,
    tfr: float,
    emigration: np.ndarray,
    weights: np.ndarray,
    male_birth_share: float,
    stayers: np.ndarray,
    out: np.ndarray,
    components: np.ndarray,
) -> None:
    """One five-year step of one unit on flat ``[2 * 18]`` arrays (index sex * 18 + group).

    ``population`` → ``out``; (births, deaths, emigrants, returns) of the step go to
    ``components[0:4]``; ``stayers`` is scratch space. Flat arrays and no slicing keep the inner
    loop free of view construction, which dominated the cost of the 2-d version.
    """
    emigrants = 0.0
    returns = 0.0
    deaths = 0.0
    for cell in range(N_SEXES * N_AGES):
        leaving = population[cell] * _step_probability(intensity * emigration[cell])
        coming_back = return_share * leaving
        stayers[cell] = population[cell] - leaving + coming_back
        emigrants += leaving
        returns += coming_back
    for sex in range(N_SEXES):
        first = sex * N_AGES
        for cell in range(first, first + N_AGES - 1):
            out[cell + 1] = stayers[cell] * survival[cell]
            deaths += stayers[cell] * (1.0 - survival[cell])
        last = first + N_AGES - 1
        out[last] += stayers[last] * survival[last]
        deaths += stayers[last] * (1.0 - survival[last])
    exposure = 0.0
    for cell in range(FEMALE * N_AGES + FIRST_FERTILE, FEMALE * N_AGES + LAST_FERTILE + 1):
        exposure += (
            weights[cell - FEMALE * N_AGES]
            * 0.5
            * (stayers[cell] + stayers[cell - 1] * survival[cell - 1])
        )
    births = tfr * exposure
    male_births = births * male_birth_share
    female_births = births - male_births
    out[MALE * N_AGES] = male_births * birth_survival[MALE]
    out[FEMALE * N_AGES] = female_births * birth_survival[FEMALE]
    deaths += male_births * (1.0 - birth_survival[MALE]) + female_births * (
        1.0 - birth_survival[FEMALE]
    )
    components[0] = births
    components[1] = deaths
    components[2] = emigrants
    components[3] = returns


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
    """Power iteration per unit: repeat the step and renormalise until the shares stop moving
    (1e-14), at most 20,000 steps (the subdominant root of a five-year Leslie matrix is about
    0.8-0.9 of the dominant one, so a few hundred steps suffice)."""
    n_cells = N_SEXES * N_AGES
    current = np.empty(n_cells)
    following = np.empty(n_cells)
    stayers = np.empty(n_cells)
    components = np.empty(4)
    for unit in range(intensity.shape[0]):
        current[:] = 1.0 / n_cells
        for _ in range(20_000):
            _project_unit_step(
                current,
                intensity[unit],
                return_share[unit],
                survival,
                birth_survival,
                tfr,
                emigration,
                weights,
                male_birth_share,
                stayers,
                following,
                components,
            )
            total = following.sum()
            change = 0.0
            for cell in range(n_cells):
                following[cell] /= total
                change = max(change, abs(following[cell] - current[cell]))
            current, following = following, current
            if change < 1e-14:
                break
        out[unit, :] = current


@njit(cache=True, inline="always")
def _total_and_over_65(population: np.ndarray) -> tuple[float, float]:
    """Total and aged-65+ population of a flat ``[2 * 18]`` unit state."""
    total = 0.0
    old = 0.0
    for sex in range(N_SEXES):
        for group in range(N_AGES):
            total += population[sex * N_AGES + group]
            if group >= FIRST_AGE_65:
                old += population[sex * N_AGES + group]
    return total, old


# Units are projected in blocks so that a block's state (3 arrays of 36 × BLOCK doubles, about
# 220 kB) stays in the core's L2 cache across the ten steps: without blocking the state of all
# 2,456 municipalities (2 MB) streams from memory every step and two threads fight for it.
UNIT_BLOCK = 256


@njit(cache=True, inline="always")
def _migrate_block(
    count, current, intensity, return_share, emigration, stayers, emigrants, returns
) -> None:
    """Emigration and returns of the first ``count`` units of a block (cells × units layout)."""
    for unit in range(count):
        emigrants[unit] = 0.0
        returns[unit] = 0.0
    for cell in range(N_SEXES * N_AGES):
        schedule = emigration[cell]
        for unit in range(count):
            leaving = current[cell, unit] * _step_probability(intensity[unit] * schedule)
            coming_back = return_share[unit] * leaving
            stayers[cell, unit] = current[cell, unit] - leaving + coming_back
            emigrants[unit] += leaving
            returns[unit] += coming_back


@njit(cache=True, inline="always")
def _age_and_bear_block(
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
def _block_totals(count, state, totals) -> float:
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
        _scenario_schedules(
            row, hazard, n_steps, survival, birth_survival, tfr, emigration, weights
        )
        flat_survival = survival.reshape((n_steps, n_cells))
        flat_emigration = emigration.reshape((n_steps, n_cells))
        male_birth_share = row[SEX_RATIO_BIRTH] / (1.0 + row[SEX_RATIO_BIRTH])
        current = np.empty((n_cells, UNIT_BLOCK))
        following = np.empty((n_cells, UNIT_BLOCK))
        stayers = np.empty((n_cells, UNIT_BLOCK))
        vectors = np.empty((9, UNIT_BLOCK))
        intensity = vectors[0]
        return_share = vectors[1]
        start = vectors[2]
        previous = vectors[3]
        totals = vectors[4]
        births = vectors[5]
        deaths = vectors[6]
        emigrants = vectors[7]
        returns = vectors[8]
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
            old_by_step[0] += _block_totals(count, current, start)
            for unit in range(count):
                previous[unit] = start[unit]
            for step in range(n_steps + 1):
                if step > 0:
                    _migrate_block(
                        count,
                        current,
                        intensity,
                        return_share,
                        flat_emigration[step - 1],
                        stayers,
                        emigrants,
                        returns,
                    )
                    _age_and_bear_block(
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
                    current, following = following, current
                    old_by_step[step] += _block_totals(count, current, totals)
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
