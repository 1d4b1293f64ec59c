"""Inputs: the data a kernel reads from the published warehouse, by name.

A kernel declares the names of its inputs (``Kernel.inputs`` in :mod:`sweeps.registry`); each
name is an :class:`InputSource` here, whose ``load(con, base_year, horizon_year)`` reads it from a
read-only connection through :mod:`projections` and says which data it was (``label``). A
loaded value is fingerprinted by its content (:func:`migsys.fingerprint.fingerprint`): that is a
study's data fingerprint.

The registry does not import this module (the code fingerprint of a kernel stays the kernels'
code, not the warehouse readers'); :mod:`sweeps.models` does, when it loads a study's inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from migsys.kernels.depopulation import DepopulationUnits
    from migsys.kernels.remittances import RemittanceInputs

Loader = Callable[["duckdb.DuckDBPyConnection", int, int], tuple[object, str]]


@dataclass(frozen=True)
class InputSource:
    """Data a kernel reads from the published warehouse.

    ``load(con, base_year, horizon_year) -> (value, label)`` reads it (``label`` says which data,
    e.g. ``municipalities2000/conapo2000``); it raises ``ValueError`` when the warehouse does not
    hold what it needs.
    """

    name: str
    load: Loader
    description: str = ""


def _has_municipal_data(con: duckdb.DuckDBPyConnection, base_year: int) -> bool:
    import duckdb

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
    raise ValueError(f"no inputs for base year {base_year}: {last_error}")


INPUT_SOURCES: dict[str, InputSource] = {
    source.name: source
    for source in (
        InputSource(
            "units",
            load_units,
            "municipalities of the base-year census with CONAPO's intensity indicators, "
            "else one unit per intensity degree of the paper's Table 1",
        ),
        InputSource(
            "remittance_inputs",
            load_remittance_inputs,
            "national paths (wages, labour demand, GDP, exchange rate, households) and the UN "
            "migrant stock from the base year",
        ),
    )
}


def input_source(name: str, kernel: str) -> InputSource:
    """The input source ``name`` that kernel ``kernel`` declares; a clear error if unknown."""
    try:
        return INPUT_SOURCES[name]
    except KeyError:
        raise ValueError(
            f"kernel {kernel!r}: unknown input source {name!r} (known: {', '.join(INPUT_SOURCES)})"
        ) from None


def register_input_source(source: InputSource) -> InputSource:
    """Add a warehouse input a plugin kernel loads."""
    existing = INPUT_SOURCES.get(source.name)
    if existing is not None and existing != source:
        raise ValueError(f"input source {source.name!r} is already registered")
    INPUT_SOURCES[source.name] = source
    return source
