"""The observed history of a study's yearly series, read from the published warehouse.

An envelope of projected remittances means little without the series it starts from, so the
figures of a study draw the observed values of the quantities the warehouse holds: remittance
income and its share of GDP (Banxico, World Bank), the Mexican-born population of the US (UN
DESA) and the population of the municipalities (INEGI censuses). Series the warehouse does not
observe (receiving households, the share aged 65+) have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from migsys.warehouse.sql import open_read_only


@dataclass(frozen=True)
class ObservedQuery:
    sql: str  # returns (year, value), in the kernel's unit
    source: str  # for the legend


OBSERVED: dict[str, ObservedQuery] = {
    "remittances_usd": ObservedQuery(
        "select year, remittances_usd from main.fct_remittances_annual "
        "where months_observed = 12 and remittances_usd is not null",
        "Banxico",
    ),
    "remittances_pct_gdp": ObservedQuery(
        "select year, remittances_pct_gdp from main.fct_remittances_annual "
        "where months_observed = 12 and remittances_pct_gdp is not null",
        "Banxico, World Bank",
    ),
    "migrant_stock": ObservedQuery(
        "select year, mexican_born_in_us from main.fct_migrant_stock "
        "where mexican_born_in_us is not null",
        "UN DESA",
    ),
    "national_population": ObservedQuery(
        "select census_year, sum(population_total) from main.fct_municipal_population "
        "group by census_year",
        "INEGI censuses and counts",
    ),
}


@dataclass(frozen=True)
class Observed:
    values: pd.Series  # indexed by year
    source: str


def observed_series(warehouse: Path | None, series: str) -> Observed | None:
    """The observed values of ``series`` by year, or None when the warehouse does not hold them
    (no warehouse, a series nobody observes, tables absent from a partial build)."""
    query = OBSERVED.get(series)
    if query is None or warehouse is None or not Path(warehouse).is_file():
        return None
    try:
        con = open_read_only(warehouse)
    except duckdb.Error:
        return None
    try:
        rows = con.execute(query.sql).fetchall()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    if not rows:
        return None
    values = pd.Series({int(year): float(value) for year, value in rows}).sort_index()
    return Observed(values, query.source)
