"""The 2020 census, CONAPO 2020 and the municipal remittances in the published warehouse.

Read from the session's ``published_home`` (the nightly flow on the real files, built once):
no build of its own. The hand computations read the published files directly with the csv
module, so they share no code with the parsers or the dbt models they check.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.paths import MigsysPaths

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

CENSUS_DATES = {2010: date(2010, 6, 12), 2020: date(2020, 3, 15)}
# A municipality to compute by hand: Juan Aldama, Zacatecas, among the most remittance-dependent.
HAND_MUNICIPALITY = ("32022", "Zacatecas", "Juan Aldama")


def query(paths: MigsysPaths, sql: str, parameters: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return con.execute(sql, parameters or []).fetchall()
    finally:
        con.close()


def census_populations(real_sources: Path, year: int) -> dict[str, int]:
    """cve_mun -> total population, read from INEGI's export by hand."""
    text = (real_sources / f"inegi/censo_{year}.csv").read_bytes().decode("cp1252")
    populations = {}
    for cells in csv.reader(text.splitlines()):
        key = cells[0].strip() if cells else ""
        if len(key) == 6 and key[2] == " " and key.replace(" ", "").isdigit():
            populations[key.replace(" ", "")] = int(cells[2].replace(",", ""))
    return populations


def banxico_year(real_sources: Path, year: int) -> dict[tuple[str, str], float]:
    """(state as published, municipality as published) -> USD in the year, by hand."""
    with open(real_sources / "banxico/remesas_municipio.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    columns = [i for i, label in enumerate(rows[0]) if label.endswith(str(year))]
    totals, state = {}, ""
    for cells in rows[1:]:
        name = cells[0].strip("\u2003\u2002 ")
        if name.startswith("\u25cf"):
            state = name.lstrip("\u25cf").strip()
        else:
            municipality = name.lstrip("\u26ac").strip()
            totals[(state, municipality)] = sum(float(cells[i]) for i in columns) * 1e6
    return totals


def mid_year_between_censuses(p2010: int, p2020: int, year: int) -> float:
    """Constant growth between the 2010 and 2020 reference dates, read on 1 July."""
    elapsed = (date(year, 7, 1) - CENSUS_DATES[2010]).days
    span = (CENSUS_DATES[2020] - CENSUS_DATES[2010]).days
    return p2010 * (p2020 / p2010) ** (elapsed / span)


def test_remittance_dependence_and_its_rank_match_a_hand_computation(
    published_home: MigsysPaths, real_sources: Path
) -> None:
    """2019 (between the censuses, no forecast involved): Juan Aldama's USD per inhabitant and
    its national rank, recomputed from the three published files alone."""
    cve_mun, state, name = HAND_MUNICIPALITY
    p2010, p2020 = (census_populations(real_sources, y) for y in (2010, 2020))
    usd = banxico_year(real_sources, 2019)
    hand_value = usd[(state, name)] / mid_year_between_censuses(
        p2010[cve_mun], p2020[cve_mun], 2019
    )
    ((value, rank, method, n_ranked),) = query(
        published_home,
        "select usd_per_inhabitant, rank_usd_per_inhabitant, population_method, "
        "(select count(rank_usd_per_inhabitant) from fct_municipal_remittances where year = 2019) "
        "from fct_municipal_remittances where cve_mun = ? and year = 2019",
        [cve_mun],
    )
    assert method == "census_interpolation"
    assert value == pytest.approx(hand_value, rel=1e-9)
    # The rank among every municipality the warehouse ranks, from the hand-computed values.
    ranked = query(
        published_home,
        "select cve_mun from fct_municipal_remittances "
        "where year = 2019 and rank_usd_per_inhabitant is not null",
    )
    # Banxico's names of each key, as the reviewed crosswalk matched them.
    published_name = {
        key: (state_name, municipality)
        for key, state_name, municipality in query(
            published_home,
            "select cve_mun, state_name_published, municipality_name_published "
            "from intermediate.int_banxico_municipalities_matched_to_cve_mun "
            "where cve_mun is not null",
        )
    }
    hand = {
        key: usd[published_name[key]] / mid_year_between_censuses(p2010[key], p2020[key], 2019)
        for (key,) in ranked
    }
    assert len(hand) == n_ranked == 2456
    assert rank == 1 + sum(other > hand_value for other in hand.values())


def test_per_inhabitant_after_2020_rests_on_the_published_forecast(
    published_home: MigsysPaths, real_sources: Path
) -> None:
    """2023: the 2020 census carried towards the published forecast's p50 (dated mid-2025)."""
    cve_mun, state, name = HAND_MUNICIPALITY
    p2020 = census_populations(real_sources, 2020)[cve_mun]
    ((p50_2025,),) = query(
        published_home,
        "select p50 from fct_forecasts where kernel = 'depopulation' and is_published "
        "and unit = ? and year = 2025",
        [cve_mun],
    )
    fraction = (date(2023, 7, 1) - CENSUS_DATES[2020]).days / (
        date(2025, 7, 1) - CENSUS_DATES[2020]
    ).days
    population = p2020 * (p50_2025 / p2020) ** fraction
    usd = banxico_year(real_sources, 2023)[(state, name)]
    ((value, method, note),) = query(
        published_home,
        "select usd_per_inhabitant, population_method, population_note "
        "from fct_municipal_remittances where cve_mun = ? and year = 2023",
        [cve_mun],
    )
    assert method == "census_and_forecast" and "forecast" in note
    assert value == pytest.approx(usd / population, rel=1e-9)


def test_municipalities_created_since_2010_are_flagged_never_imputed(
    published_home: MigsysPaths,
) -> None:
    new = {
        key
        for (key,) in query(
            published_home, "select cve_mun from dim_municipality where first_census_year = 2020"
        )
    }
    assert len(new) == 13
    first_years = dict(
        query(
            published_home,
            "select cve_mun, min(year) from fct_municipal_population_estimates "
            "where cve_mun in (select cve_mun from dim_municipality where first_census_year = 2020) "
            "group by 1",
        )
    )
    assert set(first_years) == new and set(first_years.values()) == {2020}
    # Banxico lists the 2,456 municipalities of 2010: none of the 13 has a row of its own.
    flagged = query(
        published_home, "select count(*) from fct_municipal_remittances where created_after_2010"
    )
    unflagged_new = query(
        published_home,
        "select count(*) from fct_municipal_remittances r join dim_municipality m using (cve_mun) "
        "where m.first_census_year = 2020 and not r.created_after_2010",
    )
    assert unflagged_new == [(0,)] and flagged[0][0] >= 0


def test_conapo_2020_nulo_rows_are_kept_with_nulls(published_home: MigsysPaths) -> None:
    rows = query(
        published_home,
        "select count(*), count(intensity_index), sum(households) from fct_migration_intensity "
        "where index_year = 2020 and intensity_degree = 'null'",
    )
    assert rows[0][:2] == (12, 0) and rows[0][2] > 0
    per_dwelling = query(
        published_home,
        "select count(*), count(usd_per_remittance_dwelling) from fct_municipal_remittances r "
        "join fct_migration_intensity i on i.cve_mun = r.cve_mun and i.index_year = 2020 "
        "where i.intensity_degree = 'null' and r.year = 2023",
    )
    assert per_dwelling[0][0] > 0 and per_dwelling[0][1] == 0  # no remittance dwellings: NULL


def test_matched_share_unallocated_and_state_sums(published_home: MigsysPaths) -> None:
    shares = query(
        published_home,
        "select year, sum(remittances_usd) filter (where cve_mun is not null) "
        "/ sum(remittances_usd) filter (where match_status <> 'unidentified') "
        "from fct_municipal_remittances_quarterly group by 1 order by 1",
    )
    assert [year for year, _ in shares] == list(range(2013, 2025))
    assert all(share >= 0.995 for _, share in shares)
    unallocated = query(
        published_home,
        "select match_status, count(distinct cve_ent), sum(remittances_usd) "
        "from fct_municipal_remittances_unallocated group by 1",
    )
    statuses = {status: (states, usd) for status, states, usd in unallocated}
    assert statuses["unidentified"][0] == 32  # one 'No identificado' per state, kept
    national = dict(
        query(
            published_home,
            "select year, sum(remittances_usd) from fct_municipal_remittances_quarterly group by 1",
        )
    )
    assert round(national[2023] / 1e6, 1) == 63_319.8  # the municipal file's state rows
