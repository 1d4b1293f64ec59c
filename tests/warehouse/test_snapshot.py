"""The embedded snapshot: what the parsers make of the published files, and what a fresh clone gets.

The committed snapshot (warehouse/embedded) must be exactly what `migsys snapshot` builds from
../shared/data today; a refresh with an empty sources folder must then publish the real rows.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.ingest import ingest_sources, would_use_embedded
from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.snapshot import (
    EMBEDDED_DIR,
    MANIFEST_FILE,
    SnapshotError,
    compare_snapshots,
    read_manifest,
)
from migsys.warehouse.snapshot_build import build_snapshot
from migsys.warehouse.sources import ingested_sources, registered_files

LOADED_AT = datetime(2026, 1, 2, 3, 4, 5)
MAX_SNAPSHOT_BYTES = 3_000_000


@pytest.fixture(scope="module")
def rebuilt(real_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot rebuilt from the real files into a tmp folder."""
    out = tmp_path_factory.mktemp("snapshot") / "embedded"
    build_snapshot(real_sources, out, created=date(2026, 1, 2))
    return out


def _copy_embedded(tmp_path: Path) -> Path:
    copy = tmp_path / "embedded"
    shutil.copytree(EMBEDDED_DIR, copy)
    return copy


def test_committed_snapshot_is_what_the_parsers_make_of_the_files(
    rebuilt: Path, real_sources: Path
) -> None:
    assert compare_snapshots(EMBEDDED_DIR, rebuilt) == []
    committed = read_manifest(EMBEDDED_DIR)
    for entry in committed.files:
        original = (real_sources / entry.file_name).read_bytes()
        assert entry.file_sha256 == hashlib.sha256(original).hexdigest(), entry.file_name
        assert entry.file_bytes == len(original)


def test_committed_snapshot_is_small_and_covers_every_registered_file() -> None:
    manifest = read_manifest(EMBEDDED_DIR)
    # Every file of every ingested source; known, not yet ingested sources carry no rows.
    assert {f.file_name for f in manifest.files} == set(registered_files(ingested_sources()))
    assert {s.source_id for s in manifest.sources} == {s.id for s in ingested_sources()}
    size = sum(p.stat().st_size for p in EMBEDDED_DIR.iterdir())
    assert size < MAX_SNAPSHOT_BYTES, f"snapshot is {size:,} bytes"
    # Only derived files ship: no copy of a published CSV.
    assert sorted(p.suffix for p in EMBEDDED_DIR.iterdir()) == [".json"] + [".parquet"] * len(
        ingested_sources()
    )
    for source in manifest.sources:
        assert source.publisher and source.url.startswith("https://") and source.licence
        assert source.url in source.attribution
    for entry in manifest.files:
        assert entry.release_date == "unknown" or date.fromisoformat(entry.release_date)
        assert entry.rows_loaded == entry.rows_read > 0 and entry.rows_rejected == 0


def test_changed_parser_output_is_caught_by_the_comparison(rebuilt: Path, tmp_path: Path) -> None:
    altered = tmp_path / "altered"
    shutil.copytree(rebuilt, altered)
    con = duckdb.connect()
    target = altered / "banxico_remittances_monthly.parquet"
    con.execute(
        f"copy (select * replace (valor_usd + 1 as valor_usd) from read_parquet('{rebuilt}/"
        f"banxico_remittances_monthly.parquet')) to '{target}' (format parquet)"
    )
    con.close()
    differences = compare_snapshots(rebuilt, altered)
    assert len(differences) == 1
    assert "banxico_remittances_monthly.parquet: 504 rows only in" in differences[0]


def test_empty_sources_folder_loads_the_snapshot_with_provenance(tmp_path: Path) -> None:
    empty = tmp_path / "sources"
    empty.mkdir()
    assert would_use_embedded(empty) and would_use_embedded(tmp_path / "missing")
    con = duckdb.connect()
    report = ingest_sources(con, empty, loaded_at=LOADED_AT)
    assert report.ok, report.format_problems()
    assert report.origin == "embedded"
    manifest = read_manifest(EMBEDDED_DIR)
    n_files = len(registered_files(ingested_sources()))
    assert report.origin_line() == (
        f"no source files in {empty}: using the embedded snapshot of {manifest.created} "
        f"({n_files} files, CONAPO/INEGI/Banxico/World Bank/UN)"
    )
    rows = con.execute(
        "select origin, status, count(*), sum(rows_loaded), min(snapshot_created), "
        "count(file_modified_at) from raw.source_files group by all"
    ).fetchall()
    assert rows == [
        (
            "embedded",
            "loaded",
            n_files,
            sum(f.rows_loaded for f in manifest.files),
            manifest.created_date,
            0,  # no file was copied: no copy time pretends to be freshness
        )
    ]
    lineage = con.execute(
        "select file_name, line_number, file_sha256, loaded_at from raw.inegi_census "
        "where census_year = 2000 and row_level = 'national'"
    ).fetchall()
    sha = {f.file_name: f.file_sha256 for f in manifest.files}["inegi/censo_2000.csv"]
    assert lineage == [("inegi/censo_2000.csv", 6, sha, LOADED_AT)]


def test_snapshot_and_files_fill_raw_identically(tmp_path: Path, real_sources: Path) -> None:
    from_files, from_snapshot = duckdb.connect(), duckdb.connect()
    ingest_sources(from_files, real_sources, loaded_at=LOADED_AT)
    ingest_sources(from_snapshot, tmp_path, loaded_at=LOADED_AT)
    for source in ingested_sources():
        query = f"select * from raw.{source.id} order by all"
        assert from_files.execute(query).fetchall() == from_snapshot.execute(query).fetchall()
    provenance = (
        "select source_id, file_name, status, file_sha256, file_bytes, rows_read, rows_loaded, "
        "rows_rejected, lines_skipped, publisher, source_url, licence, release_date, "
        "period_start, period_end from raw.source_files where status <> 'known' order by all"
    )
    assert from_files.execute(provenance).fetchall() == from_snapshot.execute(provenance).fetchall()


def test_one_present_file_means_the_files_are_used(tmp_path: Path, real_sources: Path) -> None:
    (tmp_path / "banxico").mkdir()
    shutil.copyfile(
        real_sources / "banxico" / "remesas_mensuales.csv",
        tmp_path / "banxico" / "remesas_mensuales.csv",
    )
    assert not would_use_embedded(tmp_path)
    con = duckdb.connect()
    report = ingest_sources(con, tmp_path)
    assert report.origin == "sources"
    absent = len(registered_files(ingested_sources())) - 1
    assert report.origin_line().endswith(f"({absent} absent: their tables stay empty)")
    assert con.execute("select count(*) from raw.inegi_census").fetchall() == [(0,)]


def test_altered_snapshot_is_refused_with_the_file_named(tmp_path: Path) -> None:
    snapshot = _copy_embedded(tmp_path)
    parquet = snapshot / "un_migrant_stock.parquet"
    parquet.write_bytes(parquet.read_bytes()[:-100])
    con = duckdb.connect()
    report = ingest_sources(con, tmp_path / "no_sources", snapshot_dir=snapshot)
    assert not report.ok
    [problem] = report.problem_lines()
    assert "snapshot.integrity" in problem and "un_migrant_stock.parquet" in problem


def test_missing_manifest_is_refused_with_the_path(tmp_path: Path) -> None:
    con = duckdb.connect()
    report = ingest_sources(con, tmp_path / "no_sources", snapshot_dir=tmp_path / "nowhere")
    assert not report.ok
    assert "snapshot.unreadable" in report.format_problems()
    assert str(tmp_path / "nowhere" / MANIFEST_FILE) in report.format_problems()


def test_manifest_of_another_format_is_a_clear_error(tmp_path: Path) -> None:
    snapshot = _copy_embedded(tmp_path)
    manifest = json.loads((snapshot / MANIFEST_FILE).read_text())
    manifest["format"] = 99
    (snapshot / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match=r"snapshot format 99, this migsys reads format 1"):
        read_manifest(snapshot)


def test_snapshot_needs_every_registered_file(tmp_path: Path, real_sources: Path) -> None:
    partial = tmp_path / "sources"
    shutil.copytree(real_sources, partial)
    (partial / "un" / "usa_migration.csv").chmod(0o644)
    (partial / "un" / "usa_migration.csv").unlink()
    out = _copy_embedded(tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(SnapshotError, match=r"missing: un/usa_migration\.csv"):
        build_snapshot(partial, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old snapshot kept whole


def test_snapshot_refuses_files_that_break_rules(tmp_path: Path, real_sources: Path) -> None:
    broken = tmp_path / "sources"
    shutil.copytree(real_sources, broken)
    monthly = broken / "banxico" / "remesas_mensuales.csv"
    monthly.chmod(0o644)
    monthly.write_text(monthly.read_text().replace(",767893,", ",-767893,", 1))
    with pytest.raises(SnapshotError, match=r"remesas_mensuales\.csv line 2: value\.negative"):
        build_snapshot(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_snapshot_command_help_and_check(tmp_path: Path, real_sources: Path) -> None:
    env = {"MIGSYS_HOME": str(tmp_path / "home"), "MIGSYS_SOURCES": str(real_sources)}
    cli = [sys.executable, "-m", "migsys.cli", "snapshot"]
    shown = subprocess.run([*cli, "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0
    assert "migsys snapshot --output warehouse/embedded" in shown.stdout
    checked = subprocess.run(
        [*cli, "--check"], capture_output=True, text=True, env=env, timeout=300
    )
    assert checked.returncode == 0, checked.stderr
    assert "holds exactly what the files" in " ".join(checked.stdout.split())
    written = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    assert written.returncode == 0, written.stderr
    assert compare_snapshots(EMBEDDED_DIR, tmp_path / "home" / "snapshot") == []


def _query(paths: MigsysPaths, sql: str) -> list[tuple]:
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_refresh_without_source_files_publishes_the_real_rows(embedded_home: MigsysPaths) -> None:
    """No source files: the refresh publishes the embedded snapshot's real data, not nothing."""
    assert embedded_home.warehouse.is_file()
    origins = _query(embedded_home, "select distinct origin, status from raw.source_files")
    assert origins == [("embedded", "loaded")]
    population = dict(
        _query(
            embedded_home,
            "select census_year, sum(population_total) from fct_municipal_population group by 1",
        )
    )
    assert sorted(population) == [1990, 1995, 2000, 2005, 2010, 2020]
    assert population[2020] == 126_014_024
    assert population[2010] == 112_336_538
    (last_year,) = _query(embedded_home, "select max(year) from fct_remittances_annual")[0]
    assert last_year == 2024
    years = _query(
        embedded_home,
        "select index_year, count(*) from fct_migration_intensity group by 1 order by 1",
    )
    assert years == [(2000, 2443), (2010, 2456), (2020, 2469)]
    (n_claims,) = _query(embedded_home, "select count(*) from fct_paper_claims_check")[0]
    assert n_claims >= 30


def test_misnamed_file_is_refused_rather_than_replaced_by_the_snapshot(tmp_path: Path) -> None:
    (tmp_path / "inegi").mkdir()
    (tmp_path / "inegi" / "censo 2000.csv").write_text("renamed copy")
    assert would_use_embedded(tmp_path)
    con = duckdb.connect()
    report = ingest_sources(con, tmp_path)
    assert not report.ok
    assert "inegi/censo 2000.csv: source.stray_file" in report.format_problems()
