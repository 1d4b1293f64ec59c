"""Coupled run: emigrants feed arrivals, remittances allocated back add up to the national flow."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_inputs import (
    random_depopulation_params,
    random_remittance_inputs,
    random_remittance_params,
    random_units,
)

from migsys.kernels.coupled import project_coupled
from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, REMITTANCE_PARAMETERS, default_params
from migsys.kernels.reference import project_coupled_numpy


def test_coupled_run_is_consistent_and_matches_twin(rng) -> None:
    units = random_units(rng, 40)
    inputs = random_remittance_inputs(rng)
    dep_params = random_depopulation_params(rng, 4)
    rem_params = random_remittance_params(rng, 4)
    result = project_coupled(dep_params, rem_params, units, inputs, 2000, 2030)
    twin = project_coupled_numpy(dep_params, rem_params, units, inputs, 2000, 2030)
    grid = result.years - 2000
    national = result.remittances.remittances_usd[:, grid]
    np.testing.assert_allclose(result.unit_remittances_usd.sum(axis=2), national, rtol=1e-12)
    receiving = result.remittances.receiving_households[:, grid]
    np.testing.assert_allclose(result.unit_receiving_households.sum(axis=2), receiving, rtol=1e-12)
    net = result.depopulation.emigrants - result.depopulation.returns
    np.testing.assert_allclose(
        result.remittances.arrivals.reshape(4, -1, 5).sum(axis=2), net.sum(axis=2), rtol=1e-12
    )
    population = result.unit_population
    with_people = population > 0
    np.testing.assert_allclose(
        (result.remittances_per_capita * population)[with_people],
        result.unit_remittances_usd[with_people],
        rtol=1e-12,
    )
    assert (result.remittances_per_capita[~with_people] == 0).all()
    # the twin computes arrivals and the allocation with its own code (kernels.reference)
    np.testing.assert_allclose(twin.remittances.arrivals, result.remittances.arrivals, rtol=1e-10)
    for name in (
        "unit_households",
        "unit_remittances_usd",
        "remittances_per_household",
        "remittances_per_capita",
        "unit_receiving_households",
    ):
        expected = getattr(twin, name)
        error = np.abs(getattr(result, name) - expected) / np.maximum(np.abs(expected), 1e-300)
        assert error.max() < 1e-10, name


def test_more_emigration_means_more_arrivals(rng) -> None:
    units = random_units(rng, 30)
    inputs = random_remittance_inputs(rng)
    dep_params = default_params(DEPOPULATION_PARAMETERS, 2)
    dep_params[1, 8] = 2.0 * dep_params[0, 8]  # emigration_scale
    result = project_coupled(
        dep_params, default_params(REMITTANCE_PARAMETERS, 2), units, inputs, 2000, 2020
    )
    assert (result.remittances.arrivals[1] > result.remittances.arrivals[0]).all()
    assert result.remittances.migrant_stock[1, -1] > result.remittances.migrant_stock[0, -1]


def test_coupled_run_needs_households_and_matching_rows(rng) -> None:
    inputs = random_remittance_inputs(rng)
    with pytest.raises(ValueError, match="units.households and units.remittance_household_share"):
        project_coupled(
            default_params(DEPOPULATION_PARAMETERS),
            default_params(REMITTANCE_PARAMETERS),
            random_units(rng, 5, with_households=False),
            inputs,
            2000,
            2010,
        )
    with pytest.raises(ValueError, match="same number of scenarios"):
        project_coupled(
            default_params(DEPOPULATION_PARAMETERS, 2),
            default_params(REMITTANCE_PARAMETERS, 3),
            random_units(rng, 5),
            inputs,
            2000,
            2010,
        )
