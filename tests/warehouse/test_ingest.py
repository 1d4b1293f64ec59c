"""Ingest of the real files into the raw schema, and of an empty sources folder."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.ingest import ingest_sources
from migsys.warehouse.raw_schema import RAW_TABLES
from migsys.warehouse.sources import SOURCES, registered_files

LOADED_AT = datetime(2026, 1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def real_ingest(real_sources: Path):
    con = duckdb.connect()
    started = time.perf_counter()
    report = ingest_sources(con, real_sources, loaded_at=LOADED_AT)
    seconds = time.perf_counter() - started
    yield con, report, seconds
    con.close()


def test_real_ingest_is_clean_and_fast(real_ingest) -> None:
    _, report, seconds = real_ingest
    assert report.ok, report.format_problems()
    assert report.format_problems() == ""
    assert report.absent_sources == []
    assert {f.file_name for f in report.files} == set(registered_files())
    assert seconds < 10


def test_real_ingest_row_accounting(real_ingest) -> None:
    con, report, _ = real_ingest
    stored = con.execute(
        "select file_name, status, rows_read, rows_loaded, rows_rejected, lines_skipped "
        "from raw.source_files"
    ).fetchall()
    assert len(stored) == len(registered_files())
    for file_name, status, read, loaded, rejected, skipped in stored:
        stats = report.stats_for(file_name)
        assert (status, read, loaded, rejected, skipped) == (
            "loaded",
            stats.rows_read,
            stats.rows_loaded,
            0,
            stats.lines_skipped,
        )
        assert read == loaded + rejected > 0
    for source in SOURCES:
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


def test_empty_sources_folder_gives_absent_files_and_empty_tables(tmp_path: Path) -> None:
    con = duckdb.connect()
    report = ingest_sources(con, tmp_path)
    assert report.ok
    assert report.absent_sources == sorted(RAW_TABLES)
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
    assert count == second.stats_for("banxico/remesas_mensuales.csv").rows_loaded == 288
    assert con.execute("select count(*) from raw.source_files").fetchall() == [
        (len(registered_files()),)
    ]
