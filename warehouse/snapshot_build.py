"""Build the embedded snapshot (``migsys snapshot``): parse the registered files, keep the rows.

``build_snapshot`` ingests every registered file of a sources folder with the nightly ingest's
own parsers and rules, then writes the ``raw`` tables as Parquet with a manifest of provenance
(the format is ``warehouse.snapshot``'s, which ingest reads; this module sits above ingest).
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from migsys.warehouse.files import staged_path, swap_directory
from migsys.warehouse.ingest import IngestReport, ingest_sources
from migsys.warehouse.raw_schema import RAW_TABLES
from migsys.warehouse.snapshot import (
    MANIFEST_FILE,
    SNAPSHOT_FORMAT,
    SnapshotError,
    SnapshotFile,
    SnapshotManifest,
    SnapshotSource,
    file_sha256,
)
from migsys.warehouse.sources import SOURCES, Source, source_by_id

# A fixed load time for the throw-away ingest behind a snapshot: nothing of it is written out.
_SNAPSHOT_LOADED_AT = datetime(2000, 1, 1)


def build_snapshot(
    sources_dir: Path,
    out_dir: Path,
    *,
    created: date | None = None,
    sources: tuple[Source, ...] = SOURCES,
) -> SnapshotManifest:
    """Parse every registered file in ``sources_dir`` and write the snapshot to ``out_dir``.

    Every registered file must be present and clean: a snapshot with holes or with rows the
    parsers refused would ship a default that disagrees with the published files. The new
    snapshot is written beside ``out_dir`` and swapped in, so a failure leaves the old one whole.
    """
    sources_dir = Path(sources_dir)
    missing = [name for s in sources for name in s.files if not (sources_dir / name).is_file()]
    if missing:
        raise SnapshotError(
            f"{sources_dir}: a snapshot needs every registered file; missing: {', '.join(missing)} "
            "(`migsys fetch` downloads them)"
        )
    con = duckdb.connect()
    try:
        report = ingest_sources(
            con, sources_dir, loaded_at=_SNAPSHOT_LOADED_AT, sources=sources, snapshot_dir=None
        )
        if not report.ok:
            raise SnapshotError(
                f"{sources_dir}: the files broke rules, no snapshot written:\n"
                + report.format_problems()
            )
        out_dir = Path(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = staged_path(out_dir)
        staging.mkdir()
        try:
            manifest = _write_snapshot(con, report, staging, created or datetime.now(UTC).date())
            swap_directory(staging, out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        con.close()
    return manifest


def snapshot_columns(source_id: str) -> list[str]:
    """Columns a snapshot Parquet file holds, in order: lineage of the line, then the data."""
    return ["file_name", "line_number", "file_sha256", *RAW_TABLES[source_id]]


def _write_snapshot(
    con: duckdb.DuckDBPyConnection, report: IngestReport, out_dir: Path, created: date
) -> SnapshotManifest:
    snapshot_sources = []
    for source in _sources_in(report):
        parquet = f"{source.id}.parquet"
        columns = ", ".join(snapshot_columns(source.id))
        # ORDER BY ALL: file, line, then every value, so the bytes depend only on the content.
        con.execute(
            f"COPY (SELECT {columns} FROM raw.{source.id} ORDER BY ALL) TO '{out_dir / parquet}' "
            "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19)"
        )
        (rows,) = con.execute(f"SELECT count(*) FROM raw.{source.id}").fetchall()[0]
        snapshot_sources.append(
            SnapshotSource(
                source_id=source.id,
                publisher=source.publisher,
                publisher_short=source.publisher_short or source.publisher,
                title=source.title,
                url=source.url,
                licence=source.licence,
                attribution=source.attribution,
                parquet=parquet,
                parquet_sha256=file_sha256(out_dir / parquet),
                rows=int(rows),
            )
        )
    files = tuple(
        SnapshotFile(
            source_id=f.source_id,
            file_name=f.file_name,
            file_sha256=f.file_sha256 or "",
            file_bytes=f.file_bytes or 0,
            rows_read=f.rows_read,
            rows_loaded=f.rows_loaded,
            rows_rejected=f.rows_rejected,
            lines_skipped=f.lines_skipped,
            # only what the file itself states: the registry's dates are applied at load
            release_date=f.release_date if f.release_basis == "file" else "unknown",
            period_start=f.period_start,
            period_end=f.period_end,
        )
        for f in report.files
        if f.status != "known"
    )
    manifest = SnapshotManifest(
        created=created.isoformat(),
        format=SNAPSHOT_FORMAT,
        sources=tuple(snapshot_sources),
        files=files,
    )
    (out_dir / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _sources_in(report: IngestReport) -> list[Source]:
    ids: list[str] = []
    for stats in report.files:
        if stats.status == "known":
            continue  # known, not yet ingested: nothing parsed, nothing to ship
        if stats.source_id not in ids:
            ids.append(stats.source_id)
    return [source_by_id(source_id) for source_id in ids]
