"""Ingest of the real files into the raw schema, and of an empty sources folder."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.ingest import documented_release_date, ingest_sources
from migsys.warehouse.raw_schema import RAW_TABLES
from migsys.warehouse.sources import SOURCES, ingested_sources, registered_files

LOADED_AT = datetime(2026, 1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def real_ingest(real_sources: Path):
    con = duckdb.connect()
    started = time.perf_counter()
    report = ingest_sources(con, real_sources, loaded_at=LOADED_AT)
    seconds = time.perf_counter() - started
    yield con, report, seconds
    con.close()


def test_real_ingest_is_clean(real_ingest) -> None:
    _, report, _ = real_ingest
    assert report.ok, report.format_problems()
    assert report.format_problems() == ""
    assert report.absent_sources == []
    assert {f.file_name for f in report.files} == set(registered_files())


def test_real_ingest_row_accounting(real_ingest) -> None:
    con, report, _ = real_ingest
    stored = con.execute(
        "select file_name, status, rows_read, rows_loaded, rows_rejected, lines_skipped "
        "from raw.source_files"
    ).fetchall()
    assert len(stored) == len(registered_files())
    for file_name, status, read, loaded, rejected, skipped in stored:
        stats = report.stats_for(file_name)
        if not registered_files()[file_name].ingested:
            # Known, not yet ingested: listed and checksummed, never parsed.
            assert (status, read, loaded, rejected) == ("known", 0, 0, 0)
            assert stats.file_sha256 and stats.file_bytes
            continue
        assert (status, read, loaded, rejected, skipped) == (
            "loaded",
            stats.rows_read,
            stats.rows_loaded,
            0,
            stats.lines_skipped,
        )
        assert read == loaded + rejected > 0
    for source in ingested_sources():
        per_file = dict(
            con.execute(f"select file_name, count(*) from raw.{source.id} group by 1").fetchall()
        )
        assert per_file == {f: report.stats_for(f).rows_loaded for f in source.files}
    assert con.execute("select count(*) from raw.rejects").fetchall() == [(0,)]


def test_real_ingest_lineage_points_at_the_published_line(real_ingest, real_sources: Path) -> None:
    con, report, _ = real_ingest
    file_name, line_number, sha, loaded_at = con.execute(
        "select file_name, line_number, file_sha256, loaded_at from raw.inegi_census "
        "where census_year = 2000 and row_level = 'national'"
    ).fetchall()[0]
    assert (file_name, loaded_at) == ("inegi/censo_2000.csv", LOADED_AT)
    assert sha == report.stats_for(file_name).file_sha256
    published = (real_sources / file_name).read_bytes().decode("cp1252").splitlines()
    assert "97,483,412" in published[line_number - 1]


def test_real_ingest_national_totals_in_raw(real_ingest) -> None:
    con, _, _ = real_ingest
    totals = dict(
        con.execute(
            "select census_year, sum(total) from raw.inegi_census "
            "where row_level = 'municipality' group by 1"
        ).fetchall()
    )
    assert totals[2000] == 97_483_412
    assert totals[2005] == 103_263_388
    assert totals[2010] == 112_336_538


def test_empty_sources_folder_without_snapshot_gives_absent_files_and_empty_tables(
    tmp_path: Path,
) -> None:
    con = duckdb.connect()
    report = ingest_sources(con, tmp_path, snapshot_dir=None)
    assert report.ok
    assert report.origin == "sources"
    # Every registered source is absent, the known ones (no raw table yet) included.
    assert report.absent_sources == sorted(s.id for s in SOURCES)
    assert set(RAW_TABLES) == {s.id for s in ingested_sources()}
    statuses = con.execute("select distinct status from raw.source_files").fetchall()
    assert statuses == [("absent",)]
    for table in RAW_TABLES:
        assert con.execute(f"select count(*) from raw.{table}").fetchall() == [(0,)]


def test_ingest_twice_replaces_rather_than_appends(tmp_path: Path, real_sources: Path) -> None:
    (tmp_path / "banxico").mkdir()
    for name in ("remesas_mensuales.csv", "usdmxn_mensual.csv"):
        (tmp_path / "banxico" / name).write_bytes((real_sources / "banxico" / name).read_bytes())
    con = duckdb.connect()
    first = ingest_sources(con, tmp_path)
    second = ingest_sources(con, tmp_path)
    assert first.ok and second.ok
    count = con.execute("select count(*) from raw.banxico_remittances_monthly").fetchall()[0][0]
    assert count == second.stats_for("banxico/remesas_mensuales.csv").rows_loaded == 504
    assert con.execute("select count(*) from raw.source_files").fetchall() == [
        (len(registered_files()),)
    ]


def test_real_ingest_records_provenance_and_the_period_covered(real_ingest) -> None:
    con, report, _ = real_ingest
    assert report.origin == "sources"
    assert report.origin_line().startswith("18 of 18 source files loaded from ")
    assert "known, not yet ingested" not in report.origin_line()
    rows = {
        row[0]: row[1:]
        for row in con.execute(
            "select file_name, origin, publisher, source_url, licence, release_date, "
            "period_start, period_end, snapshot_created from raw.source_files"
        ).fetchall()
    }
    origin, publisher, url, licence, release, start, end, snapshot = rows[
        "banxico/remesas_mensuales.csv"
    ]
    assert (origin, start, end, snapshot) == ("sources", "1995-01", "2024-12", None)
    assert publisher.startswith("Banco de México") and url.startswith("https://www.banxico")
    assert licence  # the copies carry no release note: Banxico's usual lag gives an estimate
    assert release == "2025-02-04"  # 2024-12-31 + 35 days
    releases = dict(
        con.execute(
            "select file_name, release_date || ' ' || release_basis from raw.source_files"
        ).fetchall()
    )
    assert releases["banxico/remesas_mensuales.csv"] == "2025-02-04 estimated"
    assert releases["banxico/remesas_municipio.csv"] == "2024-08-14 estimated"
    assert releases["inegi/censo_2020.csv"] == "2020-03-15 documented"  # census reference date
    assert releases["conapo/iim_2020_municipio.csv"] == "2020 documented"  # edition year
    assert releases["un/usa_migration.csv"] == "2017 documented"  # the 2017 revision
    assert releases["worldbank/gdp.csv"] == "2024-07-18 estimated"
    assert rows["banxico/remesas_entidad.csv"][5:7] == ("2003-Q1", "2024-Q4")
    # The first months of the exchange-rate file carry 0 (no data): not part of the period.
    assert rows["banxico/usdmxn_mensual.csv"][5] == "1991-11"
    assert rows["inegi/censo_1990-2010.csv"][5:7] == ("1990", "2010")
    assert rows["conapo/IIM2010_BASEMUN.csv"][5:7] == ("2010", "2010")
    assert rows["conapo/iim_2020_municipio.csv"][5:7] == ("2020", "2020")
    assert rows["banxico/remesas_municipio.csv"][5:7] == ("2013-Q1", "2024-Q2")
    assert rows["inegi/municipios_2020.topojson"][5:7] == ("2020", "2020")


def test_stats_of_real_ingest_carry_the_period(real_ingest) -> None:
    _, report, _ = real_ingest
    stats = report.stats_for("un/usa_migration.csv")
    assert (stats.period_start, stats.period_end, stats.origin) == ("1990", "2017", "sources")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"Last Updated Date","2025-01-28",', "2025-01-28"),
        ("Fecha de publicación: 28/01/2025", "2025-01-28"),
        ("Fecha de actualización 3/7/2011".encode().decode("latin-1"), "2011-07-03"),
        ("Release date: 2019-09-18", "2019-09-18"),
        ("Fecha de publicación: 31/02/2025", "unknown"),  # not a date
        ('"Fuente: INEGI. XII Censo General de Población y Vivienda 2000."', "unknown"),
    ],
)
def test_documented_release_date_reads_publishers_notes(line: str, expected: str) -> None:
    # Latin-1 bytes; the third case is a UTF-8 file (two bytes per accent), read as Latin-1.
    data = f"title\n{line}\nA,B\n1,2\n".encode("latin-1")
    assert documented_release_date(data) == expected


def test_release_note_among_the_data_rows_is_not_read() -> None:
    rows = "\n".join(
        f"{i},Fecha de publicación: 01/01/2020" if 20 <= i < 40 else f"{i},x" for i in range(60)
    )
    assert documented_release_date(f"A,B\n{rows}\n".encode("latin-1")) == "unknown"
