"""Property-based checks over the whole admissible parameter space (not only the plausible one):
whatever valid input Hypothesis finds, the kernels return finite, non-negative, balanced outputs
that agree with their twins."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_inputs import random_remittance_inputs, random_units

from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, REMITTANCE_PARAMETERS, valid_bounds
from migsys.kernels.depopulation import project_depopulation
from migsys.kernels.reference import project_depopulation_numpy, project_remittances_numpy
from migsys.kernels.remittances import project_remittances

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def admissible_rows(parameters: tuple, n_rows: int) -> st.SearchStrategy[np.ndarray]:
    """Rows anywhere inside the valid bounds (infinite bounds replaced by large finite ones)."""
    bounds = np.clip(valid_bounds(parameters), -1e9, 1e9)
    columns = [
        st.floats(float(low), float(high), allow_nan=False, allow_infinity=False)
        for low, high in bounds
    ]
    row = st.tuples(*columns).map(lambda values: np.array(values, dtype=np.float64))
    return st.lists(row, min_size=n_rows, max_size=n_rows).map(np.stack)


@SETTINGS
@given(params=admissible_rows(DEPOPULATION_PARAMETERS, 2), seed=st.integers(0, 2**32 - 1))
def test_depopulation_is_balanced_everywhere_admissible(params: np.ndarray, seed: int) -> None:
    units = random_units(np.random.default_rng(seed), 6)
    result = project_depopulation(params, units, 2000, 2030, keep_trajectories=True)
    population = result.unit_population
    assert np.isfinite(population).all() and (population >= 0).all()
    flows = result.births - result.deaths - result.emigrants + result.returns + result.shocks
    scale = max(1.0, float(population.max()))
    assert np.allclose(np.diff(population, axis=1), flows, rtol=0, atol=1e-9 * scale)
    twin = project_depopulation_numpy(params, units, 2000, 2030, keep_trajectories=True)
    assert np.allclose(population, twin.unit_population, rtol=1e-10, atol=1e-12 * scale)


@SETTINGS
@given(params=admissible_rows(REMITTANCE_PARAMETERS, 2), seed=st.integers(0, 2**32 - 1))
def test_remittances_are_balanced_everywhere_admissible(params: np.ndarray, seed: int) -> None:
    inputs = random_remittance_inputs(np.random.default_rng(seed))
    result = project_remittances(params, inputs, 2005, 2025)
    twin = project_remittances_numpy(params, inputs, 2005, 2025)
    stock = result.migrant_stock
    assert np.isfinite(stock).all() and np.isfinite(result.remittances_usd).all()
    for row in range(stock.shape[0]):
        assert (stock[row] >= 0).all()
        flows = result.arrivals[row] - result.returns[row] - result.deaths[row]
        scale = max(1.0, float(stock[row].max()))
        assert np.allclose(np.diff(stock[row]), flows, rtol=0, atol=1e-9 * scale)
        assert np.allclose(stock[row], twin.migrant_stock[row], rtol=1e-10, atol=1e-12 * scale)
