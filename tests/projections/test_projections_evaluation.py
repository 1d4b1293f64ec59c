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
    depopulation_origin,
    evaluate_depopulation,
    remittance_origin,
    remittance_quantiles,
)
from migsys.projections.intervals import central_half_width, error_profile
from migsys.projections.methods import INTERVAL_RULES, PER_HORIZON, PER_ROOT_YEAR, PER_YEAR
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
    """(pseudo-origin, horizon, error per √year) of forecasts 1–3 years ahead, alternating in
    sign, of the given size per origin."""
    return [
        (origin, horizon, size * (-1) ** (origin + horizon))
        for origin, size in size_by_origin.items()
        for horizon in (1, 2, 3)
    ]


@pytest.mark.parametrize("rule", INTERVAL_RULES)
def test_a_calm_spell_does_not_narrow_the_remittance_band(rule):
    """Large errors through 2007 (a boom and a bust), small ones after: at 2016 the band still
    holds the earlier regimes' errors, under every rule."""
    errors = _errors({year: 0.2 if year < 2008 else 0.01 for year in range(1999, 2016)})
    quantiles = remittance_quantiles(errors, 2016, np.array([1, 2, 3]), rule)
    at_2008 = remittance_quantiles(
        [e for e in errors if e[0] + e[1] <= 2008], 2008, np.array([1, 2, 3]), rule
    )
    for horizon in range(3):
        p95_half_width = central_half_width(quantiles[horizon], 0.9)
        # 9 of the 17 forecast years were calm: the 90 % band reaches the big errors
        assert p95_half_width >= 0.2 * np.sqrt(horizon + 1) * 0.99, (rule, horizon)
        assert p95_half_width >= 0.99 * central_half_width(at_2008[horizon], 0.9)


def test_the_interval_rules_scale_the_errors_with_the_horizon_as_they_say():
    errors = _errors(dict.fromkeys(range(1990, 2016), 0.1))  # |error| = 0.1 √h at every horizon
    horizons = np.array([1, 2, 3, 4])
    root = remittance_quantiles(errors, 2016, horizons, PER_ROOT_YEAR)
    year = remittance_quantiles(errors, 2016, horizons, PER_YEAR)
    same = remittance_quantiles(errors, 2016, horizons, PER_HORIZON)
    np.testing.assert_allclose(root[:, -1], 0.1 * np.sqrt(horizons))
    # per year: the errors 0.1, 0.071, 0.058 per year, times the horizon
    assert year[0, -1] == pytest.approx(0.1) and year[3, -1] == pytest.approx(0.4)
    # per horizon: the errors of that horizon as they were; none at 4 years: per √year
    np.testing.assert_allclose(same[:3, -1], 0.1 * np.sqrt(horizons[:3]))
    np.testing.assert_allclose(same[3], root[3])


def test_interval_rules_read_only_realised_errors_and_need_three():
    errors = _errors({2001: 0.2, 2002: 0.01})
    assert remittance_quantiles(errors, 2002, np.array([1]), PER_ROOT_YEAR) is None
    realised = remittance_quantiles(errors, 2003, np.array([1]), PER_ROOT_YEAR)
    # realised by 2003: 2001+1, 2001+2 and 2002+1, never the forecasts of 2004 or 2005
    expected = error_profile(np.array([0.2, 0.2, 0.01]), np.zeros(3), np.zeros(3)).pooled
    np.testing.assert_allclose(realised[0], expected)
    with pytest.raises(ValueError, match="unknown 'window'"):
        remittance_quantiles(errors, 2004, np.array([1]), "window")


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
