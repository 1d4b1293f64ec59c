"""Remittance kernel: agreement with its NumPy twin, stock accounting, summaries, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_inputs import random_remittance_inputs, random_remittance_params

from migsys.kernels.defaults import REMITTANCE_PARAMETERS, default_params, parameter_index
from migsys.kernels.reference import project_remittances_numpy
from migsys.kernels.remittances import (
    RemittanceInputs,
    initial_stock_from_total,
    project_remittances,
)

SHARE = parameter_index(REMITTANCE_PARAMETERS, "remitter_share_initial")
GDP_GROWTH = parameter_index(REMITTANCE_PARAMETERS, "gdp_growth")
INFLOW = parameter_index(REMITTANCE_PARAMETERS, "inflow_base")


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = np.maximum(np.abs(expected), 1e-300)
    difference = np.abs(np.asarray(actual, float) - np.asarray(expected, float))
    return float(np.max(np.where(difference == 0, 0.0, difference / scale), initial=0.0))


@pytest.mark.parametrize("seed", range(8))
def test_kernel_matches_numpy_twin(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    inputs = random_remittance_inputs(rng)
    params = random_remittance_params(rng, int(rng.integers(1, 40)))
    base = int(rng.integers(1995, 2016))
    horizon = base + int(rng.integers(1, 60))
    arrivals = None
    if seed % 2:
        arrivals = rng.uniform(0, 6e5, (params.shape[0], horizon - base))
    kernel = project_remittances(params, inputs, base, horizon, arrivals=arrivals)
    twin = project_remittances_numpy(params, inputs, base, horizon, arrivals=arrivals)
    for name in kernel.__dataclass_fields__:
        assert relative_error(getattr(kernel, name), getattr(twin, name)) < 1e-10, name


def saltelli_like_params(rng: np.random.Generator, n_base: int) -> np.ndarray:
    """Rows A, AB_1 … AB_k, B per base as in a Saltelli design (each AB_j is A with column j of
    B): neighbouring rows share all but one parameter, so the kernel reuses schedules and
    observed-year factors between them."""
    a = random_remittance_params(rng, n_base)
    b = random_remittance_params(rng, n_base)
    rows = []
    for i in range(n_base):
        rows.append(a[i])
        for column in range(a.shape[1]):
            mixed = a[i].copy()
            mixed[column] = b[i, column]
            rows.append(mixed)
        rows.append(b[i])
    return np.array(rows)


def one_change_walk(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rows where each differs from the one before in exactly one parameter, every parameter in
    turn: any value the kernel reuses between neighbours must be keyed on all it depends on."""
    fresh = random_remittance_params(rng, n)
    rows = [fresh[0]]
    for i in range(1, n):
        row = rows[-1].copy()
        column = (i - 1) % fresh.shape[1]
        row[column] = fresh[i, column]
        rows.append(row)
    return np.array(rows)


def test_results_do_not_depend_on_batch_neighbours_or_threads(rng) -> None:
    """A scenario's numbers are the same bits alone, in any slice of a batch and with 1 or 2
    threads: what makes sweep results independent of chunk size and worker count."""
    import numba

    from migsys.kernels import get_threads, set_threads

    inputs = random_remittance_inputs(rng)
    params = np.concatenate([saltelli_like_params(rng, 6), one_change_walk(rng, 40)])
    whole = project_remittances(params, inputs, 2000, 2040)
    fields = [name for name in whole.__dataclass_fields__ if name != "years"]
    slices = [(0, 1), (7, 8), (5, 29), (19, params.shape[0])]
    slices += [(row, row + 1) for row in range(120, params.shape[0])]  # every row of the walk
    for start, stop in slices:
        part = project_remittances(params[start:stop], inputs, 2000, 2040)
        for name in fields:
            assert np.array_equal(getattr(part, name), getattr(whole, name)[start:stop]), name
    reversed_rows = project_remittances(params[::-1], inputs, 2000, 2040)
    for name in fields:
        assert np.array_equal(getattr(reversed_rows, name), getattr(whole, name)[::-1]), name
    previous = get_threads()
    try:
        set_threads(min(2, int(numba.config.NUMBA_NUM_THREADS)))
        threaded = project_remittances(params, inputs, 2000, 2040)
    finally:
        set_threads(previous)
    for name in fields:
        assert np.array_equal(getattr(threaded, name), getattr(whole, name)), name


def test_saltelli_rows_match_numpy_twin(rng) -> None:
    """Reused schedules and factors (neighbouring rows sharing parameters) stay exact."""
    inputs = random_remittance_inputs(rng)
    params = saltelli_like_params(rng, 4)
    arrivals = rng.uniform(0, 6e5, (params.shape[0], 30))
    for given in (None, arrivals):
        kernel = project_remittances(params, inputs, 2001, 2031, arrivals=given)
        twin = project_remittances_numpy(params, inputs, 2001, 2031, arrivals=given)
        for name in kernel.__dataclass_fields__:
            assert relative_error(getattr(kernel, name), getattr(twin, name)) < 1e-10, name


def test_stock_accounting_and_non_negativity(rng) -> None:
    inputs = random_remittance_inputs(rng)
    params = random_remittance_params(rng, 20)
    result = project_remittances(params, inputs, 2000, 2060)
    stock = result.migrant_stock
    flows = result.arrivals - result.returns - result.deaths
    np.testing.assert_allclose(np.diff(stock, axis=1), flows, rtol=0, atol=1e-6)
    for name in (
        "remittances_usd",
        "remittances_mxn",
        "receiving_households",
        "migrant_stock",
        "arrivals",
        "returns",
        "deaths",
    ):
        assert (getattr(result, name) >= 0).all(), name
    assert (result.remitters <= stock * (1 + 1e-12)).all()


def test_summaries_agree_with_yearly_paths(rng) -> None:
    inputs = random_remittance_inputs(rng)
    params = random_remittance_params(rng, 50)
    result = project_remittances(params, inputs, 2000, 2070)
    usd, pct = result.remittances_usd, result.remittances_pct_gdp
    np.testing.assert_array_equal(result.peak_value, usd.max(axis=1))
    np.testing.assert_array_equal(result.peak_year, result.years[np.argmax(usd, axis=1)])
    for row in range(params.shape[0]):
        below = np.flatnonzero(pct[row, 1:] < pct[row, 0])
        expected = result.years[below[0] + 1] if below.size else -1
        assert result.year_below_start[row] == expected
    assert (result.year_below_start == -1).any() or (result.year_below_start > 2000).all()


def test_observed_paths_are_used_and_extrapolated_by_growth(rng) -> None:
    inputs = random_remittance_inputs(rng, first_year=1995, n_years=21)  # data to 2015
    params = default_params(REMITTANCE_PARAMETERS, 2)
    params[1, GDP_GROWTH] = params[0, GDP_GROWTH] + 0.02
    result = project_remittances(params, inputs, 2005, 2030)
    observed_years = result.years <= 2015
    np.testing.assert_allclose(
        result.remittances_mxn[:, observed_years] / result.remittances_usd[:, observed_years],
        np.broadcast_to(inputs.usdmxn[10:], (2, 11)),
        rtol=1e-12,
    )
    gdp = 100.0 * result.remittances_usd / result.remittances_pct_gdp
    np.testing.assert_allclose(
        gdp[:, observed_years], np.broadcast_to(inputs.gdp_usd[10:], (2, 11)), rtol=1e-12
    )
    ahead = np.arange(1, 16)
    for row in range(2):
        expected = inputs.gdp_usd[-1] * (1 + params[row, GDP_GROWTH]) ** ahead
        np.testing.assert_allclose(gdp[row, ~observed_years], expected, rtol=1e-12)


def test_no_remitters_no_remittances_and_inflow_scales_stock(rng) -> None:
    inputs = random_remittance_inputs(rng)
    params = default_params(REMITTANCE_PARAMETERS, 3)
    params[0, SHARE] = 0.0
    params[2, INFLOW] = 2 * params[1, INFLOW]
    result = project_remittances(params, inputs, 2000, 2040)
    assert (result.remittances_usd[0] == 0).all() and (result.receiving_households[0] == 0).all()
    np.testing.assert_allclose(result.arrivals[2], 2 * result.arrivals[1], rtol=1e-12)
    assert (result.migrant_stock[2, 1:] > result.migrant_stock[1, 1:]).all()


def test_external_arrivals_replace_the_inflow_model(rng) -> None:
    inputs = random_remittance_inputs(rng)
    params = random_remittance_params(rng, 3)
    arrivals = rng.uniform(0, 5e5, (3, 20))
    result = project_remittances(params, inputs, 2000, 2020, arrivals=arrivals)
    np.testing.assert_array_equal(result.arrivals, arrivals)


def test_initial_stock_from_total() -> None:
    stock = initial_stock_from_total(1e7, n_durations=30)
    assert stock.shape == (30,) and (stock > 0).all()
    np.testing.assert_allclose(stock.sum(), 1e7, rtol=1e-12)
    assert stock[1] < stock[0]  # younger cohorts are larger when flows grew
    with pytest.raises(ValueError, match="total: must be a finite number >= 0"):
        initial_stock_from_total(-1.0)
    with pytest.raises(ValueError, match="n_durations: must be a whole number >= 2"):
        initial_stock_from_total(1.0, n_durations=1)


def _inputs(**changes) -> RemittanceInputs:
    fields = {
        "years": np.arange(2000, 2006),
        "us_wage_index": np.ones(6),
        "mx_wage_index": np.ones(6),
        "us_labour_demand_index": np.ones(6),
        "gdp_usd": np.full(6, 1e12),
        "usdmxn": np.full(6, 10.0),
        "households": np.full(6, 2e7),
        "initial_stock": np.full(10, 1e6),
    }
    fields.update(changes)
    return RemittanceInputs(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"years": np.array([2000, 2001, 2003, 2004, 2005, 2006])},
            "inputs.years: must be consecutive, found 2001 followed by 2003",
        ),
        (
            {"gdp_usd": np.array([1e12, 1e12, 0.0, 1e12, 1e12, 1e12])},
            "inputs.gdp_usd: must be > 0, found 0.0 for year 2002",
        ),
        ({"usdmxn": np.array([10.0, np.nan, 10, 10, 10, 10])}, "inputs.usdmxn: must be finite"),
        ({"households": np.ones(5)}, r"inputs.households: expected 6 values \(one per year\)"),
        ({"initial_stock": -np.ones(10)}, r"inputs.initial_stock: must lie in \[0.0, inf\]"),
    ],
)
def test_bad_inputs_raise(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        _inputs(**changes)


@pytest.mark.parametrize(
    ("base", "horizon", "kwargs", "message"),
    [
        (1999, 2010, {}, r"base_year: must lie within the years of the input paths \[2000, 2005\]"),
        (2003, 2001, {}, "horizon_year: must be after base_year"),
        (2000, 2010, {"arrivals": np.ones((2, 3))}, r"arrivals: expected shape \(2, 10\)"),
        (2000, 2002, {"arrivals": -np.ones((2, 2))}, r"arrivals: must lie in \[0.0, inf\]"),
    ],
)
def test_bad_calls_raise(base, horizon, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        project_remittances(
            default_params(REMITTANCE_PARAMETERS, 2), _inputs(), base, horizon, **kwargs
        )


def test_rate_outside_unit_interval_raises() -> None:
    params = default_params(REMITTANCE_PARAMETERS, 2)
    params[1, SHARE] = 1.2
    with pytest.raises(
        ValueError, match=r"params\[1, 7\] \(remitter_share_initial\) = 1.2 .*\[0.0, 1.0\]"
    ):
        project_remittances(params, _inputs(), 2000, 2010)
