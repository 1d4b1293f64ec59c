"""The embedded snapshot: the ``raw`` layer parsed from the published files, shipped as Parquet.

A fresh clone has no source files (they are public but not ours to redistribute as files), yet a
newcomer's first ``make refresh`` should publish real rows. ``warehouse.snapshot_build`` runs the
very same parsers as the nightly ingest over the files in a sources folder and writes what they
produce:

    warehouse/embedded/
        manifest.json              provenance: per file its publisher, official URL, licence and
                                   attribution, release date (where the file documents it, else
                                   'unknown'), sha256 and size of the original file, rows
        <source_id>.parquet        the raw table's rows (publisher's columns + file_name,
                                   file_sha256 and line_number of the original line)

This module is the snapshot's format: its manifest, and reading, checking, loading and comparing
snapshots. ``ingest_sources`` loads one with ``load_snapshot_table`` when no registered file is
present in MIGSYS_SOURCES; ``migsys snapshot`` (cli/snapshot.py, over ``warehouse.snapshot_build``,
which sits above ingest) rebuilds it. The original files never enter the repository: only what the
project derives from them, with their checksums.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from migsys.warehouse.raw_schema import LINEAGE_COLUMNS, RAW_TABLES

EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
MANIFEST_FILE = "manifest.json"
SNAPSHOT_FORMAT = 1


class SnapshotError(RuntimeError):
    """A snapshot cannot be built or read (the message names the file and the problem)."""


@dataclass(frozen=True)
class SnapshotFile:
    """One original file behind the snapshot, as ingest saw it."""

    source_id: str
    file_name: str  # path relative to the sources folder, e.g. inegi/censo_2000.csv
    file_sha256: str  # of the original file as published
    file_bytes: int
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    lines_skipped: int
    release_date: str  # ISO date where the file documents it, else 'unknown'
    period_start: str | None
    period_end: str | None


@dataclass(frozen=True)
class SnapshotSource:
    """Provenance of one source (one raw table, one Parquet file)."""

    source_id: str
    publisher: str
    publisher_short: str
    title: str
    url: str
    licence: str
    attribution: str
    parquet: str  # file name inside the snapshot folder
    parquet_sha256: str
    rows: int


@dataclass(frozen=True)
class SnapshotManifest:
    created: str  # ISO date the snapshot was made
    format: int
    sources: tuple[SnapshotSource, ...]
    files: tuple[SnapshotFile, ...]

    @property
    def created_date(self) -> date:
        return date.fromisoformat(self.created)

    def publishers(self) -> list[str]:
        """Short publisher names in registry order, each once: CONAPO, INEGI, Banxico, ..."""
        names: list[str] = []
        for source in self.sources:
            if source.publisher_short not in names:
                names.append(source.publisher_short)
        return names

    def files_of(self, source_id: str) -> list[SnapshotFile]:
        return [f for f in self.files if f.source_id == source_id]

    def source(self, source_id: str) -> SnapshotSource | None:
        return next((s for s in self.sources if s.source_id == source_id), None)

    def describe(self) -> str:
        """'snapshot of 2026-11-29 (14 files, CONAPO/INEGI/Banxico/World Bank/UN)'."""
        return (
            f"snapshot of {self.created} ({len(self.files)} files, {'/'.join(self.publishers())})"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> SnapshotManifest:
        try:
            data = json.loads(text)
            if data.get("format") != SNAPSHOT_FORMAT:
                raise SnapshotError(
                    f"{where}: snapshot format {data.get('format')!r}, this migsys reads "
                    f"format {SNAPSHOT_FORMAT} (rebuild it with `migsys snapshot`)"
                )
            return cls(
                created=data["created"],
                format=data["format"],
                sources=tuple(SnapshotSource(**s) for s in data["sources"]),
                files=tuple(SnapshotFile(**f) for f in data["files"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise SnapshotError(f"{where}: not a valid snapshot manifest ({error})") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- read and load


def read_manifest(snapshot_dir: Path = EMBEDDED_DIR) -> SnapshotManifest:
    """The manifest of a snapshot folder, or ``SnapshotError`` naming what is wrong."""
    path = Path(snapshot_dir) / MANIFEST_FILE
    if not path.is_file():
        raise SnapshotError(
            f"{path}: no snapshot manifest (the package was installed without its embedded "
            "data, or the folder is not a snapshot; `migsys snapshot` builds one)"
        )
    return SnapshotManifest.from_json(path.read_text(encoding="utf-8"), path)


def verify_snapshot(snapshot_dir: Path, manifest: SnapshotManifest) -> list[str]:
    """Problems with the Parquet files (missing, altered): empty when the snapshot is intact."""
    problems = []
    for source in manifest.sources:
        path = Path(snapshot_dir) / source.parquet
        if not path.is_file():
            problems.append(f"{path}: missing (listed in {MANIFEST_FILE})")
        elif file_sha256(path) != source.parquet_sha256:
            problems.append(
                f"{path}: sha256 differs from {MANIFEST_FILE} (altered after `migsys snapshot`)"
            )
    return problems


def load_snapshot_table(
    con: duckdb.DuckDBPyConnection,
    snapshot_dir: Path,
    source: SnapshotSource,
    loaded_at: datetime,
) -> int:
    """Insert one source's snapshot rows into ``raw.<source_id>``; returns the rows inserted."""
    path = Path(snapshot_dir) / source.parquet
    data_columns = list(RAW_TABLES[source.source_id])
    lineage = [c for c in LINEAGE_COLUMNS if c not in ("source_id", "loaded_at")]
    names = ", ".join([*data_columns, *lineage])
    before = con.execute(f"SELECT count(*) FROM raw.{source.source_id}").fetchall()[0][0]
    con.execute(
        f"INSERT INTO raw.{source.source_id} ({names}, source_id, loaded_at) "
        f"SELECT {names}, $source_id, $loaded_at FROM read_parquet($path)",
        {"source_id": source.source_id, "loaded_at": loaded_at, "path": str(path)},
    )
    after = con.execute(f"SELECT count(*) FROM raw.{source.source_id}").fetchall()[0][0]
    return int(after - before)


# --------------------------------------------------------------------------- compare


def compare_snapshots(expected_dir: Path, actual_dir: Path) -> list[str]:
    """What differs between two snapshots, ignoring the creation date and Parquet encoding.

    Compares the provenance of every file (checksums of the originals, row counts, periods,
    release dates) and every table row for row. Empty when they hold the same data.
    """
    expected, actual = read_manifest(expected_dir), read_manifest(actual_dir)
    differences = []
    expected_files = {f.file_name: f for f in expected.files}
    actual_files = {f.file_name: f for f in actual.files}
    for name in sorted(expected_files.keys() | actual_files.keys()):
        a, b = expected_files.get(name), actual_files.get(name)
        if a != b:
            differences.append(f"file {name}: {a} != {b}")
    expected_sources = {s.source_id: s for s in expected.sources}
    actual_sources = {s.source_id: s for s in actual.sources}
    for source_id in sorted(expected_sources.keys() | actual_sources.keys()):
        a, b = expected_sources.get(source_id), actual_sources.get(source_id)
        if a is None or b is None:
            differences.append(
                f"source {source_id}: only in {'actual' if a is None else 'expected'}"
            )
            continue
        provenance = ("publisher", "title", "url", "licence", "attribution", "rows")
        for key in provenance:
            if getattr(a, key) != getattr(b, key):
                differences.append(
                    f"source {source_id}: {key} {getattr(a, key)!r} != {getattr(b, key)!r}"
                )
        differences.extend(
            _compare_rows(Path(expected_dir) / a.parquet, Path(actual_dir) / b.parquet)
        )
    return differences


def _compare_rows(expected: Path, actual: Path) -> list[str]:
    con = duckdb.connect()
    try:
        only = {}
        for label, left, right in (("expected", expected, actual), ("actual", actual, expected)):
            (count,) = con.execute(
                "SELECT count(*) FROM (SELECT * FROM read_parquet($a) "
                "EXCEPT ALL SELECT * FROM read_parquet($b))",
                {"a": str(left), "b": str(right)},
            ).fetchall()[0]
            only[label] = count
    finally:
        con.close()
    if only["expected"] or only["actual"]:
        return [
            f"{actual.name}: {only['expected']} rows only in {expected}, "
            f"{only['actual']} rows only in {actual}"
        ]
    return []
