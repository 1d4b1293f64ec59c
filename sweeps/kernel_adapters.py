"""The built-in kernels' batch evaluation, as the sweeps call it: ``evaluate_*(params, inputs,
years) -> {output name: array}`` (scalars ``[n]``, series ``[n, n_years]``).

:mod:`sweeps.registry` declares each kernel with one of these functions. Each turns a kernel's
result object into the outputs the registry declares. The kernels are imported inside the
functions: reading the registry (every spec validation) does not load Numba, and a kernel's code
fingerprint still covers them (:mod:`migsys.fingerprint` follows imports inside functions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from migsys.kernels.depopulation import DepopulationResult
    from migsys.kernels.remittances import RemittanceResult

VERY_HIGH = 0  # kernel degree code of 'very_high'
Years = tuple[int, int] | None


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
    from migsys.kernels.depopulation import DepopulationUnits, project_depopulation

    units = inputs["units"]
    assert isinstance(units, DepopulationUnits) and years is not None
    return _depopulation_values(project_depopulation(params, units, *years))


def evaluate_remittances(
    params: np.ndarray, inputs: Mapping[str, object], years: Years
) -> dict[str, np.ndarray]:
    from migsys.kernels.remittances import RemittanceInputs, project_remittances

    paths = inputs["remittance_inputs"]
    assert isinstance(paths, RemittanceInputs) and years is not None
    return _remittance_values(project_remittances(params, paths, *years))


def evaluate_coupled(
    params: np.ndarray, inputs: Mapping[str, object], years: Years
) -> dict[str, np.ndarray]:
    from migsys.kernels.coupled import project_coupled
    from migsys.kernels.defaults import DEPOPULATION_PARAMETERS
    from migsys.kernels.depopulation import DepopulationUnits
    from migsys.kernels.remittances import RemittanceInputs

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
    from migsys.sweeps.testfunctions import ishigami

    return {"y": ishigami(params)}


def evaluate_sobol_g(
    params: np.ndarray, inputs: Mapping[str, object], years: Years
) -> dict[str, np.ndarray]:
    from migsys.sweeps.testfunctions import sobol_g

    return {"y": sobol_g(params)}
