"""Census panels for the forecast tests: the real INEGI files parsed directly (no warehouse
needed), and small panels generated from known processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from migsys.projections.census import CensusPanel, panel_from_frames
from migsys.warehouse.parsers import inegi
from migsys.warehouse.paths import DBT_PROJECT_DIR

CENSUS_YEARS = (1990, 1995, 2000, 2005, 2010)
WITH_2020 = (*CENSUS_YEARS, 2020)


def census_dates_seed() -> pd.DataFrame:
    """The project's seed of INEGI reference dates."""
    return pd.read_csv(DBT_PROJECT_DIR / "seeds" / "reference" / "inegi_census_dates.csv")


def real_panel(sources: Path, years: tuple[int, ...] = CENSUS_YEARS) -> CensusPanel:
    """The panel of the INEGI census/count files of ``years``, parsed as the ingest parses them."""
    rows = []
    for year in years:
        name = f"censo_{year}.csv"
        parsed = inegi.parse(sources / "inegi" / name, name)
        assert not parsed.failed, parsed.rejects[:3]
        rows += [
            {
                "cve_mun": row["cve_ent"] + row["cve_mun"],
                "cve_ent": row["cve_ent"],
                "census_year": year,
                "population_total": row["total"],
            }
            for row in parsed.rows
            if row["row_level"] == "municipality"
        ]
    return panel_from_frames(pd.DataFrame(rows), census_dates_seed())


def generated_panel(
    n_units: int,
    seed: int,
    *,
    growth_sd: float = 0.01,
    persistence: float = 0.5,
    count_noise: float = 0.0,
    years: tuple[int, ...] = CENSUS_YEARS,
) -> CensusPanel:
    """Municipalities in 8 states whose log growth per period is an AR(1) around a state mean,
    counts observed with independent log noise ``count_noise``."""
    rng = np.random.default_rng(seed)
    dates = census_dates_seed().set_index("census_year")
    frame = pd.DataFrame(
        {
            "census_year": list(years),
            "census_name": [dates.loc[y, "census_name"] for y in years],
            "reference_date": [dates.loc[y, "reference_date"] for y in years],
        }
    )
    states = np.array([f"{1 + i % 8:02d}" for i in range(n_units)])
    state_mean = rng.normal(0.015, 0.005, 8)[np.arange(n_units) % 8]
    level = np.log(np.exp(rng.uniform(np.log(1_000), np.log(500_000), n_units)))
    growth = state_mean + rng.normal(0, growth_sd, n_units)
    rows = []
    panel_dates = pd.to_datetime(frame["reference_date"])
    previous = None
    for year, day in zip(years, panel_dates, strict=True):
        when = day.year + (day.day_of_year - 1) / 365.25
        if previous is not None:
            level = level + growth * (when - previous)
            growth = (
                state_mean
                + persistence * (growth - state_mean)
                + rng.normal(0, growth_sd * np.sqrt(1 - persistence**2), n_units)
            )
        previous = when
        observed = level + (
            rng.normal(0, count_noise, n_units)
            if "Conteo" in frame.loc[frame.census_year == year, "census_name"].iloc[0]
            else 0.0
        )
        rows.append(
            pd.DataFrame(
                {
                    "cve_mun": [f"{s}{i:03d}" for i, s in enumerate(states)],
                    "cve_ent": states,
                    "census_year": year,
                    "population_total": np.round(np.exp(observed)),
                }
            )
        )
    return panel_from_frames(pd.concat(rows, ignore_index=True), frame)
