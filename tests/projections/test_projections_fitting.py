"""Batch least squares, fit statistics and shrinkage on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from migsys.projections.fitting import (
    fit_batch_least_squares,
    fit_summary,
)


def test_batch_least_squares_recovers_known_parameters():
    rng = np.random.default_rng(7)
    t = np.linspace(0.0, 10.0, 40)
    truth = np.array([3.0, 0.25])
    observed = truth[0] * np.exp(-truth[1] * t) + rng.normal(0.0, 0.01, t.size)
    batch_sizes = []

    def residuals(rows: np.ndarray) -> np.ndarray:
        batch_sizes.append(rows.shape[0])
        return rows[:, :1] * np.exp(-rows[:, 1:2] * t[None, :]) - observed[None, :]

    fit = fit_batch_least_squares(
        residuals, np.array([1.0, 1.0]), np.zeros(2), np.array([10.0, 5.0])
    )
    assert fit.success
    np.testing.assert_allclose(fit.values, truth, rtol=0.02)
    # the truth lies within a few standard errors, and the errors are small but not zero
    assert np.all(np.abs(fit.values - truth) < 5 * fit.standard_errors)
    assert np.all(fit.standard_errors > 0)
    assert max(batch_sizes) == 3  # the point and its two neighbours in one call


def test_batch_least_squares_refuses_a_start_outside_bounds():
    with pytest.raises(ValueError, match="start: every value must lie within"):
        fit_batch_least_squares(lambda r: r, np.array([2.0]), np.array([0.0]), np.array([1.0]))


def test_fit_summary_by_hand():
    summary = fit_summary(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]))
    assert summary.rmse == pytest.approx(np.sqrt(1 / 3))
    assert summary.mape == pytest.approx((1 / 3) / 3)
    assert summary.r2 == pytest.approx(1 - 1 / 2)
    assert summary.n_obs == 3
