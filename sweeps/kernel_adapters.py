"""The built-in kernels seen by the sweeps: batch evaluation to named outputs, and input loaders.

:mod:`kernels.registry` points at these functions by name. ``evaluate_*`` turn a kernel's result
object into ``{output name: array}`` (scalars ``[n]``, series ``[n, n_years]``); ``load_*`` read a
kernel's inputs from the published warehouse (read-only) through :mod:`projections`;
``*_fingerprint`` hash the inputs' contents (the study's data fingerprint).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import duckdb
import numpy as np

from migsys.kernels.coupled import project_coupled
from migsys.kernels.defaults import DEPOPULATION_PARAMETERS
from migsys.kernels.depopulation import DepopulationResult, DepopulationUnits, project_depopulation
from migsys.kernels.remittances import RemittanceInputs, RemittanceResult, project_remittances
from migsys.sweeps import testfunctions
from migsys.sweeps.spec import MissingInputs

VERY_HIGH = 0  # kernel degree code of 'very_high'
Years = tuple[int, int] | None


def _digest(*arrays: np.ndarray | None) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def units_fingerprint(units: DepopulationUnits) -> str:
    return _digest(
        units.population,
        units.emigration_intensity,
        units.return_intensity,
        units.degree_code,
        units.households,
        units.remittance_household_share,
    )


def remittance_inputs_fingerprint(inputs: RemittanceInputs) -> str:
    return _digest(inputs.years, inputs.paths(), inputs.initial_stock)


def _has_municipal_data(con: duckdb.DuckDBPyConnection, base_year: int) -> bool:
    try:
        count = con.execute(
            "select count(*) from fct_municipal_population where census_year = ?", [base_year]
        ).fetchall()[0][0]
    except duckdb.Error:
        return False
    return count > 0


def load_units(
    con: duckdb.DuckDBPyConnection, base_year: int, horizon_year: int
) -> tuple[DepopulationUnits, str]:
    """Municipal units of the base-year census, else Table 1 degree units; and which it was."""
    from migsys.projections.inputs import (
        degree_units_from_table1,
        depopulation_units,
        latest_index_year,
    )

    if _has_municipal_data(con, base_year):
        index_year = latest_index_year(con, until=base_year)
        units, _ = depopulation_units(con, base_year, index_year=index_year)
        return units, f"municipalities{base_year}/conapo{index_year}"
    units, _ = degree_units_from_table1(con)
    return units, "table1_degrees"


def load_remittance_inputs(
    con: duckdb.DuckDBPyConnection, base_year: int, horizon_year: int
) -> tuple[RemittanceInputs, str]:
    """National paths observed from the base year to the last year every path has data."""
    from migsys.projections.remittances import remittance_inputs

    last_error: Exception | None = None
    for until in range(min(horizon_year, 2030), base_year - 1, -1):
        try:
            return remittance_inputs(con, base_year, until=until), f"paths{base_year}-{until}"
        except ValueError as error:
            last_error = error
    raise MissingInputs(f"kernel remittances: no inputs for base year {base_year}: {last_error}")


def _depopulation_values(result: DepopulationResult) -> dict[str, np.ndarray]:
    by_degree_last = result.depopulating_by_degree[:, -1, :]
    return {
        "depopulating_units": result.depopulating_units[:, -1].astype(np.float64),
        "depopulating_units_very_high": by_degree_last[:, VERY_HIGH].astype(np.float64),
        "units_below_75pct": result.units_below_75pct.astype(np.float64),
        "units_below_50pct": result.units_below_50pct.astype(np.float64),
        "population_horizon": result.national_population[:, -1],
        "share_65plus_horizon": result.share_65plus[:, -1],
        "national_population": result.national_population,
        "share_65plus": result.share_65plus,
    }


def _remittance_values(result: RemittanceResult) -> dict[str, np.ndarray]:
    return {
        "remittances_usd": result.remittances_usd,
        "remittances_pct_gdp": result.remittances_pct_gdp,
        "migrant_stock": result.migrant_stock,
        "receiving_households": result.receiving_households,
        "remittances_usd_horizon": result.remittances_usd[:, -1],
        "remittances_pct_gdp_horizon": result.remittances_pct_gdp[:, -1],
        "migrant_stock_horizon": result.migrant_stock[:, -1],
        "peak_value": result.peak_value,
        "peak_year": result.peak_year.astype(np.float64),
        "year_below_start": result.year_below_start.astype(np.float64),
    }


def evaluate_depopulation(
    params: np.ndarray, inputs: Mapping[str, object], years: Years
) -> dict[str, np.ndarray]:
    units = inputs["units"]
    assert isinstance(units, DepopulationUnits) and years is not None
    return _depopulation_values(project_depopulation(params, units, *years))


def evaluate_remittances(
    params: np.ndarray, inputs: Mapping[str, object], years: Years
) -> dict[str, np.ndarray]:
    paths = inputs["remittance_inputs"]
    assert isinstance(paths, RemittanceInputs) and years is not None
    return _remittance_values(project_remittances(params, paths, *years))


def evaluate_coupled(
    params: np.ndarray, inputs: Mapping[str, object], years: Years
) -> dict[str, np.ndarray]:
    units, paths = inputs["units"], inputs["remittance_inputs"]
    assert isinstance(units, DepopulationUnits) and isinstance(paths, RemittanceInputs)
    assert years is not None
    n_dep = len(DEPOPULATION_PARAMETERS)
    result = project_coupled(params[:, :n_dep], params[:, n_dep:], units, paths, *years)
    values = _depopulation_values(result.depopulation)
    values.update(_remittance_values(result.remittances))
    return values


def evaluate_ishigami(
    params: np.ndarray, inputs: Mapping[str, object], years: Years
) -> dict[str, np.ndarray]:
    return {"y": testfunctions.ishigami(params)}


def evaluate_sobol_g(
    params: np.ndarray, inputs: Mapping[str, object], years: Years
) -> dict[str, np.ndarray]:
    return {"y": testfunctions.sobol_g(params)}
