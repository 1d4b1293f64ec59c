"""The published method is chosen by a rule that sees only the early pairs: by hand on small
tables, and structurally — outcomes after the limit cannot move the choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from census_panels import generated_panel

from migsys.projections import remittance_forecast as rf
from migsys.projections.depopulation import DepopulationData
from migsys.projections.evaluation import (
    evaluate_depopulation,
    municipal_choice,
    remittance_choice,
)
from migsys.projections.methods import (
    INTERVAL_RULES,
    MODEL,
    MUNICIPAL_CANDIDATES,
    PER_HORIZON,
    PER_ROOT_YEAR,
    REMITTANCE_CANDIDATES,
)
from migsys.projections.selection import (
    NO_PAIR_RULE,
    choose_municipal_method,
    choose_remittance_method,
    selection_rows,
)


def _municipal_rows(mdape: dict[tuple[int, int], dict[str, float]]) -> pd.DataFrame:
    rows = []
    for (origin, target), by_method in mdape.items():
        for method in MUNICIPAL_CANDIDATES:
            rows.append(
                {
                    "kernel": "depopulation",
                    "origin": origin,
                    "target_year": target,
                    "method": method,
                    "size_class": "all",
                    "mdape": by_method.get(method, 0.10),
                }
            )
    return pd.DataFrame(rows)


def test_the_rule_sees_only_the_pairs_up_to_its_limit():
    rows = _municipal_rows({(2000, 2010): {}, (2010, 2020): {}})
    seen = selection_rows(rows, "depopulation")
    assert set(seen["target_year"]) == {2010}
    with pytest.raises(ValueError, match=r"2010 -> 2020 has a target after 2010"):
        choose_municipal_method(rows)
    remittances = pd.DataFrame(
        {"kernel": "remittances", "origin": [2011, 2012], "target_year": [2012, 2013]}
    )
    assert list(selection_rows(remittances, "remittances")["target_year"]) == [2012]
    with pytest.raises(ValueError, match=r"2012 -> 2013 has a target after 2012"):
        choose_remittance_method(remittances.assign(interval_rule=PER_ROOT_YEAR))


def test_the_municipal_rule_takes_the_lowest_geometric_mean_over_the_best_baseline():
    # best single baseline: linear 0.06 at 2000->2005, damped trend 0.05 at 2000->2010
    rows = _municipal_rows(
        {
            (2000, 2005): {"linear": 0.06, MODEL: 0.054, "model_and_average": 0.06},
            (2000, 2010): {"damped_trend": 0.05, MODEL: 0.07, "model_and_average": 0.045},
        }
    )
    choice = choose_municipal_method(rows)
    # model: sqrt(0.9 × 1.4) = 1.12; model_and_average: sqrt(1.0 × 0.9) = 0.949
    assert choice.method == "model_and_average"
    record = choice.record.set_index("candidate")
    assert record.loc["model_and_average", "value"] == pytest.approx(np.sqrt(0.9))
    assert record.loc[MODEL, "value"] == pytest.approx(np.sqrt(0.9 * 1.4))
    assert record["is_chosen"].sum() == 1 and record.loc["linear", "role"] == "single_baseline"
    assert choice.pairs == ((2000, 2005), (2000, 2010))


def test_a_tie_goes_to_the_earlier_candidate_and_a_pair_needs_every_candidate():
    rows = _municipal_rows({(2000, 2010): {}})  # every candidate 0.10: a tie
    assert choose_municipal_method(rows).method == MUNICIPAL_CANDIDATES[0]
    # 1995 -> 2000: the model cannot run at 1995, so the pair is not one the rule compares on
    early = _municipal_rows({(1995, 2000): {"linear": 0.01}})
    early = early[early["method"] != MODEL]
    choice = choose_municipal_method(pd.concat([early, rows]))
    assert choice.pairs == ((2000, 2010),) and choice.method == MODEL
    none = choose_municipal_method(early)
    assert none.method == MODEL and none.rule == NO_PAIR_RULE
    assert none.record["is_chosen"].sum() == 1


def test_the_remittance_rule_takes_the_method_then_its_interval_rule():
    rows = []
    for origin in (2005, 2006):
        for method in REMITTANCE_CANDIDATES:
            for rule in INTERVAL_RULES:
                rows.append(
                    {
                        "kernel": "remittances",
                        "origin": origin,
                        "target_year": origin + 1,
                        "method": method,
                        "size_class": "all",
                        "mape": {"drift": 0.05}.get(method, 0.10),
                        "interval_score": {PER_HORIZON: 0.2}.get(rule, 0.3),
                        "interval_rule": rule,
                    }
                )
    choice = choose_remittance_method(pd.DataFrame(rows))
    assert (choice.method, choice.interval_rule) == ("drift", PER_HORIZON)
    record = choice.record.set_index(["choice", "candidate"])
    assert record.loc[("method", "drift"), "value"] == pytest.approx(0.05)
    assert record.loc[("interval_rule", PER_HORIZON), "is_chosen"]


def _with_2020(seed: int) -> DepopulationData:
    years = (1990, 1995, 2000, 2005, 2010, 2020)
    panel = generated_panel(400, seed=seed, persistence=0.5, count_noise=0.01, years=years)
    rng = np.random.default_rng(seed)
    male = rng.uniform(0.47, 0.52, panel.population.shape)
    empty = pd.DataFrame(columns=["index_year", "cve_mun", "households"])
    return DepopulationData(panel, male, empty)


def test_outcomes_after_2010_cannot_change_the_municipal_choice():
    data = _with_2020(seed=3)
    honest = evaluate_depopulation(data, future_years=(2030,))
    # a different 2020: every municipality moved by up to ±40 %
    population = data.panel.population.copy()
    population[:, -1] *= np.random.default_rng(9).uniform(0.6, 1.4, population.shape[0])
    changed = DepopulationData(
        data.panel.replace_population(population), data.male_share, data.indicators
    )
    other = evaluate_depopulation(changed, future_years=(2030,))
    assert 2020 in set(honest.skill["target_year"])  # the later pairs are scored...
    assert not honest.skill.equals(other.skill)  # ...and they differ
    pd.testing.assert_frame_equal(honest.choice.record, other.choice.record)  # the choice does not
    assert honest.choice.method == other.choice.method
    # the rule computed on the data cut at 2010 is the same choice
    pd.testing.assert_frame_equal(municipal_choice(data).record, honest.choice.record)
    published = honest.forecasts
    assert set(published["method"]) == {honest.choice.method}
    assert set(published["origin"]) >= {2000, 2005, 2010, 2020}


def _remittances_to_2020(surge: float) -> rf.RemittanceData:
    """Remittances growing 4 %/yr with the stock and the US economy; from 2013 an extra
    ``surge`` per year that no origin up to 2012 could know."""
    rng = np.random.default_rng(4)
    years = np.arange(1995, 2021)
    index = pd.Index(years)
    gdp = np.exp(np.log(7.6e12) + np.cumsum(np.r_[0, rng.normal(0.045, 0.02, years.size - 1)]))
    stock_years = np.arange(1990, 2021, 5)
    stock = pd.Series(6.8e6 * np.exp(0.03 * (stock_years - 1995)), index=stock_years)
    extra = surge * np.maximum(years - 2012, 0)
    operations = np.exp(
        np.log(1.5e7) + 0.04 * (years - 1995) + 0.45 * (years >= 2003) + extra
    ) * np.exp(rng.normal(0, 0.03, years.size))
    return rf.RemittanceData(
        pd.Series(operations * 320.0, index=index),
        pd.Series(operations, index=index),
        pd.Series(10.0 * np.exp(rng.normal(0, 0.05, years.size)), index=index),
        pd.Series(gdp, index=index),
        stock,
    )


@pytest.mark.slow
def test_outcomes_after_2012_cannot_change_the_remittance_choice():
    calm = remittance_choice(_remittances_to_2020(surge=0.0))
    surge = remittance_choice(_remittances_to_2020(surge=0.15))
    pd.testing.assert_frame_equal(calm.record, surge.record)
    assert (calm.method, calm.interval_rule) == (surge.method, surge.interval_rule)
    assert set(calm.record["pairs"]) <= {35}  # origins 2003-2011 to targets up to 2012
