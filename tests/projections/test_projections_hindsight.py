"""The hindsight bound: a fit on the realised outcomes, scored out of fold, never a forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from census_panels import generated_panel

from migsys.projections.baselines import SINGLE_BASELINES, baseline_forecasts
from migsys.projections.depopulation import DepopulationData
from migsys.projections.hindsight import hindsight_bound


def _data(panel) -> DepopulationData:
    empty = pd.DataFrame(columns=["index_year", "cve_mun", "households"])
    return DepopulationData(panel, np.full(panel.population.shape, 0.5), empty)


def test_the_bound_knows_the_relation_no_extrapolation_can():
    # growth persists at 0.8 around a state mean: the fit on the outcomes learns that relation,
    # so out of fold it beats every baseline, and in sample it does at least as well again
    panel = generated_panel(1500, seed=3, growth_sd=0.01, persistence=0.8)
    bound = hindsight_bound(_data(panel), 2005, 2010)
    forecasts = baseline_forecasts(panel, 2005, np.array([panel.date(2010)]))
    observed = panel.level(2010)
    best = min(
        float(np.nanmedian(np.abs(forecasts[method][:, 0] / observed - 1)))
        for method in SINGLE_BASELINES
    )
    assert bound.n_units == 1500
    assert bound.out_of_fold_mdape < best
    assert bound.in_sample_mdape <= bound.out_of_fold_mdape * 1.05


def test_the_bound_reads_the_outcome_it_is_scored_on():
    panel = generated_panel(600, seed=4)
    data = _data(panel)
    moved = panel.population.copy()
    moved[:, panel.column(2010)] *= np.exp(np.random.default_rng(0).normal(0, 0.05, 600))
    honest = hindsight_bound(data, 2005, 2010)
    shocked = hindsight_bound(_data(panel.replace_population(moved)), 2005, 2010)
    # noise no predictor knows of shows up in the bound: it is a floor, not a forecast
    assert shocked.out_of_fold_mdape > 1.4 * honest.out_of_fold_mdape


def test_the_pair_must_be_two_enumerations_in_order():
    data = _data(generated_panel(300, seed=1))
    with pytest.raises(ValueError, match="2010 -> 2005 must be two enumerations in order"):
        hindsight_bound(data, 2010, 2005)
    with pytest.raises(ValueError, match="2005 -> 2015 must be two enumerations"):
        hindsight_bound(data, 2005, 2015)


def test_the_bound_gets_the_direction_of_a_known_process():
    panel = generated_panel(1500, seed=3, growth_sd=0.01, persistence=0.8)
    bound = hindsight_bound(_data(panel), 2005, 2010)
    fell = panel.level(2010) < panel.level(2005)
    # 85 % of units grow (state means around 1.5 %/yr): the fit knows who falls, so it beats
    # "nobody falls" (0.85 here; it reaches 0.90)
    assert bound.out_of_fold_direction > (1 - fell.mean()) + 0.03
