"""Unit inputs of the kernels, read from the warehouse marts (columns as in docs/CONTRACTS.md).

Every reader takes an open DuckDB connection (the published warehouse, read-only) and returns
NumPy arrays aligned on one key order; a missing mart or year is a ``ValueError`` naming the mart,
the column and what was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from migsys.kernels.depopulation import (
    DEGREE_NAMES,
    DepopulationUnits,
)
from migsys.kernels.depopulation_indicators import (
    emigration_intensity_from_indicators,
    return_intensity_from_indicators,
)

NULL_DEGREE = "null"

# Household-weighted CONAPO 2000 indicators by intensity degree (% of households), computed from
# the 2,443-municipality file conapo/iim_2000_municipal.csv (HOU_REM_LAST_5_YEARS, HOU_RET,
# HOU_REM). They stand in for the municipal indicators when only the paper's Table 1 is
# available, whose rows give municipalities, population and households per degree but no rates.
TABLE1_DEGREE_INDICATORS_2000: dict[str, tuple[float, float, float]] = {
    # degree: (pct_households_emigrants, pct_households_return, pct_households_remittances)
    "very_high": (20.5139, 5.0308, 23.1260),
    "high": (14.1258, 2.7650, 14.5369),
    "medium": (8.2005, 1.5089, 8.4143),
    "low": (3.3955, 0.7811, 3.5999),
    "very_low": (1.3130, 0.2054, 1.3758),
    "null": (0.0, 0.0, 0.0),
}
# INEGI 2000 census: 47,592,253 men of 97,483,412 (used to split Table 1 totals by sex).
MALE_SHARE_2000 = 47_592_253 / 97_483_412


def fetch_frame(con, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run a query on the warehouse; a missing mart becomes an error naming it."""
    import duckdb

    try:
        return con.execute(sql, params or []).df()
    except duckdb.CatalogException as error:
        raise ValueError(
            f"warehouse: a mart this projection reads is missing ({error}); "
            "run `migsys refresh` to build the marts"
        ) from error


def census_years(con) -> list[int]:
    """Census/count years present in ``fct_municipal_population``."""
    frame = fetch_frame(con, "SELECT DISTINCT census_year FROM fct_municipal_population ORDER BY 1")
    return [int(year) for year in frame["census_year"]]


def census_population(con, years: list[int]) -> pd.DataFrame:
    """Wide frame indexed by ``cve_mun`` with one ``population_total`` column per census year
    (NaN where the municipality was not enumerated that year)."""
    frame = fetch_frame(
        con,
        "SELECT cve_mun, census_year, population_total FROM fct_municipal_population "
        "WHERE census_year IN (SELECT unnest(?)) AND population_total > 0",
        [list(years)],
    )
    wide = frame.pivot_table(index="cve_mun", columns="census_year", values="population_total")
    return wide.reindex(columns=list(years)).sort_index()


def intensity_index_years(con) -> list[int]:
    """Index years present in ``fct_migration_intensity``."""
    frame = fetch_frame(con, "SELECT DISTINCT index_year FROM fct_migration_intensity ORDER BY 1")
    return [int(year) for year in frame["index_year"]]


def latest_index_year(con, until: int) -> int:
    """The most recent CONAPO index year not after ``until``."""
    usable = [year for year in intensity_index_years(con) if year <= until]
    if not usable:
        raise ValueError(
            f"fct_migration_intensity: no intensity index at or before {until} "
            f"(index years: {intensity_index_years(con)})"
        )
    return usable[-1]


@dataclass(frozen=True)
class MunicipalInputs:
    """Base population by sex and CONAPO indicators per municipality (one row per ``cve_mun``)."""

    frame: pd.DataFrame  # index cve_mun; see municipal_inputs()

    @property
    def cve_mun(self) -> np.ndarray:
        return self.frame.index.to_numpy(dtype=str)

    @property
    def degree(self) -> np.ndarray:
        return self.frame["intensity_degree"].to_numpy(dtype=str)


def municipal_inputs(con, base_year: int, *, index_year: int) -> MunicipalInputs:
    """Every municipality enumerated in ``base_year`` with its ``index_year`` CONAPO indicators.

    Columns: population_total/male/female (base year), households, pct_households_emigrants,
    pct_households_return, pct_households_remittances, intensity_degree ('null' where CONAPO has
    no index for the municipality, indicators then 0), index_population (census population of the
    index year, the denominator of the emigration rate; the base population when not enumerated).
    """
    frame = fetch_frame(
        con,
        """
        SELECT p.cve_mun, p.population_total, p.population_male, p.population_female,
               i.households, i.pct_households_emigrants, i.pct_households_return,
               i.pct_households_remittances, i.intensity_degree,
               q.population_total AS index_population
        FROM fct_municipal_population AS p
        LEFT JOIN fct_migration_intensity AS i ON i.cve_mun = p.cve_mun AND i.index_year = ?
        LEFT JOIN fct_municipal_population AS q ON q.cve_mun = p.cve_mun AND q.census_year = ?
        WHERE p.census_year = ? AND p.population_total > 0
        ORDER BY p.cve_mun
        """,
        [index_year, index_year, base_year],
    ).set_index("cve_mun")
    if frame.empty:
        raise ValueError(
            f"fct_municipal_population: no municipality enumerated in base_year {base_year} "
            f"(census years: {census_years(con)})"
        )
    if index_year not in intensity_index_years(con):
        raise ValueError(
            f"fct_migration_intensity: no index_year {index_year} "
            f"(index years: {intensity_index_years(con)})"
        )
    unknown = ~frame["intensity_degree"].isin(DEGREE_NAMES) & frame["intensity_degree"].notna()
    if unknown.any():
        bad = frame.index[unknown.to_numpy()][0]
        raise ValueError(
            f"fct_migration_intensity: municipality {bad} has intensity_degree "
            f"{frame.loc[bad, 'intensity_degree']!r}, not one of {', '.join(DEGREE_NAMES)}"
        )
    frame["intensity_degree"] = frame["intensity_degree"].fillna(NULL_DEGREE)
    indicators = [
        "households",
        "pct_households_emigrants",
        "pct_households_return",
        "pct_households_remittances",
    ]
    frame[indicators] = frame[indicators].fillna(0.0)
    frame["index_population"] = frame["index_population"].fillna(frame["population_total"])
    # Censuses with no sex split for a municipality: split by the national ratio of that year.
    missing_sex = frame["population_male"].isna() | frame["population_female"].isna()
    if missing_sex.any():
        male_share = frame["population_male"].sum() / (
            frame["population_male"].sum() + frame["population_female"].sum()
        )
        frame.loc[missing_sex, "population_male"] = frame["population_total"] * male_share
        frame.loc[missing_sex, "population_female"] = frame["population_total"] * (1 - male_share)
    return MunicipalInputs(frame.astype({"population_total": float}))


def degree_codes(degrees: np.ndarray) -> np.ndarray:
    """Kernel degree codes (0 very_high … 5 null) of degree names."""
    lookup = {name: code for code, name in enumerate(DEGREE_NAMES)}
    return np.array([lookup[str(degree)] for degree in degrees], dtype=np.int64)


def units_from_inputs(
    inputs: MunicipalInputs, params_row: np.ndarray | None = None
) -> DepopulationUnits:
    """Kernel units of the municipalities in ``inputs`` (stable age structure, see the kernel)."""
    frame = inputs.frame
    emigration = emigration_intensity_from_indicators(
        frame["pct_households_emigrants"].to_numpy(float),
        frame["households"].to_numpy(float),
        frame["index_population"].to_numpy(float),
    )
    returns = return_intensity_from_indicators(
        frame["pct_households_return"].to_numpy(float),
        frame["pct_households_emigrants"].to_numpy(float),
    )
    return DepopulationUnits.from_totals(
        frame["population_total"].to_numpy(float),
        frame["population_male"].to_numpy(float),
        frame["population_female"].to_numpy(float),
        emigration,
        returns,
        degree_codes(inputs.degree),
        params=params_row,
        households=frame["households"].to_numpy(float),
        remittance_household_share=frame["pct_households_remittances"].to_numpy(float) / 100.0,
    )


def depopulation_units(
    con, base_year: int, *, index_year: int, params_row: np.ndarray | None = None
) -> tuple[DepopulationUnits, np.ndarray]:
    """Kernel units for every municipality enumerated in ``base_year`` and their ``cve_mun``.

    Base population by sex from the census of ``base_year``; emigration and return intensities
    from CONAPO's ``index_year`` indicators (municipalities without an index: degree 'null', no
    emigration); age structure: the stable population implied by each unit's rates under
    ``params_row`` (defaults if None).
    """
    inputs = municipal_inputs(con, base_year, index_year=index_year)
    return units_from_inputs(inputs, params_row), inputs.cve_mun


def degree_units_from_table1(
    con, params_row: np.ndarray | None = None
) -> tuple[DepopulationUnits, np.ndarray]:
    """One unit per intensity degree from the paper's Table 1 (seed
    ``paper_table_1_intensity_2000``) when no municipal data are loaded.

    Population and households per degree come from the table; the emigration and return
    indicators, which the table lacks, are CONAPO 2000's household-weighted degree means
    (``TABLE1_DEGREE_INDICATORS_2000``); sexes split by the 2000 national ratio.
    Returns the units and the degree names (the row key).
    """
    table = fetch_frame(con, "SELECT * FROM seeds.paper_table_1_intensity_2000")
    columns = {column.lower() for column in table.columns}
    needed = {"intensity_degree", "population", "households"}
    if not needed <= columns:
        raise ValueError(
            f"paper_table_1_intensity_2000: needs columns {sorted(needed)}, has {sorted(columns)}"
        )
    table.columns = [column.lower() for column in table.columns]
    table = table[table["intensity_degree"].isin(DEGREE_NAMES)].set_index("intensity_degree")
    if table.empty:
        raise ValueError(
            "paper_table_1_intensity_2000: no row whose intensity_degree is one of "
            + ", ".join(DEGREE_NAMES)
        )
    degrees = table.index.to_numpy(dtype=str)
    indicators = np.array([TABLE1_DEGREE_INDICATORS_2000[degree] for degree in degrees])
    population = table["population"].to_numpy(float)
    households = table["households"].to_numpy(float)
    emigration = emigration_intensity_from_indicators(indicators[:, 0], households, population)
    returns = return_intensity_from_indicators(indicators[:, 1], indicators[:, 0])
    units = DepopulationUnits.from_totals(
        population,
        population * MALE_SHARE_2000,
        population * (1.0 - MALE_SHARE_2000),
        emigration,
        returns,
        degree_codes(degrees),
        params=params_row,
        households=households,
        remittance_household_share=indicators[:, 2] / 100.0,
    )
    return units, degrees
