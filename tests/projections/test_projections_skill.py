"""Scores of a forecast against what happened, on hand-made examples."""

from __future__ import annotations

import numpy as np
import pytest

from migsys.projections.intervals import error_profile, probabilistic
from migsys.projections.skill import scores, scores_by_size


def test_point_scores_by_hand():
    base = np.array([100.0, 100.0, 100.0, 100.0])
    observed = np.array([110.0, 90.0, 100.0, 120.0])
    p50 = np.array([121.0, 99.0, 95.0, 120.0])
    out = scores(base, observed, p50, None, None)
    ape = np.abs(p50 - observed) / observed
    assert out["mdape"] == pytest.approx(np.median(ape))
    assert out["mape"] == pytest.approx(np.mean(ape))
    assert out["median_log_error"] == pytest.approx(np.median(np.log(p50 / observed)))
    # falls: observed [F, T, F(zero growth is not falling), F]; forecast [F, T, T, F]
    assert out["direction_accuracy"] == pytest.approx(0.75)
    assert out["crps"] is None and out["coverage_90"] is None
    # one fall observed (unit 2), two called (units 2 and 3): recall 1, precision 1/2
    assert out["decline_recall"] == pytest.approx(1.0)
    assert out["decline_precision"] == pytest.approx(0.5)
    assert out["decline_f1"] == pytest.approx(2 * 0.5 / 1.5)


def test_decline_detection_is_undefined_without_falls_or_calls():
    base = np.full(3, 100.0)
    grew = scores(base, np.full(3, 110.0), np.array([90.0, 120.0, 130.0]), None, None)
    assert grew["decline_recall"] is None and grew["decline_f1"] is None
    assert grew["decline_precision"] == pytest.approx(0.0)
    none_called = scores(base, np.array([90.0, 110.0, 95.0]), np.full(3, 105.0), None, None)
    assert none_called["decline_recall"] == pytest.approx(0.0)
    assert none_called["decline_precision"] is None
    assert none_called["decline_f1"] == pytest.approx(0.0)  # two fell, none called
    missed = scores(
        base, np.array([90.0, 110.0, 120.0]), np.array([105.0, 95.0, 120.0]), None, None
    )
    assert missed["decline_f1"] == pytest.approx(0.0)


def test_a_point_ensemble_scores_its_absolute_log_error():
    observed = np.array([100.0, 200.0])
    ensemble = np.log(np.array([[110.0] * 4, [150.0] * 4]))
    out = scores(observed, observed, np.array([110.0, 150.0]), None, ensemble)
    expected = np.mean(np.abs(np.log([110 / 100, 150 / 200])))
    assert out["crps"] == pytest.approx(expected)


def test_coverage_counts_units_inside_the_intervals():
    observed = np.array([10.0, 20.0, 30.0, 40.0])
    p50 = observed.copy()
    bounds = (observed * 0.9, observed * 0.95, observed * 1.05, np.array([11.0, 21.0, 29.0, 39.0]))
    out = scores(observed, observed, p50, bounds, None)
    assert out["coverage_90"] == pytest.approx(0.5)
    assert out["coverage_50"] == pytest.approx(1.0)


def test_interval_score_is_the_width_plus_the_penalised_miss_in_logs():
    observed = np.array([100.0, 100.0])
    p05, p95 = np.array([90.0, 110.0]), np.array([120.0, 130.0])
    p25, p75 = np.array([95.0, 115.0]), np.array([105.0, 125.0])
    out = scores(observed, observed, observed, (p05, p25, p75, p95), None)
    width_90 = np.log(p95 / p05)
    width_50 = np.log(p75 / p25)
    miss_90 = np.array([0.0, np.log(110 / 100)]) * 2 / 0.1
    miss_50 = np.array([0.0, np.log(115 / 100)]) * 2 / 0.5
    expected = np.mean(0.5 * (width_90 + miss_90) + 0.5 * (width_50 + miss_50))
    assert out["interval_score"] == pytest.approx(expected)


def test_rows_per_size_class():
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 1000, 50)
    rows = scores_by_size(base, base * 1.1, base * 1.05, None, None, np.arange(50) % 5)
    assert [row["size_class"] for row in rows] == ["all", "q1", "q2", "q3", "q4", "q5"]
    assert sum(row["n_units"] for row in rows[1:]) == rows[0]["n_units"] == 50


def test_empirical_intervals_are_symmetric_and_nominal_on_their_own_errors():
    rng = np.random.default_rng(1)
    errors = rng.normal(0, 1, 20_000)
    size = rng.integers(0, 5, errors.size)
    growth = rng.integers(0, 3, errors.size)
    profile = error_profile(errors, size, growth)
    point = np.full((4000, 1), 1000.0)
    scale = np.full((4000, 1), 0.05)
    forecast = probabilistic(point, scale, profile.quantiles_for(size[:4000], growth[:4000]))
    np.testing.assert_allclose(forecast.p50, point)
    np.testing.assert_allclose(np.log(forecast.p95 / point), -np.log(forecast.p05 / point))
    fresh = point[:, 0] * np.exp(0.05 * rng.normal(0, 1, 4000))
    inside = (fresh >= forecast.p05[:, 0]) & (fresh <= forecast.p95[:, 0])
    assert inside.mean() == pytest.approx(0.90, abs=0.02)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="observed values must be finite and > 0"):
        scores(np.array([1.0]), np.array([0.0]), np.array([1.0]), None, None)
    with pytest.raises(ValueError, match="no unit to score"):
        scores(np.array([]), np.array([]), np.array([]), None, None)
