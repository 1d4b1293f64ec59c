"""Coupled run: municipal emigration feeds the US stock, remittances flow back to municipalities.

1. :func:`kernels.depopulation.project_depopulation` projects the units with their accounting
   components kept.
2. Net emigrants of each five-year period (emigrants − returns within the period, summed over
   units) arrive in the US evenly over its five years: they replace the wage-gap inflow model of
   :func:`kernels.remittances.project_remittances`, which then projects the stock and remittances.
3. At each year of the five-year grid, national remittances (USD) and remittance-receiving
   households are allocated to units in proportion to their receiving households, taken as
   ``households × remittance_household_share`` (CONAPO 2000) scaled by the unit's population
   relative to the base year (households follow population). Hence per unit:
   remittances per household (all households of the unit) and per capita.

The allocated remittances of all units add up to the national flow of the same year whenever
some unit has receiving households (a test checks it); with none, nothing is allocated.
Memory grows with scenarios × steps × units: the coupled run is meant for tens of scenarios, the
sweeps call the two kernels' summaries instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from migsys.kernels._schedules import STEP_YEARS
from migsys.kernels.depopulation import DepopulationResult, DepopulationUnits, project_depopulation
from migsys.kernels.remittances import RemittanceInputs, RemittanceResult, project_remittances


@dataclass(frozen=True)
class CoupledResult:
    """Outputs of :func:`project_coupled`; per-unit arrays are ``[n_scen, n_steps + 1, n_units]``
    on the five-year grid ``years``."""

    years: np.ndarray
    depopulation: DepopulationResult
    remittances: RemittanceResult
    unit_population: np.ndarray
    unit_households: np.ndarray
    unit_receiving_households: np.ndarray
    unit_remittances_usd: np.ndarray
    remittances_per_household: np.ndarray
    remittances_per_capita: np.ndarray


def project_coupled(
    dep_params: np.ndarray,
    rem_params: np.ndarray,
    units: DepopulationUnits,
    inputs: RemittanceInputs,
    base_year: int,
    horizon_year: int,
) -> CoupledResult:
    """Run both kernels together (module docstring); row s of ``dep_params`` and of ``rem_params``
    form scenario s. ``units`` must carry ``households`` and ``remittance_household_share``."""
    dep_params = np.asarray(dep_params, dtype=np.float64)
    rem_params = np.asarray(rem_params, dtype=np.float64)
    if dep_params.ndim != 2 or rem_params.ndim != 2 or dep_params.shape[0] != rem_params.shape[0]:
        raise ValueError(
            "dep_params, rem_params: need 2-d arrays with the same number of scenarios (rows), got "
            f"shapes {dep_params.shape} and {rem_params.shape}"
        )
    if not isinstance(units, DepopulationUnits):
        raise ValueError(f"units: expected DepopulationUnits, got {type(units).__name__}")
    if units.households is None or units.remittance_household_share is None:
        raise ValueError(
            "units: the coupled run needs units.households and units.remittance_household_share"
        )
    depopulation = project_depopulation(
        dep_params, units, base_year, horizon_year, keep_trajectories=True
    )
    arrivals = yearly_arrivals(depopulation)
    remittances = project_remittances(
        rem_params, inputs, base_year, horizon_year, arrivals=arrivals
    )
    grid = (depopulation.years - base_year).astype(np.int64)
    allocation = allocate_to_units(
        depopulation.unit_population,
        units.households,
        units.remittance_household_share,
        remittances.remittances_usd[:, grid],
        remittances.receiving_households[:, grid],
    )
    return CoupledResult(
        depopulation.years, depopulation, remittances, depopulation.unit_population, *allocation
    )


def yearly_arrivals(depopulation: DepopulationResult) -> np.ndarray:
    """Net emigrants per year ``[n_scen, n_years − 1]``: each period's national emigrants minus
    returns, spread evenly over its five years."""
    if depopulation.emigrants is None or depopulation.returns is None:
        raise ValueError("depopulation: needs the accounting components (keep_trajectories=True)")
    net = (depopulation.emigrants - depopulation.returns).sum(axis=2) / STEP_YEARS
    return np.repeat(net, STEP_YEARS, axis=1)


def allocate_to_units(
    unit_population: np.ndarray,
    households: np.ndarray,
    remittance_household_share: np.ndarray,
    national_usd: np.ndarray,
    national_receiving: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Allocate national remittances ``[n_scen, n_grid]`` to units ``[n_scen, n_grid, n_units]``.

    Returns (households, receiving households, remittances USD, USD per household, USD per
    capita) per unit; per-household and per-capita values are 0 where the unit has none.
    """
    base = unit_population[:, :1, :]
    growth = np.divide(unit_population, base, out=np.zeros_like(unit_population), where=base > 0)
    unit_households = households[None, None, :] * growth
    weight = unit_households * remittance_household_share[None, None, :]
    weight_total = weight.sum(axis=2, keepdims=True)
    fraction = np.divide(weight, weight_total, out=np.zeros_like(weight), where=weight_total > 0)
    unit_usd = national_usd[:, :, None] * fraction
    unit_receiving = national_receiving[:, :, None] * fraction
    per_household = np.divide(
        unit_usd, unit_households, out=np.zeros_like(unit_usd), where=unit_households > 0
    )
    per_capita = np.divide(
        unit_usd, unit_population, out=np.zeros_like(unit_usd), where=unit_population > 0
    )
    return unit_households, unit_receiving, unit_usd, per_household, per_capita
