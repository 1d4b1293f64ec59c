"""The municipal census panel the depopulation forecasts read: populations, exact dates, geography.

One :class:`CensusPanel` holds every municipality's total population at every census or count
(NaN where it was not enumerated), the exact reference date of each enumeration as a fractional
year, whether it was a full census or a *Conteo* (the 1995 and 2005 counts, which were smaller
operations with their own coverage problems), and each municipality's state.

Geography is kept stable by exclusion, never by guessing: a municipality created after a census
has no population at that census, so it is left out of every method and score that needs it
(the base period of a trend, the origin, the target); its parent keeps the code and carries the
loss as growth, as INEGI publishes it. The files hold no parent–child table, and aggregating
children back to a parent picked by name or neighbourhood would be a guess.

Everything downstream takes a panel and an origin and calls :meth:`CensusPanel.until` first, so no
method can see an enumeration after its origin (a test multiplies them by ten and checks that
nothing moves).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

CENSUS = "census"
COUNT = "count"
# INEGI names its intercensal counts "Conteo de Población y Vivienda"
COUNT_NAME_MARK = "conteo"


def fractional_year(day: date) -> float:
    """``day`` as a fractional year: the year plus the share of it elapsed before ``day``."""
    start = date(day.year, 1, 1)
    length = (date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length


@dataclass(frozen=True)
class CensusPanel:
    """Population by municipality (rows) and enumeration (columns, in time order).

    population: ``[n_units, n_years]`` persons, NaN where the municipality was not enumerated.
    dates: ``[n_years]`` reference dates as fractional years (e.g. 2000-02-14 → 2000.12).
    kinds: ``census`` or ``count`` per enumeration.
    """

    cve_mun: np.ndarray
    cve_ent: np.ndarray
    years: tuple[int, ...]
    dates: np.ndarray
    kinds: tuple[str, ...]
    population: np.ndarray

    def __post_init__(self) -> None:
        n_units, n_years = self.population.shape
        if len(self.years) != n_years or self.dates.shape != (n_years,):
            raise ValueError("census panel: years, dates and population columns disagree")
        if self.cve_mun.shape != (n_units,) or self.cve_ent.shape != (n_units,):
            raise ValueError("census panel: cve_mun/cve_ent must have one entry per row")
        if list(self.years) != sorted(set(self.years)):
            raise ValueError(f"census panel: years must be increasing, got {self.years}")
        if np.any(np.diff(self.dates) <= 0):
            raise ValueError("census panel: reference dates must increase with the years")
        bad = np.isfinite(self.population) & (self.population <= 0)
        if bad.any():
            unit, column = np.argwhere(bad)[0]
            raise ValueError(
                f"census panel: municipality {self.cve_mun[unit]} has population "
                f"{self.population[unit, column]} in {self.years[column]}; must be > 0 or absent"
            )
        for kind in self.kinds:
            if kind not in (CENSUS, COUNT):
                raise ValueError(f"census panel: kind {kind!r} is neither {CENSUS!r} nor {COUNT!r}")

    def column(self, year: int) -> int:
        """Position of ``year`` among the enumerations."""
        try:
            return self.years.index(int(year))
        except ValueError:
            raise ValueError(
                f"fct_municipal_population: no enumeration in {year} (years: {list(self.years)})"
            ) from None

    def level(self, year: int) -> np.ndarray:
        """Population of every row in ``year`` (NaN where not enumerated)."""
        return self.population[:, self.column(year)]

    def date(self, year: int) -> float:
        return float(self.dates[self.column(year)])

    def kind(self, year: int) -> str:
        return self.kinds[self.column(year)]

    def until(self, origin: int) -> CensusPanel:
        """The panel as it stood at ``origin``: enumerations after it removed."""
        keep = [position for position, year in enumerate(self.years) if year <= origin]
        if not keep:
            raise ValueError(f"origin: {origin} is before the first enumeration ({self.years[0]})")
        return CensusPanel(
            self.cve_mun,
            self.cve_ent,
            tuple(self.years[p] for p in keep),
            self.dates[keep].copy(),
            tuple(self.kinds[p] for p in keep),
            self.population[:, keep].copy(),
        )

    def growth_rate(self, earlier: int, later: int) -> np.ndarray:
        """Continuous annual growth of every row from ``earlier`` to ``later``, over the exact
        time between their reference dates (NaN where either is missing)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(self.level(later) / self.level(earlier)) / (
                self.date(later) - self.date(earlier)
            )

    def state_totals(self) -> tuple[np.ndarray, np.ndarray]:
        """(state keys, ``[n_states, n_years]`` totals over the municipalities enumerated).

        A state's boundary does not move when a municipality splits, so its total over the
        municipalities enumerated each year is a stable series.
        """
        states, inverse = np.unique(self.cve_ent, return_inverse=True)
        totals = np.zeros((states.size, len(self.years)))
        np.add.at(totals, inverse, np.nan_to_num(self.population))
        return states, totals

    def state_of_rows(self) -> np.ndarray:
        """Index of each row's state in :meth:`state_totals`."""
        return np.unique(self.cve_ent, return_inverse=True)[1]

    def replace_population(self, population: np.ndarray) -> CensusPanel:
        return CensusPanel(
            self.cve_mun, self.cve_ent, self.years, self.dates, self.kinds, population
        )


def panel_from_frames(populations: pd.DataFrame, dates: pd.DataFrame) -> CensusPanel:
    """Build a panel from long populations (cve_mun, cve_ent, census_year, population_total) and
    census dates (census_year, census_name, reference_date). Errors name the missing piece."""
    needed = {"cve_mun", "cve_ent", "census_year", "population_total"}
    if not needed <= set(populations.columns):
        raise ValueError(
            f"fct_municipal_population: needs columns {sorted(needed)}, "
            f"has {sorted(populations.columns)}"
        )
    rows = populations[populations["population_total"] > 0]
    if rows.empty:
        raise ValueError("fct_municipal_population: no municipality with a population > 0")
    years = sorted(int(year) for year in rows["census_year"].unique())
    known = {int(row.census_year): row for row in dates.itertuples()}
    missing = [year for year in years if year not in known]
    if missing:
        raise ValueError(
            f"seeds.inegi_census_dates: no reference date for census year {missing[0]} "
            "(every enumeration needs its exact date)"
        )
    wide = rows.pivot_table(
        index="cve_mun", columns="census_year", values="population_total", aggfunc="sum"
    ).reindex(columns=years)
    states = rows.groupby("cve_mun")["cve_ent"].first().reindex(wide.index)
    kinds = tuple(
        COUNT if COUNT_NAME_MARK in str(known[year].census_name).lower() else CENSUS
        for year in years
    )
    reference = np.array(
        [fractional_year(pd.Timestamp(known[y].reference_date).date()) for y in years]
    )
    return CensusPanel(
        cve_mun=wide.index.to_numpy(dtype=str),
        cve_ent=states.to_numpy(dtype=str),
        years=tuple(years),
        dates=reference,
        kinds=kinds,
        population=wide.to_numpy(dtype=float),
    )


def read_census_panel(con) -> CensusPanel:
    """The panel of ``fct_municipal_population`` with the dates of ``seeds.inegi_census_dates``."""
    from migsys.projections.inputs import fetch_frame

    populations = fetch_frame(
        con,
        "SELECT cve_mun, cve_ent, census_year, population_total FROM fct_municipal_population",
    )
    dates = fetch_frame(
        con, "SELECT census_year, census_name, reference_date FROM seeds.inegi_census_dates"
    )
    return panel_from_frames(populations, dates)


@dataclass(frozen=True)
class Pair:
    """One origin/target pair of the rolling-origin evaluation."""

    origin: int
    target: int

    @property
    def label(self) -> str:
        return f"{self.origin}->{self.target}"


def base_start(panel: CensusPanel, origin: int, base_years: float = 10.0) -> int:
    """First year of the base period before ``origin``: the latest enumeration at least
    ``base_years`` (nominal) before it, else the earliest one (a shorter base)."""
    earlier = [year for year in panel.years if year < origin]
    if not earlier:
        raise ValueError(
            f"origin: {origin} has no earlier enumeration to extrapolate from "
            f"(years: {list(panel.years)})"
        )
    long_enough = [year for year in earlier if origin - year >= base_years]
    return max(long_enough) if long_enough else min(earlier)
