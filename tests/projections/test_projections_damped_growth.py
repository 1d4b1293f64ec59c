"""Damped growth with count error: parameter recovery and calibrated prediction on generated data."""

from __future__ import annotations

import numpy as np
import pytest

from migsys.projections.damped_growth import (
    GrowthParameters,
    count_bias,
    estimate_class_parameters,
    predict,
)

DATES = np.array([1990.19, 1995.84, 2000.12, 2005.79, 2010.44])
IS_COUNT = np.array([False, True, False, True, False])


def simulate(theta, tau, noise, n_units, seed, dates=DATES, step=0.02, extra=()):
    """Log shares at ``dates`` (+ true values at ``extra`` dates) of an integrated OU growth."""
    rng = np.random.default_rng(seed)
    all_dates = np.r_[dates, extra]
    grid = np.arange(dates[0], all_dates.max() + step, step)
    u = rng.normal(0, tau, n_units)
    z = np.zeros(n_units)
    values = {}
    keep = {int(np.argmin(np.abs(grid - d))): i for i, d in enumerate(all_dates)}
    decay = np.exp(-theta * step)
    for k in range(grid.size):
        if k in keep:
            values[keep[k]] = z.copy()
        z = z + u * step
        u = u * decay + rng.normal(0, tau * np.sqrt(1 - decay**2), n_units)
    truth = np.column_stack([values[i] for i in range(all_dates.size)])
    observed = (
        truth[:, : dates.size]
        + rng.normal(0, noise, (n_units, dates.size)) * IS_COUNT[: dates.size]
    )
    return observed, truth[:, dates.size :]


def test_parameters_are_recovered_from_the_variogram():
    observed, _ = simulate(theta=0.1, tau=0.012, noise=0.04, n_units=6000, seed=3)
    (fitted,) = estimate_class_parameters(observed, np.zeros(6000, int), 1, DATES, IS_COUNT)
    assert fitted.theta == pytest.approx(0.1, rel=0.35)
    assert fitted.tau == pytest.approx(0.012, rel=0.15)
    assert fitted.count_noise == pytest.approx(0.04, rel=0.15)
    assert abs(fitted.drift) < 1e-3


def test_kriging_passes_through_a_census_and_smooths_a_count():
    params = GrowthParameters(0.0, 0.1, 0.01, 0.05, 1)
    observed = np.array([[0.0, 0.20, 0.10]])
    dates = DATES[:3]
    counts = IS_COUNT[:3]
    at_census = predict(params, observed, dates, counts, np.array([dates[2] + 1e-9]))
    assert at_census.mean[0, 0] == pytest.approx(0.10, abs=1e-6)
    assert at_census.sd[0, 0] == pytest.approx(0.0, abs=1e-3)
    at_count = predict(params, observed[:, :2], dates[:2], counts[:2], np.array([dates[1] + 1e-9]))
    assert 0.0 < at_count.mean[0, 0] < 0.20  # pulled from the noisy count towards the census


def test_predictive_sd_is_calibrated_on_the_generating_process():
    theta, tau, noise = 0.08, 0.01, 0.03
    target = np.array([2020.5])
    observed, future = simulate(theta, tau, noise, 4000, seed=11, extra=target)
    params = GrowthParameters(0.0, theta, tau, noise, 4000)
    forecast = predict(params, observed, DATES, IS_COUNT, target)
    z = (future[:, 0] - forecast.mean[:, 0]) / forecast.sd[:, 0]
    assert np.mean(np.abs(z) <= 1.6449) == pytest.approx(0.90, abs=0.02)
    assert np.mean(np.abs(z) <= 0.6745) == pytest.approx(0.50, abs=0.03)


def test_count_bias_is_the_offset_from_the_census_line():
    rng = np.random.default_rng(0)
    line = rng.normal(0, 0.1, (500, 1)) + 0.01 * (DATES - DATES[0])[None, :]
    shifted = line.copy()
    shifted[:, 1] -= 0.02  # the count under-enumerates by 2 %
    bias = count_bias(shifted, DATES, IS_COUNT)
    assert bias[1] == pytest.approx(-0.02, abs=1e-9)
    assert bias[3] == pytest.approx(0.0, abs=1e-9)  # measured between 2000 and 2010
    assert bias[[0, 2, 4]].tolist() == [0.0, 0.0, 0.0]
    # at a 2005 origin the count has no census after it: it borrows the 1995 offset
    at_origin = count_bias(shifted[:, :4], DATES[:4], IS_COUNT[:4])
    assert at_origin[3] == pytest.approx(-0.02, abs=1e-9)
