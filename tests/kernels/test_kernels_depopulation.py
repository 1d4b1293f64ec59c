"""Depopulation kernel: agreement with its NumPy twin, accounting invariants, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_inputs import random_depopulation_params, random_units

from migsys.kernels import set_threads
from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, default_params, parameter_index
from migsys.kernels.depopulation import (
    N_DEGREES,
    DepopulationUnits,
    project_depopulation,
)
from migsys.kernels.depopulation_ages import quasi_stable_age_shares, stable_age_shares
from migsys.kernels.depopulation_indicators import (
    emigration_intensity_from_indicators,
    return_intensity_from_indicators,
)
from migsys.kernels.reference import project_depopulation_numpy

SCALE = parameter_index(DEPOPULATION_PARAMETERS, "emigration_scale")
RETURN_SCALE = parameter_index(DEPOPULATION_PARAMETERS, "return_scale")
E0_GAIN = parameter_index(DEPOPULATION_PARAMETERS, "e0_gain")
TFR_BASE = parameter_index(DEPOPULATION_PARAMETERS, "tfr_base")
TFR_TARGET = parameter_index(DEPOPULATION_PARAMETERS, "tfr_target")
EMIGRATION_TREND = parameter_index(DEPOPULATION_PARAMETERS, "emigration_trend")
GROWTH_SHOCK_SD = parameter_index(DEPOPULATION_PARAMETERS, "growth_shock_sd")
N_PARAMS = len(DEPOPULATION_PARAMETERS)


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = np.maximum(np.abs(expected), 1e-300)
    difference = np.abs(np.asarray(actual, float) - np.asarray(expected, float))
    return float(np.max(np.where(difference == 0, 0.0, difference / scale)))


@pytest.mark.parametrize("seed", range(6))
def test_kernel_matches_numpy_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    units = random_units(rng, int(rng.integers(2, 60)))
    params = random_depopulation_params(rng, int(rng.integers(1, 8)))
    horizon = 2000 + 5 * int(rng.integers(1, 11))
    kernel = project_depopulation(params, units, 2000, horizon, keep_trajectories=True)
    twin = project_depopulation_numpy(params, units, 2000, horizon, keep_trajectories=True)
    for name in (
        "national_population",
        "share_65plus",
        "unit_population",
        "births",
        "deaths",
        "emigrants",
        "returns",
    ):
        assert relative_error(getattr(kernel, name), getattr(twin, name)) < 1e-10, name
    for name in (
        "depopulating_units",
        "depopulating_by_degree",
        "units_below_75pct",
        "units_below_50pct",
        "years",
        "report_years",
    ):
        np.testing.assert_array_equal(getattr(kernel, name), getattr(twin, name), err_msg=name)


def test_accounting_holds_per_unit_and_population_stays_non_negative(rng) -> None:
    units = random_units(rng, 80)
    params = random_depopulation_params(rng, 5)
    params[0, SCALE] = 20.0  # the admissible maximum: heavy emigration must not go negative
    params[0, RETURN_SCALE] = 0.0
    result = project_depopulation(params, units, 2000, 2050, keep_trajectories=True)
    population = result.unit_population
    assert (population >= 0).all()
    change = population[:, 1:] - population[:, :-1]
    flows = result.births - result.deaths - result.emigrants + result.returns + result.shocks
    assert np.allclose(change, flows, rtol=0, atol=1e-10 * max(1.0, population.max()))
    assert (result.returns <= result.emigrants).all()
    np.testing.assert_allclose(population.sum(axis=2), result.national_population, rtol=1e-12)


def test_zero_emigration_gives_the_closed_population(rng) -> None:
    units = random_units(rng, 30)
    params = random_depopulation_params(rng, 3)
    without_flows = params.copy()
    without_flows[:, SCALE] = 0.0
    closed_units = DepopulationUnits(
        units.population, np.zeros(units.n_units), units.return_intensity, units.degree_code
    )
    scaled_off = project_depopulation(without_flows, units, 2000, 2040, keep_trajectories=True)
    intensity_off = project_depopulation(params, closed_units, 2000, 2040, keep_trajectories=True)
    assert (scaled_off.emigrants == 0).all() and (scaled_off.returns == 0).all()
    np.testing.assert_array_equal(scaled_off.unit_population, intensity_off.unit_population)
    change = np.diff(scaled_off.unit_population, axis=1)
    closed = scaled_off.births - scaled_off.deaths + scaled_off.shocks
    assert np.allclose(change, closed, rtol=0, atol=1e-8)


def test_population_decreases_monotonically_with_emigration_scale(rng) -> None:
    units = random_units(rng, 40)
    params = np.repeat(random_depopulation_params(rng, 1), 6, axis=0)
    params[:, SCALE] = np.linspace(0.0, 2.5, 6)
    result = project_depopulation(params, units, 2000, 2050, keep_trajectories=True)
    horizon = result.unit_population[:, -1, :]
    assert (np.diff(horizon, axis=0) <= 1e-9 * horizon.max()).all()
    assert (np.diff(result.national_population[:, -1]) < 0).all()
    assert (np.diff(result.emigrants.sum(axis=(1, 2))) > 0).all()


def test_full_returns_cancel_emigration(rng) -> None:
    units = random_units(rng, 20)
    units = DepopulationUnits(
        units.population, units.emigration_intensity, np.ones(units.n_units), units.degree_code
    )
    params = random_depopulation_params(rng, 2)
    params[:, RETURN_SCALE] = 1.0
    closed = params.copy()
    closed[:, SCALE] = 0.0
    with_returns = project_depopulation(params, units, 2000, 2030, keep_trajectories=True)
    without = project_depopulation(closed, units, 2000, 2030, keep_trajectories=True)
    np.testing.assert_allclose(with_returns.unit_population, without.unit_population, rtol=1e-12)


def test_summaries_agree_with_unit_trajectories(rng) -> None:
    units = random_units(rng, 120)
    params = random_depopulation_params(rng, 4)
    params[:, SCALE] = 2.5
    result = project_depopulation(params, units, 2000, 2060, keep_trajectories=True)
    population = result.unit_population
    falling = population[:, 1:] < population[:, :-1]
    np.testing.assert_array_equal(result.depopulating_units, falling.sum(axis=2))
    for degree in range(N_DEGREES):
        in_degree = falling[:, :, units.degree_code == degree].sum(axis=2)
        np.testing.assert_array_equal(result.depopulating_by_degree[:, :, degree], in_degree)
    base, end = population[:, 0], population[:, -1]
    np.testing.assert_array_equal(result.units_below_75pct, (end < 0.75 * base).sum(axis=1))
    np.testing.assert_array_equal(result.units_below_50pct, (end < 0.5 * base).sum(axis=1))
    assert result.units_below_50pct.max() > 0  # the test exercises the counter
    old = units.population[:, :, 13:].sum() / units.population.sum()
    np.testing.assert_allclose(result.share_65plus[:, 0], old, rtol=1e-12)


def test_report_years_select_grid_years(rng) -> None:
    units = random_units(rng, 10)
    params = default_params(DEPOPULATION_PARAMETERS, 2)
    full = project_depopulation(params, units, 2000, 2030, keep_trajectories=True)
    some = project_depopulation(params, units, 2000, 2030, report_years=[2030, 2010])
    np.testing.assert_array_equal(some.report_years, [2030, 2010])
    np.testing.assert_array_equal(some.unit_population, full.unit_population[:, [6, 2]])
    summary_only = project_depopulation(params, units, 2000, 2030)
    assert summary_only.unit_population is None and summary_only.births is None


def test_results_do_not_depend_on_thread_count(rng) -> None:
    units = random_units(rng, 50)
    params = random_depopulation_params(rng, 7)
    try:
        set_threads(1)
        one = project_depopulation(params, units, 2000, 2040)
        set_threads(2)
        two = project_depopulation(params, units, 2000, 2040)
    finally:
        set_threads(2)
    np.testing.assert_array_equal(one.national_population, two.national_population)
    np.testing.assert_array_equal(one.depopulating_by_degree, two.depopulating_by_degree)


def test_from_totals_keeps_totals(rng) -> None:
    total = rng.uniform(1e3, 1e5, 25)
    male = total * rng.uniform(0.46, 0.5, 25)
    units = DepopulationUnits.from_totals(
        total,
        male,
        total - male,
        rng.uniform(0, 0.02, 25),
        rng.uniform(0, 0.5, 25),
        rng.integers(0, 6, 25),
    )
    np.testing.assert_allclose(units.population.sum(axis=(1, 2)), total, rtol=1e-12)
    np.testing.assert_allclose(units.population[:, 0].sum(axis=1), male, rtol=1e-12)


def test_stable_structure_is_reproduced_under_constant_rates(rng) -> None:
    params = random_depopulation_params(rng, 1)
    intensity, returns = rng.uniform(0, 0.02, 25), rng.uniform(0, 0.5, 25)
    shares = stable_age_shares(params[0], intensity, returns)
    np.testing.assert_allclose(shares.sum(axis=(1, 2)), 1.0, rtol=1e-12)
    params[0, E0_GAIN] = 0.0
    params[0, TFR_TARGET] = params[0, TFR_BASE]
    params[0, EMIGRATION_TREND] = 0.0
    params[0, GROWTH_SHOCK_SD] = 0.0  # constant rates: no shock either
    units = DepopulationUnits(shares * 1e4, intensity, returns, rng.integers(0, 6, 25))
    result = project_depopulation_numpy(params, units, 2000, 2005, keep_trajectories=True)
    stepped = project_depopulation(
        params,
        DepopulationUnits(shares * 1e4, intensity, returns, units.degree_code),
        2000,
        2010,
        report_years=[2010],
    )
    growth = result.unit_population[0, 1] / result.unit_population[0, 0]
    np.testing.assert_allclose(stepped.unit_population[0, 0], 1e4 * growth**2, rtol=1e-9)


def test_quasi_stable_at_the_intrinsic_rate_is_the_stable_structure(rng) -> None:
    params = random_depopulation_params(rng, 1)
    intensity, returns = rng.uniform(0, 0.02, 12), rng.uniform(0, 0.5, 12)
    shares = stable_age_shares(params[0], intensity, returns)
    constant = params.copy()
    constant[0, E0_GAIN] = 0.0
    constant[0, TFR_TARGET] = constant[0, TFR_BASE]
    constant[0, EMIGRATION_TREND] = 0.0
    constant[0, GROWTH_SHOCK_SD] = 0.0
    units = DepopulationUnits(shares, intensity, returns, np.zeros(12))
    step = project_depopulation(constant, units, 2000, 2005, keep_trajectories=True)
    intrinsic = np.log(step.unit_population[0, 1] / step.unit_population[0, 0]) / 5.0
    quasi = quasi_stable_age_shares(params[0], intensity, returns, intrinsic)
    np.testing.assert_allclose(quasi, shares, rtol=1e-8, atol=1e-12)
    younger = quasi_stable_age_shares(params[0], intensity, returns, intrinsic + 0.01)
    assert (younger[:, :, :4].sum(axis=(1, 2)) > quasi[:, :, :4].sum(axis=(1, 2))).all()


def test_from_totals_checks_growth_rate() -> None:
    arguments = ([100.0], [50.0], [50.0], [0.01], [0.1], [0])
    with pytest.raises(ValueError, match=r"growth_rate: must lie in \[-0.1, 0.1\]"):
        DepopulationUnits.from_totals(*arguments, growth_rate=[0.5])
    with pytest.raises(ValueError, match="growth_rate: expected 1 entries"):
        DepopulationUnits.from_totals(*arguments, growth_rate=[0.01, 0.02])
    units = DepopulationUnits.from_totals(*arguments, growth_rate=[0.02])
    np.testing.assert_allclose(units.population.sum(), 100.0, rtol=1e-12)


def test_male_emigration_thins_young_men_in_the_stable_structure() -> None:
    params = default_params(DEPOPULATION_PARAMETERS)[0]
    shares = stable_age_shares(params, np.array([0.0, 0.02]), np.array([0.0, 0.0]))
    young_men_per_woman = shares[:, 0, 4:7].sum(axis=1) / shares[:, 1, 4:7].sum(axis=1)
    assert young_men_per_woman[1] < 0.9 * young_men_per_woman[0]
    births_men_per_woman = shares[:, 0, 0] / shares[:, 1, 0]
    np.testing.assert_allclose(births_men_per_woman, births_men_per_woman[0], rtol=0.02)


def test_indicator_conversions() -> None:
    rate = emigration_intensity_from_indicators([10.0, 0.0], [200.0, 50.0], [1000.0, 0.0])
    np.testing.assert_allclose(rate, [10 / 100 * 200 / 1000 / 5, 0.0])
    share = return_intensity_from_indicators([2.0, 5.0, 1.0], [4.0, 2.0, 0.0])
    np.testing.assert_allclose(share, [0.5, 1.0, 0.0])
    with pytest.raises(ValueError, match="pct_households_emigrants.*\\[0.0, 100.0\\]"):
        emigration_intensity_from_indicators([120.0], [1.0], [1.0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, u: (p[:, :5], u), rf"params: expected shape \(n_scenarios >= 1, {N_PARAMS}\)"),
        (lambda p, u: (p[0], u), "1-d array"),
        (
            lambda p, u: (np.where(np.arange(N_PARAMS) == 3, np.nan, p), u),
            r"params: must be finite",
        ),
        (
            lambda p, u: (np.where(np.arange(N_PARAMS) == SCALE, -0.1, p), u),
            r"params\[0, 8\] \(emigration_scale\) = -0.1 is outside its valid range \[0.0, 20.0\]",
        ),
        (lambda p, u: (p, "units"), "units: expected DepopulationUnits"),
    ],
)
def test_bad_params_raise_clear_errors(rng, change, message) -> None:
    params, units = change(default_params(DEPOPULATION_PARAMETERS, 2), random_units(rng, 3))
    with pytest.raises(ValueError, match=message):
        project_depopulation(params, units, 2000, 2010)


@pytest.mark.parametrize(
    ("base", "horizon", "message"),
    [
        (2000, 1995, r"horizon_year: must be after base_year \(2000\)"),
        (2000, 2000, "horizon_year: must be after base_year"),
        (2000, 2012, "multiple of 5 years"),
    ],
)
def test_bad_years_raise(rng, base, horizon, message) -> None:
    with pytest.raises(ValueError, match=message):
        project_depopulation(
            default_params(DEPOPULATION_PARAMETERS), random_units(rng, 2), base, horizon
        )


def test_repeated_report_year_raises(rng) -> None:
    with pytest.raises(ValueError, match="report_years: must not repeat a year"):
        project_depopulation(
            default_params(DEPOPULATION_PARAMETERS),
            random_units(rng, 2),
            2000,
            2010,
            report_years=[2005, 2005],
        )


def test_off_grid_report_year_raises(rng) -> None:
    with pytest.raises(ValueError, match="report_years: 2003 is not on the projection grid"):
        project_depopulation(
            default_params(DEPOPULATION_PARAMETERS),
            random_units(rng, 2),
            2000,
            2010,
            report_years=[2003],
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("population", -np.ones((3, 2, 18)), r"units.population: must lie in \[0.0, inf\]"),
        ("population", np.ones((3, 18)), r"units.population: expected 3 dimensions"),
        ("population", np.ones((3, 2, 17)), r"expected shape \(n_units >= 1, 2, 18\)"),
        (
            "emigration_intensity",
            [0.1, 1.5, 0.0],
            r"emigration_intensity: must lie in \[0.0, 1.0\]",
        ),
        ("emigration_intensity", [0.1, np.inf, 0.0], "emigration_intensity: must be finite"),
        ("return_intensity", [0.1, 0.2], "return_intensity: expected 3 entries"),
        ("degree_code", [0, 6, 1], r"degree_code: must lie in \[0, 5\]"),
        ("degree_code", [0, 1.5, 1], "degree_code: must be whole numbers"),
        ("remittance_household_share", [0.1, -0.2, 0.0], "remittance_household_share: must lie"),
    ],
)
def test_bad_units_raise(field, value, message) -> None:
    good = {
        "population": np.ones((3, 2, 18)),
        "emigration_intensity": [0.01, 0.0, 0.02],
        "return_intensity": [0.1, 0.0, 0.3],
        "degree_code": [0, 5, 2],
    }
    good[field] = value
    with pytest.raises(ValueError, match=message):
        DepopulationUnits(**good)


def test_from_totals_rejects_inconsistent_sexes() -> None:
    with pytest.raises(ValueError, match="male \\+ female must be within 1 % of total: unit 1"):
        DepopulationUnits.from_totals(
            [100.0, 100.0], [50.0, 70.0], [50.0, 50.0], [0.0, 0.0], [0.0, 0.0], [0, 1]
        )


def test_growth_shock_is_non_persistent_mean_one_and_off_at_zero(rng) -> None:
    units = random_units(rng, 4000, with_households=False)
    params = default_params(DEPOPULATION_PARAMETERS, 2)
    params[1, GROWTH_SHOCK_SD] = 0.02
    result = project_depopulation(params, units, 2000, 2020, keep_trajectories=True)
    assert (result.shocks[0] == 0).all()  # no shock, nothing changes
    with_people = result.unit_population[0, 0] > 0
    ratio = result.unit_population[1] / np.where(
        result.unit_population[0] > 0, result.unit_population[0], 1
    )
    log_steps = np.diff(np.log(ratio[:, with_people]), axis=0)  # the shock of each step
    scale = 0.02 * np.sqrt(5)
    assert np.std(log_steps) == pytest.approx(scale, rel=0.05)
    assert np.mean(ratio[1:, with_people]) == pytest.approx(1.0, abs=0.003)  # mean one in levels
    # fresh draws each step: consecutive shocks are uncorrelated
    assert abs(np.corrcoef(log_steps[0], log_steps[1])[0, 1]) < 0.05
