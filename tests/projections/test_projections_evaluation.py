"""Rolling-origin evaluation: no leakage, calibrated intervals on a known process, the skill grain."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from census_panels import generated_panel
from projection_warehouses import (
    REMITTANCE_TRUTH,
    depopulation_truth,
    depopulation_warehouse,
    remittance_warehouse,
)

from migsys.projections import remittance_forecast as rf
from migsys.projections.depopulation import DepopulationData, read_depopulation_data
from migsys.projections.evaluation import (
    MODEL,
    choose_error_window,
    depopulation_origin,
    evaluate_depopulation,
    interval_errors,
    remittance_origin,
)
from migsys.projections.intervals import interval_score
from migsys.projections.skill import SKILL_COLUMNS

QUANTILES = ("p05", "p25", "p50", "p75", "p95")


@pytest.fixture(scope="module")
def kernel_data() -> DepopulationData:
    con = depopulation_warehouse(depopulation_truth(), years=(1990, 1995, 2000, 2005, 2010))
    try:
        data = read_depopulation_data(con)
    finally:
        con.close()
    # a later CONAPO index, which an origin before 2010 must not see either
    later = data.indicators.assign(index_year=2010)
    return dataclasses.replace(data, indicators=pd.concat([data.indicators, later]))


def _times_ten_after(data: DepopulationData, origin: int) -> DepopulationData:
    panel = data.panel
    population = panel.population.copy()
    later = np.array([year > origin for year in panel.years])
    population[:, later] *= 10
    indicators = data.indicators.copy()
    after = indicators["index_year"] > origin
    for column in ("households", "pct_households_emigrants", "pct_households_return"):
        indicators.loc[after, column] = np.minimum(indicators.loc[after, column] * 10, 100)
    return DepopulationData(panel.replace_population(population), data.male_share, indicators)


@pytest.mark.parametrize("origin", [2000, 2005])
def test_no_depopulation_leakage(kernel_data, origin):
    years = [year for year in kernel_data.panel.years if year > origin] + [2030]
    honest = depopulation_origin(kernel_data, origin, years)
    tampered = depopulation_origin(_times_ten_after(kernel_data, origin), origin, years)
    assert MODEL in honest.forecasts
    for method, forecast in honest.forecasts.items():
        for name in QUANTILES:
            np.testing.assert_array_equal(
                getattr(forecast, name), getattr(tampered.forecasts[method], name), err_msg=method
            )
    # target years with no observation are projected too
    assert np.isfinite(honest.forecasts[MODEL].p50[:, -1]).all()


@pytest.mark.slow
def test_no_remittance_leakage():
    con = remittance_warehouse(REMITTANCE_TRUTH)
    try:
        data = rf.read_remittance_data(con)
    finally:
        con.close()
    origin = 2008
    tampered = rf.RemittanceData(*(s.where(s.index <= origin, s * 10) for s in data._series()))
    years = [2009, 2010, 2011, 2013, 2020]
    honest = remittance_origin(data, origin, years)
    other = remittance_origin(tampered, origin, years)
    for method, forecast in honest.forecasts.items():
        for name in QUANTILES:
            np.testing.assert_array_equal(
                getattr(forecast, name), getattr(other.forecasts[method], name), err_msg=method
            )


def _errors(size_by_origin: dict[int, float]) -> list[tuple[int, int, float]]:
    """(pseudo-origin, horizon, error) of forecasts 1–3 years ahead, alternating in sign, of the
    given size per origin."""
    return [
        (origin, horizon, size * (-1) ** (origin + horizon))
        for origin, size in size_by_origin.items()
        for horizon in (1, 2, 3)
    ]


def test_a_changed_regime_narrows_the_window_of_remittance_errors():
    # large errors through 2007, small ones after: the last three years' errors serve better
    errors = _errors({year: 0.2 if year < 2008 else 0.01 for year in range(1999, 2016)})
    assert choose_error_window(errors, 2016) == 3
    # a steady error size: every window does as well, and all the errors are kept
    steady = _errors(dict.fromkeys(range(1999, 2016), 0.05))
    assert choose_error_window(steady, 2016) is None


def test_the_window_is_chosen_on_realised_errors_only():
    errors = _errors({year: 0.2 if year < 2008 else 0.01 for year in range(1999, 2016)})
    # at 2008 no small error has been realised yet: nothing argues for a short window
    assert choose_error_window([e for e in errors if e[0] + e[1] <= 2008], 2008) is None
    # too few forecasts to score (fewer than three errors behind each): all the errors
    assert choose_error_window(_errors({2001: 0.2, 2002: 0.01}), 2006) is None


def test_intervals_use_the_chosen_window_or_every_error_when_it_is_empty():
    errors = _errors({year: 0.2 if year < 2008 else 0.01 for year in range(1999, 2016)})
    chosen = interval_errors(errors, 2016)
    assert chosen.size and np.all(np.abs(chosen) == 0.01)  # the last three years only
    # the forecasts of the last years could not run: the three-year window would be empty
    gap = [e for e in errors if e[0] < 2012]
    assert choose_error_window(gap, 2016) == 3
    assert interval_errors(gap, 2016).size == len(gap)


def test_interval_score_is_width_plus_the_penalised_miss():
    assert interval_score(0.1, 0.05, 0.1) == pytest.approx(0.2)
    assert interval_score(0.1, 0.3, 0.1) == pytest.approx(0.2 + 20 * 0.2)


def test_intervals_cover_at_their_nominal_rate_on_a_known_process():
    panel = generated_panel(3000, seed=5, growth_sd=0.008, persistence=0.6, count_noise=0.02)
    empty = pd.DataFrame(columns=["index_year", "cve_mun", "households"])
    data = DepopulationData(panel, np.full(panel.population.shape, 0.5), empty)
    result = depopulation_origin(data, 2005, [2010])
    rows = pd.DataFrame(result.skill)
    all_units = rows[rows["size_class"] == "all"].set_index("method")
    for method in (MODEL, "exponential", "damped_trend"):
        assert 0.84 <= all_units.loc[method, "coverage_90"] <= 0.96, method
        assert 0.40 <= all_units.loc[method, "coverage_50"] <= 0.60, method


def test_evaluation_rows_have_the_skill_grain(kernel_data):
    evaluation = evaluate_depopulation(kernel_data, future_years=(2020,))
    skill = evaluation.skill
    assert list(skill.columns) == list(SKILL_COLUMNS)
    key = ["kernel", "origin", "target_year", "method", "size_class"]
    assert not skill.duplicated(key).any()
    pairs = set(map(tuple, skill[["origin", "target_year"]].drop_duplicates().to_numpy()))
    assert pairs == {
        (1995, 2000),
        (1995, 2005),
        (1995, 2010),
        (2000, 2005),
        (2000, 2010),
        (2005, 2010),
    }
    model = skill[skill["method"] == MODEL]
    assert set(model["origin"]) == {2000, 2005}  # the model needs three enumerations
    # the kernel generated these data: the model is close to them
    assert model[model["size_class"] == "all"]["mdape"].max() < 0.02
    forecasts = evaluation.forecasts
    published = forecasts[forecasts["origin"] == 2010]
    assert set(published["year"]) == {2020}
    assert published["p50"].gt(0).all() and published["observed"].isna().all()
