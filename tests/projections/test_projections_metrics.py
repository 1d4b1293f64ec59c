"""Backtest scores and naive baselines on small hand-made examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from migsys.projections.metrics import (
    LAST_PERIOD_GROWTH,
    NATIONAL_GROWTH,
    ZERO_GROWTH,
    annual_growth_rate,
    baseline_projections,
    growth_sign_share,
    score,
)


def test_scores_of_a_hand_made_projection():
    base = np.array([100.0, 200.0, 50.0, 80.0])
    observed = np.array([110.0, 180.0, 50.0, 100.0])
    projected = np.array([121.0, 189.0, 45.0, 80.0])
    # APE: 11/110 = 0.1, 9/180 = 0.05, 5/50 = 0.1, 20/100 = 0.2
    result = score(base, projected, observed)
    assert result.n_units == 4
    assert result.mean_ape == pytest.approx((0.1 + 0.05 + 0.1 + 0.2) / 4)
    assert result.median_ape == pytest.approx(0.1)
    # depopulating? observed: F, T, F(equal), F; projected: F, T, T, F(equal) -> 3 of 4 right
    assert result.sign_share == pytest.approx(0.75)


def test_zero_growth_counts_as_not_depopulating():
    base = np.array([10.0, 10.0, 10.0])
    observed = np.array([11.0, 9.0, 12.0])
    assert growth_sign_share(base, base, observed) == pytest.approx(2 / 3)


def test_baselines_from_the_last_period():
    previous = np.array([100.0, 100.0])
    base = np.array([121.0, 100.0])  # unit 0 grew 10 %/5y twice? no: 21 % over 10 years
    projections = baseline_projections(base, previous, period_years=10.0, years_ahead=5.0)
    np.testing.assert_allclose(projections[ZERO_GROWTH], base)
    own_rate = math.log(1.21) / 10
    np.testing.assert_allclose(
        projections[LAST_PERIOD_GROWTH], [121.0 * math.exp(own_rate * 5), 100.0]
    )
    national_rate = math.log(221.0 / 200.0) / 10
    np.testing.assert_allclose(projections[NATIONAL_GROWTH], base * math.exp(national_rate * 5))


def test_last_period_growth_continued_is_exact_for_steady_growth():
    previous = np.array([50.0, 400.0])
    base = previous * np.exp(np.array([0.02, -0.01]) * 5)
    observed = base * np.exp(np.array([0.02, -0.01]) * 10)
    projected = baseline_projections(base, previous, 5.0, 10.0)[LAST_PERIOD_GROWTH]
    result = score(base, projected, observed)
    assert result.mean_ape == pytest.approx(0.0, abs=1e-12)
    assert result.sign_share == 1.0


def test_growth_rate_is_continuous():
    assert annual_growth_rate(100.0, 100.0 * math.e, 10.0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("base", "projected", "observed", "message"),
    [
        ([1.0, 2.0], [1.0], [1.0, 2.0], "shapes differ"),
        ([1.0], [1.0], [0.0], "observed: every value must be > 0"),
        ([1.0], [np.nan], [1.0], "projected: every value must be finite"),
        ([], [], [], "no unit"),
    ],
)
def test_bad_inputs_are_named(base, projected, observed, message):
    with pytest.raises(ValueError, match=message):
        score(np.array(base), np.array(projected), np.array(observed))


def test_negative_horizon_is_refused():
    with pytest.raises(ValueError, match="years: must be > 0"):
        annual_growth_rate(1.0, 2.0, 0.0)
