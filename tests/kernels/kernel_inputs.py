"""Seeded generators of valid kernel inputs shared by the kernel tests (imported by name: pytest
puts this folder on sys.path, and the unique module name avoids clashes)."""

from __future__ import annotations

import numpy as np

from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, REMITTANCE_PARAMETERS, parameter_bounds
from migsys.kernels.depopulation import DepopulationUnits
from migsys.kernels.remittances import RemittanceInputs, initial_stock_from_total


def random_params(rng: np.random.Generator, parameters: tuple, n: int) -> np.ndarray:
    """``n`` rows drawn uniformly inside the plausible ranges."""
    bounds = parameter_bounds(parameters)
    return bounds[:, 0] + rng.random((n, len(parameters))) * (bounds[:, 1] - bounds[:, 0])


def random_depopulation_params(rng: np.random.Generator, n: int) -> np.ndarray:
    return random_params(rng, DEPOPULATION_PARAMETERS, n)


def random_remittance_params(rng: np.random.Generator, n: int) -> np.ndarray:
    return random_params(rng, REMITTANCE_PARAMETERS, n)


def random_units(rng: np.random.Generator, n_units: int, with_households: bool = True):
    """Units with random age structures (some empty cells and one empty unit), intensities up to
    3 % a year and every degree."""
    population = rng.lognormal(5.0, 1.5, size=(n_units, 2, 18))
    population[rng.random(population.shape) < 0.05] = 0.0
    population[0] = 0.0
    households = population.sum(axis=(1, 2)) / rng.uniform(3.5, 5.0, n_units)
    return DepopulationUnits(
        population=population,
        emigration_intensity=rng.uniform(0.0, 0.03, n_units),
        return_intensity=rng.uniform(0.0, 1.0, n_units),
        degree_code=rng.integers(0, 6, n_units),
        households=households if with_households else None,
        remittance_household_share=rng.uniform(0.0, 0.3, n_units) if with_households else None,
    )


def random_remittance_inputs(
    rng: np.random.Generator, first_year: int = 1995, n_years: int = 21
) -> RemittanceInputs:
    """Random positive paths (noisy growth) and a random initial stock by duration."""
    steps = np.arange(n_years)

    def path(level: float, growth: float) -> np.ndarray:
        return level * np.exp(growth * steps + rng.normal(0.0, 0.02, n_years).cumsum())

    return RemittanceInputs(
        years=np.arange(first_year, first_year + n_years),
        us_wage_index=path(100.0, 0.03),
        mx_wage_index=path(100.0, 0.02),
        us_labour_demand_index=path(100.0, 0.01),
        gdp_usd=path(5e11, 0.05),
        usdmxn=path(10.0, 0.03),
        households=path(2.2e7, 0.02),
        initial_stock=initial_stock_from_total(rng.uniform(5e6, 1.2e7), n_durations=40)
        * rng.uniform(0.5, 1.5, 40),
    )
