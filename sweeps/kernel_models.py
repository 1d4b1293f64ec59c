"""Adapters of the projection kernels (depopulation, remittances, coupled) to the sweep protocol.

Inputs come from the published warehouse (read-only) through ``projections``: every
municipality of the base-year census with CONAPO's indicators, or, when no municipal data are
loaded, one unit per intensity degree from the paper's Table 1; the national remittance paths
and the UN migrant stock. Inputs are built once in the client and travel with the adapter to the
workers; their hash is the study's data fingerprint.

Outputs (scalars unless said): see ``DEPOPULATION_OUTPUTS`` / ``REMITTANCE_OUTPUTS``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from migsys.kernels.coupled import project_coupled
from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, REMITTANCE_PARAMETERS, Parameter
from migsys.kernels.depopulation import DepopulationUnits, project_depopulation
from migsys.kernels.remittances import RemittanceInputs, project_remittances
from migsys.sweeps.models import ModelContext, ModelOutput, ModelParameter
from migsys.sweeps.spec import MissingInputs, SpecError, StudySpec

DEFAULT_YEARS = {"depopulation": (2000, 2030), "remittances": (2005, 2030), "coupled": (2005, 2030)}
VERY_HIGH = 0  # kernel degree code of 'very_high'

DEPOPULATION_SERIES = (
    ModelOutput(
        "national_population", "series", "persons", "population of all units", "Population"
    ),
    ModelOutput(
        "share_65plus", "series", "1", "share of the population aged 65+", "Population|Share 65+"
    ),
)
DEPOPULATION_SCALARS = (
    ModelOutput(
        "depopulating_units",
        "scalar",
        "units",
        "units whose population fell during the last five-year period",
    ),
    ModelOutput(
        "depopulating_units_very_high",
        "scalar",
        "units",
        "very-high-intensity units whose population fell during the last period",
    ),
    ModelOutput(
        "units_below_75pct",
        "scalar",
        "units",
        "units whose horizon population is below 75 % of the base",
    ),
    ModelOutput(
        "units_below_50pct",
        "scalar",
        "units",
        "units whose horizon population is below 50 % of the base",
    ),
    ModelOutput("population_horizon", "scalar", "persons", "national population at the horizon"),
    ModelOutput("share_65plus_horizon", "scalar", "1", "share aged 65+ at the horizon"),
)
REMITTANCE_SERIES = (
    ModelOutput("remittances_usd", "series", "USD/yr", "remittances received", "Remittances"),
    ModelOutput(
        "remittances_pct_gdp",
        "series",
        "%",
        "remittances as percent of GDP",
        "Remittances|Share of GDP",
    ),
    ModelOutput(
        "migrant_stock",
        "series",
        "persons",
        "Mexican-born population in the US",
        "Migrant Stock|Mexico-born in US",
    ),
    ModelOutput(
        "receiving_households",
        "series",
        "households",
        "Mexican households receiving remittances",
        "Households|Receiving Remittances",
    ),
)
REMITTANCE_SCALARS = (
    ModelOutput("remittances_usd_horizon", "scalar", "USD/yr", "remittances at the horizon"),
    ModelOutput("remittances_pct_gdp_horizon", "scalar", "%", "remittances/GDP at the horizon"),
    ModelOutput(
        "migrant_stock_horizon", "scalar", "persons", "US Mexican-born stock at the horizon"
    ),
    ModelOutput("peak_value", "scalar", "USD/yr", "highest yearly remittances in the projection"),
    ModelOutput("peak_year", "scalar", "year", "year of the highest remittances"),
    ModelOutput(
        "year_below_start",
        "scalar",
        "year",
        "first year remittances/GDP fall below the base ratio (-1: never)",
    ),
)


def _model_parameters(parameters: tuple[Parameter, ...]) -> tuple[ModelParameter, ...]:
    return tuple(
        ModelParameter(
            p.name, p.default, p.low, p.high, p.unit, p.description, p.valid_low, p.valid_high
        )
        for p in parameters
    )


def _fingerprint(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _units_fingerprint(units: DepopulationUnits) -> str:
    return _fingerprint(
        units.population,
        units.emigration_intensity,
        units.return_intensity,
        units.degree_code,
        units.households,
        units.remittance_household_share,
    )


def _inputs_fingerprint(inputs: RemittanceInputs) -> str:
    return _fingerprint(inputs.years, inputs.paths(), inputs.initial_stock)


def _grid(base_year: int, horizon_year: int, step: int) -> tuple[int, ...]:
    return tuple(range(base_year, horizon_year + 1, step))


def _depopulation_scalars(result, by_degree_last: np.ndarray) -> dict[str, np.ndarray]:
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


def _remittance_values(result) -> dict[str, np.ndarray]:
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


@dataclass(frozen=True)
class DepopulationModel:
    """Depopulation kernel over fixed units (municipalities or Table 1 degrees)."""

    units: DepopulationUnits
    base_year: int
    horizon_year: int
    units_source: str
    name: str = "depopulation"
    parameters: tuple[ModelParameter, ...] = _model_parameters(DEPOPULATION_PARAMETERS)
    outputs: tuple[ModelOutput, ...] = DEPOPULATION_SCALARS + DEPOPULATION_SERIES
    years: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "years", _grid(self.base_year, self.horizon_year, 5))

    @property
    def data_fingerprint(self) -> str:
        return f"{self.units_source}:{_units_fingerprint(self.units)}"

    def evaluate(self, params: np.ndarray) -> dict[str, np.ndarray]:
        result = project_depopulation(params, self.units, self.base_year, self.horizon_year)
        return _depopulation_scalars(result, result.depopulating_by_degree[:, -1, :])


@dataclass(frozen=True)
class RemittanceModel:
    """Remittance-dependence kernel on the national paths."""

    inputs: RemittanceInputs
    base_year: int
    horizon_year: int
    name: str = "remittances"
    parameters: tuple[ModelParameter, ...] = _model_parameters(REMITTANCE_PARAMETERS)
    outputs: tuple[ModelOutput, ...] = REMITTANCE_SCALARS + REMITTANCE_SERIES
    years: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "years", _grid(self.base_year, self.horizon_year, 1))

    @property
    def data_fingerprint(self) -> str:
        return _inputs_fingerprint(self.inputs)

    def evaluate(self, params: np.ndarray) -> dict[str, np.ndarray]:
        result = project_remittances(params, self.inputs, self.base_year, self.horizon_year)
        return _remittance_values(result)


@dataclass(frozen=True)
class CoupledModel:
    """Both kernels in one run: municipal emigrants feed the US stock (kernels.coupled).

    Parameters are the depopulation ones followed by the remittance ones (no name is shared).
    Depopulation series are on the five-year grid, remittance series yearly.
    """

    units: DepopulationUnits
    inputs: RemittanceInputs
    base_year: int
    horizon_year: int
    units_source: str
    name: str = "coupled"
    parameters: tuple[ModelParameter, ...] = _model_parameters(
        DEPOPULATION_PARAMETERS + REMITTANCE_PARAMETERS
    )
    outputs: tuple[ModelOutput, ...] = ()
    years: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        yearly = _grid(self.base_year, self.horizon_year, 1)
        grid = _grid(self.base_year, self.horizon_year, 5)
        object.__setattr__(self, "years", yearly)
        series = tuple(
            ModelOutput(o.name, o.kind, o.unit, o.description, o.variable, o.region, grid)
            for o in DEPOPULATION_SERIES
        )
        object.__setattr__(
            self, "outputs", DEPOPULATION_SCALARS + REMITTANCE_SCALARS + series + REMITTANCE_SERIES
        )

    @property
    def data_fingerprint(self) -> str:
        return f"{self.units_source}:{_units_fingerprint(self.units)}:{_inputs_fingerprint(self.inputs)}"

    def evaluate(self, params: np.ndarray) -> dict[str, np.ndarray]:
        n_dep = len(DEPOPULATION_PARAMETERS)
        result = project_coupled(
            params[:, :n_dep],
            params[:, n_dep:],
            self.units,
            self.inputs,
            self.base_year,
            self.horizon_year,
        )
        values = _depopulation_scalars(
            result.depopulation, result.depopulation.depopulating_by_degree[:, -1, :]
        )
        values.update(_remittance_values(result.remittances))
        return values


def _open_warehouse(context: ModelContext, kernel: str) -> duckdb.DuckDBPyConnection:
    warehouse = context.warehouse
    if warehouse is None or not Path(warehouse).is_file():
        raise SpecError(
            f"kernel {kernel}: needs the published warehouse for its inputs, none at {warehouse} "
            "(run `migsys refresh` first)"
        )
    return duckdb.connect(str(warehouse), read_only=True)


def _has_municipal_data(con: duckdb.DuckDBPyConnection, base_year: int) -> bool:
    try:
        count = con.execute(
            "select count(*) from fct_municipal_population where census_year = ?", [base_year]
        ).fetchall()[0][0]
    except duckdb.Error:
        return False
    return count > 0


def load_units(con: duckdb.DuckDBPyConnection, base_year: int) -> tuple[DepopulationUnits, str]:
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
) -> RemittanceInputs:
    """National paths observed from the base year to the last year every path has data."""
    from migsys.projections.remittances import remittance_inputs

    last_error: Exception | None = None
    for until in range(min(horizon_year, 2030), base_year - 1, -1):
        try:
            return remittance_inputs(con, base_year, until=until)
        except ValueError as error:
            last_error = error
    raise MissingInputs(f"kernel remittances: no inputs for base year {base_year}: {last_error}")


def build_kernel_model(spec: StudySpec, context: ModelContext):
    """The adapter of a projection kernel with its inputs read from the warehouse."""
    base_year, horizon_year = spec.years or DEFAULT_YEARS[spec.kernel]
    if spec.kernel in ("depopulation", "coupled") and (horizon_year - base_year) % 5:
        raise SpecError(
            f"study {spec.name}: years: the {spec.kernel} kernel steps five years; "
            f"horizon - base ({horizon_year - base_year}) must be a multiple of 5"
        )
    needs_units = spec.kernel in ("depopulation", "coupled")
    needs_inputs = spec.kernel in ("remittances", "coupled")
    given_units = (context.units, "given_units") if context.units is not None else None
    inputs = context.remittance_inputs
    if (needs_units and given_units is None) or (needs_inputs and inputs is None):
        con = _open_warehouse(context, spec.kernel)
        try:
            if needs_units and given_units is None:
                given_units = load_units(con, base_year)
            if needs_inputs and inputs is None:
                inputs = load_remittance_inputs(con, base_year, horizon_year)
        except ValueError as error:
            if isinstance(error, SpecError):
                raise
            raise MissingInputs(
                f"study {spec.name}: kernel {spec.kernel} inputs: {error}"
            ) from error
        finally:
            con.close()
    if spec.kernel == "depopulation":
        return DepopulationModel(given_units[0], base_year, horizon_year, given_units[1])
    if spec.kernel == "remittances":
        return RemittanceModel(inputs, base_year, horizon_year)
    return CoupledModel(given_units[0], inputs, base_year, horizon_year, given_units[1])
