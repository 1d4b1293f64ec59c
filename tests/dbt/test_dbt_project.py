"""The dbt project built end to end: on the real published files, and on no files at all.

The two builds are the session's shared warehouses: ``published_home`` (the nightly flow on the
real files) and ``paper_only_home`` (ingest of no file, no snapshot, then ``dbt build``): each is
built once per test run. The tamper test builds its own file, because it changes raw rows; it
runs ``dbt`` with target/ and logs/ inside the test's temporary folder and excludes the sweeps
staging models (their ``sweeps`` schema is created by the refresh, not by ingest).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.dbt_runner import run_dbt
from migsys.warehouse.ingest import ingest_sources

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

EXCLUDE_SWEEPS = ("--exclude", "path:models/staging/sweeps")
TABLE_1_TOTALS = {"municipalities": 2443, "population": 97_483_412, "households": 22_639_808}
INEGI_NATIONAL_TOTALS = {
    2000: 97_483_412,
    2005: 103_263_388,
    2010: 112_336_538,
    2020: 126_014_024,
}


def ingest_into(database: Path, sources: Path) -> None:
    """The files in ``sources`` only: an empty folder gives the paper-only build, not the snapshot."""
    con = duckdb.connect(str(database))
    try:
        ingest_sources(con, sources, snapshot_dir=None)
    finally:
        con.close()


def query(database: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def real_build(published_home) -> Path:
    """The warehouse the session's nightly flow built from the real published files."""
    return published_home.warehouse


def test_real_build_reproduces_paper_table_1(real_build: Path) -> None:
    rows = query(
        real_build,
        "select sum(municipalities), sum(population), sum(households) "
        "from fct_intensity_degree_summary where index_year = 2000",
    )
    assert rows == [tuple(TABLE_1_TOTALS.values())]
    by_degree = dict(
        query(
            real_build,
            "select intensity_degree, municipalities from fct_intensity_degree_summary "
            "where index_year = 2000",
        )
    )
    assert by_degree == {
        "very_high": 162,
        "high": 330,
        "medium": 392,
        "low": 593,
        "very_low": 873,
        "null": 93,
    }


def test_real_build_national_totals_match_inegi(real_build: Path) -> None:
    totals = dict(
        query(
            real_build,
            "select census_year, sum(population_total) from fct_municipal_population group by 1",
        )
    )
    for year, expected in INEGI_NATIONAL_TOTALS.items():
        assert totals[year] == expected, year


def test_real_build_keeps_municipalities_created_after_1990(real_build: Path) -> None:
    created_later, growth_periods = query(
        real_build,
        "select (select count(*) from dim_municipality where first_census_year > 1990), "
        "(select count(distinct period) from fct_municipal_growth)",
    )[0]
    assert created_later > 0
    assert growth_periods == 8  # five consecutive, two decades, 2000-2020


def test_real_build_flags_where_paper_and_data_disagree(real_build: Path) -> None:
    checks = {
        claim_id: (status, recomputed, explanation)
        for claim_id, status, recomputed, explanation in query(
            real_build,
            "select claim_id, status, recomputed_value, explanation from fct_paper_claims_check",
        )
    }
    assert len(checks) >= 30
    status, recomputed, explanation = checks["nafta_remittances_2005_usd"]
    # the revised Banxico series (about USD 21.7 bn) is above the paper's first-release USD 20 bn
    assert status == "inconsistent"
    assert 21.5e9 < recomputed < 22e9
    assert "first release" in explanation
    assert checks["nafta_municipalities_with_migration_pct"][0] == "consistent"
    statuses = {status for status, _, _ in checks.values()}
    assert statuses == {"consistent", "inconsistent", "not_checkable"}


def test_singular_tests_fail_when_raw_data_disagree(real_sources: Path, tmp_path: Path) -> None:
    """Tamper with two raw values: exactly the tests guarding them must fail.

    ``dbt build`` skips everything downstream of a failed test, so seeds and models are built
    first with no test and every test afterwards: each guard then reports on its own.
    """
    database = tmp_path / "warehouse.duckdb"
    ingest_into(database, real_sources)
    con = duckdb.connect(str(database))
    # one more person in Aguascalientes (01001) in 2005, in the per-year file only
    con.execute(
        "update raw.inegi_census set total = total + 1 where census_year = 2005 "
        "and row_level = 'municipality' and cve_ent = '01' and cve_mun = '001'"
    )
    # Calvillo (01003) moved from 'Very high' to 'High' in CONAPO's 2000 index
    con.execute("update raw.conapo_iim_2000 set gim_2000 = 'High' where fe_id = 1 and mun_id = 3")
    con.close()
    no_tests = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
    assert run_dbt("build", database, tmp_path, *EXCLUDE_SWEEPS, *no_tests).success
    report = run_dbt("test", database, tmp_path, *EXCLUDE_SWEEPS)
    failed = {node.unique_id.split(".")[2] for node in report.failed}
    assert failed == {
        "assert_national_totals_match_inegi",  # 2005: municipalities no longer add up
        "assert_census_series_agrees_with_census_files",  # 2005: per-year file != series
        "assert_table_1_reproduced_from_raw",  # 2000: degree counts differ from the paper
    }


def test_build_without_source_files_gives_paper_marts_and_empty_data_marts(
    paper_only_home,
) -> None:
    """No file and no snapshot: nothing to ingest, yet every model builds and every test passes
    (``paper_only_home`` asserts the build's success)."""
    database = paper_only_home.warehouse

    counts = dict(
        query(
            database,
            "select 'population', count(*) from fct_municipal_population "
            "union all select 'remittances', count(*) from fct_remittances_monthly "
            "union all select 'table_1', count(*) from seeds.paper_table_1_intensity_2000 "
            "union all select 'paper_asymmetry', count(*) from fct_binational_asymmetry "
            "where source like 'paper%'",
        )
    )
    assert counts == {"population": 0, "remittances": 0, "table_1": 7, "paper_asymmetry": 14}

    checks = dict(
        query(database, "select claim_id, status from fct_paper_claims_check"),
    )
    assert checks["nafta_remittances_2005_usd"] == "not_checkable"
    # checks within the paper's own figures need no source file
    assert checks["impact_amplified_manufacturing_workers"] == "consistent"
    assert checks["social_university_pct"] == "inconsistent"
