"""Load the registered source files into the ``raw`` schema, with lineage and rejects.

``ingest_sources`` replaces the content of the raw schema with what the files in the sources
folder say today: one ``raw.source_files`` row per registered file (loaded, absent or failed),
typed rows with lineage in ``raw.<source_id>``, and every broken rule in ``raw.rejects``. It never
raises on bad input: the returned ``IngestReport`` says what went wrong, and the refresh refuses
to publish when ``not report.ok``.

When no registered file is present at all (a fresh clone), the raw schema is filled from the
snapshot the package ships instead (``warehouse.snapshot``; ``would_use_embedded`` tells in
advance). The report's ``origin`` says which was used, ``origin_line()`` says it in one line, and
every ``raw.source_files`` row carries the origin with the provenance of its file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from migsys.warehouse.parsers.common import (
    MalformedLine,
    ParseResult,
    Reject,
    require_final_line_break,
)
from migsys.warehouse.raw_schema import (
    KEY_REFERENCES,
    PERIOD_KEYS,
    RAW_TABLES,
    REJECTS_COLUMNS,
    SOURCE_FILES_COLUMNS,
    create_raw_schema,
)
from migsys.warehouse.snapshot import (
    EMBEDDED_DIR,
    SnapshotError,
    SnapshotManifest,
    load_snapshot_table,
    read_manifest,
    verify_snapshot,
)
from migsys.warehouse.sources import SOURCES, SOURCES_BY_ID, Source, registered_files

ORIGIN_SOURCES = "sources"  # the files in MIGSYS_SOURCES
ORIGIN_EMBEDDED = "embedded"  # the snapshot shipped in the package (warehouse/embedded)
UNKNOWN_RELEASE = "unknown"

# Files the sources folder may hold besides the registered ones: the manifests ``migsys fetch``
# writes (``warehouse.fetch``, which judges downloads with this module's parsers).
SHA256_MANIFEST = "MANIFEST.sha256"
JSON_MANIFEST = "MANIFEST.json"
MANIFEST_NAMES = frozenset({SHA256_MANIFEST, JSON_MANIFEST})

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "SMALLINT": pa.int16(),
    "DOUBLE": pa.float64(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}


@dataclass(frozen=True)
class FileStats:
    """What happened to one registered file (mirrors its ``raw.source_files`` row)."""

    source_id: str
    file_name: str
    status: str  # loaded | absent | failed | known (registered, not parsed yet)
    file_sha256: str | None = None
    file_bytes: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    lines_skipped: int = 0
    origin: str = ORIGIN_SOURCES
    release_date: str | None = None  # ISO date, edition year or 'unknown' (warehouse.freshness)
    release_basis: str | None = None  # file | documented | estimated | unknown
    period_start: str | None = None
    period_end: str | None = None


@dataclass(frozen=True)
class IngestReject:
    """A broken rule located in a file (mirrors a ``raw.rejects`` row)."""

    source_id: str
    file_name: str
    rule: str
    message: str
    line_number: int | None = None
    field: str | None = None
    original_line: str | None = None

    def describe(self) -> str:
        where = (
            self.file_name
            if self.line_number is None
            else f"{self.file_name} line {self.line_number}"
        )
        return f"{where}: {self.rule}: {self.message}"


@dataclass
class IngestReport:
    files: list[FileStats] = field(default_factory=list)
    rejects: list[IngestReject] = field(default_factory=list)
    origin: str = ORIGIN_SOURCES  # sources | embedded
    sources_dir: Path | None = None
    snapshot: SnapshotManifest | None = None  # set when origin is embedded

    def origin_line(self) -> str:
        """Where the raw data came from, in one line for the person running the refresh."""
        if self.origin == ORIGIN_EMBEDDED and self.snapshot is not None:
            return (
                f"no source files in {self.sources_dir}: using the embedded "
                f"{self.snapshot.describe()}"
            )
        loaded = sum(1 for f in self.files if f.status == "loaded")
        parsed = [f for f in self.files if SOURCES_BY_ID[f.source_id].ingested]
        absent = [f for f in parsed if f.status == "absent"]
        line = f"{loaded} of {len(parsed)} source files loaded from {self.sources_dir}"
        if absent:
            line += f" ({len(absent)} absent: their tables stay empty)"
        if self.known_files:
            line += f"; {len(self.known_files)} known, not yet ingested (checksummed only)"
        return line

    @property
    def absent_files(self) -> list[str]:
        return [f.file_name for f in self.files if f.status == "absent"]

    @property
    def known_files(self) -> list[str]:
        """Registered files present but not parsed: their source is known, not yet ingested."""
        return [f.file_name for f in self.files if f.status == "known"]

    @property
    def absent_sources(self) -> list[str]:
        """Sources with at least one registered file missing from the sources folder."""
        return sorted({f.source_id for f in self.files if f.status == "absent"})

    @property
    def failed_files(self) -> list[str]:
        return [f.file_name for f in self.files if f.status == "failed"]

    @property
    def ok(self) -> bool:
        """No rule was broken (absent files are not a problem: their tables stay empty)."""
        return not self.rejects

    def stats_for(self, file_name: str) -> FileStats:
        for stats in self.files:
            if stats.file_name == file_name:
                return stats
        raise KeyError(f"{file_name} is not a registered file")

    def problem_lines(self) -> list[str]:
        """One human-readable line per reject: 'file line N: rule: message'."""
        return [reject.describe() for reject in self.rejects]

    def format_problems(self, per_kind: int | None = None) -> str:
        """Rejects, one per line (empty when ``ok``). With ``per_kind``, at most that many per
        file and rule, then one line counting the rest: a file pasted ten times over breaks
        the same rule on every line, and the console needs the kind, not 100,000 lines."""
        if per_kind is None:
            return "\n".join(self.problem_lines())
        lines: list[str] = []
        kinds: dict[tuple[str, str], list[IngestReject]] = {}
        for reject in self.rejects:
            kinds.setdefault((reject.file_name, reject.rule), []).append(reject)
        for (file_name, rule), rejects in kinds.items():
            lines += [reject.describe() for reject in rejects[:per_kind]]
            if len(rejects) > per_kind:
                lines.append(f"{file_name}: {rule}: … and {len(rejects) - per_kind:,} more")
        return "\n".join(lines)


def parse_source_file(source: Source, data: bytes, file_name: str) -> ParseResult:
    """Parse one published file with its source's parser, then apply the rules every file obeys
    whatever its parser: it is complete (``require_final_line_break`` where the registry says the
    publisher ends files with one), and a parser that cannot read it at all gives a reject naming
    the file and line, never a traceback. Ingest and ``migsys fetch`` both judge files by this."""
    assert source.parser is not None, f"{source.id} is known, not ingested: it has no parser"
    try:
        result = source.parser(data, file_name)
    except MalformedLine as bad:
        result = ParseResult(
            rejects=[
                Reject(
                    "file.malformed_line",
                    f"{bad.reason}: the CSV reader cannot split the line",
                    line_number=bad.line_number,
                    original_line=bad.text,
                )
            ]
        )
    except Exception as error:  # noqa: BLE001 - any other crash is named with its file
        result = ParseResult(
            rejects=[
                Reject(
                    "file.unreadable",
                    f"the parser of {source.id} cannot read it ({type(error).__name__}: {error}); "
                    "a file in another layout, or a bug in migsys",
                )
            ]
        )
    if source.completeness.final_line_break:
        result = require_final_line_break(data, result)
    return result


def period_of_rows(
    source: Source, file_name: str, result: ParseResult
) -> tuple[str | None, str | None]:
    """First and last period a parsed file's rows cover, as ingest would record them in
    ``raw.source_files`` (``migsys fetch`` compares a download with the file it replaces)."""
    con = duckdb.connect()
    try:
        create_raw_schema(con)
        _insert_rows(con, source.id, file_name, "", result, datetime.now(UTC).replace(tzinfo=None))
        return _period(con, source.id, file_name)
    finally:
        con.close()


def would_use_embedded(sources_dir: Path, sources: tuple[Source, ...] = SOURCES) -> bool:
    """True when no registered file is present in ``sources_dir``: ingest then uses the snapshot."""
    sources_dir = Path(sources_dir)
    return not any((sources_dir / name).is_file() for name in registered_files(sources))


def ingest_sources(
    con: duckdb.DuckDBPyConnection,
    sources_dir: Path,
    *,
    loaded_at: datetime | None = None,
    sources: tuple[Source, ...] = SOURCES,
    snapshot_dir: Path | None = EMBEDDED_DIR,
) -> IngestReport:
    """Create the raw schema and fill it from ``sources_dir``; see the module docstring.

    ``snapshot_dir`` is the snapshot used when no registered file is present; ``None`` builds
    from the files alone (absent files leave their tables empty: the paper's seeds only).
    """
    loaded_at = loaded_at or datetime.now(UTC).replace(tzinfo=None)
    sources_dir = Path(sources_dir)
    create_raw_schema(con)
    _clear_raw(con)
    report = IngestReport(sources_dir=sources_dir)
    report.rejects.extend(find_stray_files(sources_dir, sources))
    if snapshot_dir is not None and would_use_embedded(sources_dir, sources):
        _ingest_snapshot(con, report, Path(snapshot_dir), sources, loaded_at)
    else:
        for source in sources:
            for file_name in source.files:
                stats, rejects = _ingest_file(con, source, sources_dir, file_name, loaded_at)
                report.files.append(stats)
                report.rejects.extend(rejects)
        _check_key_references(con, report)
    _insert_rejects(con, report.rejects, report.files, loaded_at)
    return report


def _ingest_snapshot(
    con: duckdb.DuckDBPyConnection,
    report: IngestReport,
    snapshot_dir: Path,
    sources: tuple[Source, ...],
    loaded_at: datetime,
) -> None:
    """Fill the raw tables from the embedded snapshot; any problem with it is a reject."""
    report.origin = ORIGIN_EMBEDDED
    try:
        manifest = read_manifest(snapshot_dir)
    except SnapshotError as error:
        report.rejects.append(
            IngestReject("snapshot", str(snapshot_dir), "snapshot.unreadable", str(error))
        )
        return
    report.snapshot = manifest
    damaged = verify_snapshot(snapshot_dir, manifest)
    for problem in damaged:
        report.rejects.append(
            IngestReject("snapshot", str(snapshot_dir), "snapshot.integrity", problem)
        )
    if damaged:
        return
    for source in sources:
        if not source.ingested:
            continue
        entry = manifest.source(source.id)
        files = {f.file_name: f for f in manifest.files_of(source.id)}
        inserted = 0 if entry is None else load_snapshot_table(con, snapshot_dir, entry, loaded_at)
        expected = sum(f.rows_loaded for f in files.values())
        if inserted != expected:
            report.rejects.append(
                IngestReject(
                    source.id,
                    entry.parquet if entry else source.id,
                    "snapshot.integrity",
                    f"{inserted} rows in the snapshot's Parquet file, {expected} in its manifest",
                )
            )
        for file_name in source.files:
            snap = files.get(file_name)
            if not source.ingested:
                continue  # a known source has no rows in any snapshot
            if snap is None:
                stats = FileStats(source.id, file_name, "absent", origin=ORIGIN_EMBEDDED)
            else:
                start, end = _period(con, source.id, file_name)
                release = source.release(file_name, snap.release_date, end)
                stats = FileStats(
                    source.id,
                    file_name,
                    "loaded",
                    snap.file_sha256,
                    snap.file_bytes,
                    snap.rows_read,
                    snap.rows_loaded,
                    snap.rows_rejected,
                    snap.lines_skipped,
                    origin=ORIGIN_EMBEDDED,
                    release_date=release.date,
                    release_basis=release.basis,
                    period_start=start,
                    period_end=end,
                )
            _insert_source_file(con, stats, source, None, loaded_at, manifest.created_date)
            report.files.append(stats)


# Lines in a file's title or footnote that state when the publisher released or updated it:
# the World Bank's API export ("Last Updated Date","2025-01-28"), INEGI and Banxico exports
# ("Fecha de publicación: 28/01/2025"). The copies in ../shared/data carry none of them.
_RELEASE_PATTERNS = (
    re.compile(r'"?Last Updated Date"?\s*[,;:]\s*"?(\d{4})-(\d{2})-(\d{2})'),
    re.compile(r"(?i)release date\s*[,;:]\s*\"?(\d{4})-(\d{2})-(\d{2})"),
    re.compile(
        r"(?i)fecha de (?:publicaci|actualizaci|liberaci).{1,2}n\s*[,;:]?\s*\"?"
        r"(\d{1,2})/(\d{1,2})/(\d{4})"
    ),
)
_EDGE_LINES = 15  # such notes sit in the first or last lines, never among the data


def documented_release_date(data: bytes) -> str:
    """The release date a published file states about itself (ISO), else 'unknown'."""
    lines = data.decode("latin-1").splitlines()
    for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]:
        for pattern in _RELEASE_PATTERNS:
            found = pattern.search(line)
            if found is None:
                continue
            a, b, c = found.groups()
            year, month, day = (a, b, c) if len(a) == 4 else (c, b, a)
            try:
                return datetime(int(year), int(month), int(day)).date().isoformat()
            except ValueError:
                continue
    return UNKNOWN_RELEASE


def _period(con: duckdb.DuckDBPyConnection, source_id: str, file_name: str):
    """First and last period the loaded rows of one file cover (None, None when none)."""
    key, condition = PERIOD_KEYS[source_id]
    return tuple(
        con.execute(
            f"SELECT min({key}), max({key}) FROM raw.{source_id} "
            f"WHERE file_name = $file AND {condition}",
            {"file": file_name},
        ).fetchall()[0]
    )


def find_stray_files(
    sources_dir: Path, sources: tuple[Source, ...] = SOURCES
) -> list[IngestReject]:
    """Files in the root or a registered folder that are not registered (renamed, extra copies)."""
    registered = registered_files(sources)
    folders = sorted({Path(name).parts[0] for name in registered if len(Path(name).parts) > 1})
    candidates = [p for p in sources_dir.iterdir() if p.is_file()] if sources_dir.is_dir() else []
    for folder in folders:
        if (sources_dir / folder).is_dir():
            candidates.extend(p for p in (sources_dir / folder).rglob("*") if p.is_file())
    rejects = []
    for path in sorted(candidates):
        relative = path.relative_to(sources_dir).as_posix()
        if relative in registered or _is_ignored(path):
            continue
        folder = Path(relative).parts[0] if len(Path(relative).parts) > 1 else ""
        expected = [n for n in registered if folder and n.startswith(folder + "/")]
        owner = registered[expected[0]].id if expected else "sources"
        hint = f"expected one of {expected}" if expected else f"registered folders are {folders}"
        rejects.append(
            IngestReject(
                owner,
                relative,
                "source.stray_file",
                f"{relative} is not a registered source file (renamed or extra copy?); {hint}",
            )
        )
    return rejects


def _is_ignored(path: Path) -> bool:
    name = path.name
    return name.startswith(".") or name.upper().startswith("README") or name in MANIFEST_NAMES


def _clear_raw(con: duckdb.DuckDBPyConnection) -> None:
    """Ingest rebuilds raw from the files: stale rows from an earlier run must not survive."""
    for table in (*RAW_TABLES, "rejects", "source_files"):
        con.execute(f"DELETE FROM raw.{table}")


def _ingest_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    sources_dir: Path,
    file_name: str,
    loaded_at: datetime,
) -> tuple[FileStats, list[IngestReject]]:
    path = sources_dir / file_name
    if not path.is_file():
        stats = FileStats(source.id, file_name, "absent")
        _insert_source_file(con, stats, source, None, loaded_at)
        return stats, []
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    stated = documented_release_date(data)
    if not source.ingested:
        release = source.release(file_name, stated, None)
        stats = FileStats(
            source.id,
            file_name,
            "known",
            sha256,
            len(data),
            release_date=release.date,
            release_basis=release.basis,
        )
        _insert_source_file(con, stats, source, path, loaded_at)
        return stats, []
    result = parse_source_file(source, data, file_name)
    rows_loaded = 0 if result.failed else len(result.rows)
    release = source.release(file_name, stated, None)
    stats = FileStats(
        source.id,
        file_name,
        "failed" if result.failed else "loaded",
        sha256,
        len(data),
        result.rows_read,
        rows_loaded,
        result.rows_rejected,
        result.lines_skipped,
        release_date=release.date,
        release_basis=release.basis,
    )
    _check_row_accounting(stats)
    if not result.failed:
        _insert_rows(con, source.id, file_name, sha256, result, loaded_at)
        start, end = _period(con, source.id, file_name)
        release = source.release(file_name, stated, end)
        stats = replace(
            stats,
            period_start=start,
            period_end=end,
            release_date=release.date,
            release_basis=release.basis,
        )
    _insert_source_file(con, stats, source, path, loaded_at)
    return stats, [_locate(source.id, file_name, r) for r in result.rejects]


# At most this many unknown keys are named one by one; the rest are counted in one more reject.
_NAMED_UNKNOWN_KEYS = 10


def _check_key_references(con: duckdb.DuckDBPyConnection, report: IngestReport) -> None:
    """Keys a file shares with another source (``KEY_REFERENCES``): a loaded file with a key the
    other does not know is refused whole (keyed to another vintage), each key named."""
    loaded = {f.source_id for f in report.files if f.status == "loaded"}
    for source_id, reference in KEY_REFERENCES.items():
        target = reference["references"]
        if source_id not in loaded or target not in loaded:
            continue
        (what,) = con.execute(
            f"SELECT {reference['referenced_what']} FROM raw.{target} "
            f"WHERE {reference['referenced_where']}"
        ).fetchall()[0]
        unknown = con.execute(
            f"SELECT file_name, line_number, {reference['position']}, {reference['key']} "
            f"FROM raw.{source_id} WHERE {reference['where']} AND {reference['key']} NOT IN "
            f"(SELECT {reference['referenced_key']} FROM raw.{target} "
            f"WHERE {reference['referenced_where']}) ORDER BY rowid"
        ).fetchall()
        by_file: dict[str, list[tuple]] = {}
        for file_name, *rest in unknown:
            by_file.setdefault(file_name, []).append(tuple(rest))
        for file_name, keys in by_file.items():
            for line, position, key in keys[:_NAMED_UNKNOWN_KEYS]:
                report.rejects.append(
                    IngestReject(
                        source_id,
                        file_name,
                        "key.unknown_municipality",
                        f"{position}: {reference['field']} {key!r} is not {what}",
                        line,
                        reference["field"],
                    )
                )
            if len(keys) > _NAMED_UNKNOWN_KEYS:
                report.rejects.append(
                    IngestReject(
                        source_id,
                        file_name,
                        "key.unknown_municipality",
                        f"and {len(keys) - _NAMED_UNKNOWN_KEYS} more keys that are not {what}",
                    )
                )
            _fail_loaded_file(con, report, source_id, file_name)


def _fail_loaded_file(
    con: duckdb.DuckDBPyConnection, report: IngestReport, source_id: str, file_name: str
) -> None:
    """Take back the rows of a file refused after loading; it counts as failed, all rejected."""
    con.execute(f"DELETE FROM raw.{source_id} WHERE file_name = $file", {"file": file_name})
    con.execute(
        "UPDATE raw.source_files SET status = 'failed', rows_loaded = 0, "
        "rows_rejected = rows_read, period_start = NULL, period_end = NULL "
        "WHERE file_name = $file",
        {"file": file_name},
    )
    for position, stats in enumerate(report.files):
        if stats.file_name == file_name:
            report.files[position] = replace(
                stats,
                status="failed",
                rows_loaded=0,
                rows_rejected=stats.rows_read,
                period_start=None,
                period_end=None,
            )


def _check_row_accounting(stats: FileStats) -> None:
    if stats.rows_read != stats.rows_loaded + stats.rows_rejected:
        raise RuntimeError(
            f"{stats.file_name}: rows_read {stats.rows_read} != rows_loaded {stats.rows_loaded} "
            f"+ rows_rejected {stats.rows_rejected} (parser bookkeeping bug)"
        )


def _locate(source_id: str, file_name: str, reject: Reject) -> IngestReject:
    return IngestReject(
        source_id,
        file_name,
        reject.rule,
        reject.message,
        reject.line_number,
        reject.field,
        reject.original_line,
    )


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    """Arrow schema for raw-schema column types ("BIGINT", "VARCHAR NOT NULL", ...)."""
    return pa.schema([(name, _ARROW_TYPES[sql.split()[0]]) for name, sql in columns.items()])


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    source_id: str,
    file_name: str,
    sha256: str,
    result: ParseResult,
    loaded_at: datetime,
) -> None:
    if not result.rows:
        return
    columns = {**RAW_TABLES[source_id], "line_number": "INTEGER"}
    batch = pa.Table.from_pylist(result.rows, schema=arrow_schema(columns))
    names = ", ".join(columns)
    _insert_arrow(
        con,
        batch,
        f"INSERT INTO raw.{source_id} ({names}, source_id, file_name, file_sha256, loaded_at) "
        f"SELECT {names}, $source_id, $file_name, $sha, $loaded_at FROM incoming_batch",
        {"source_id": source_id, "file_name": file_name, "sha": sha256, "loaded_at": loaded_at},
    )


def _insert_arrow(
    con: duckdb.DuckDBPyConnection, batch: pa.Table, sql: str, parameters: dict | None = None
) -> None:
    """One bulk INSERT ... SELECT from an Arrow table registered as ``incoming_batch``."""
    con.register("incoming_batch", batch)
    try:
        con.execute(sql, parameters or {})
    finally:
        con.unregister("incoming_batch")


def _insert_source_file(
    con: duckdb.DuckDBPyConnection,
    stats: FileStats,
    source: Source,
    path: Path | None,
    loaded_at: datetime,
    snapshot_created=None,
) -> None:
    modified = (
        datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None) if path else None
    )
    row = {
        "source_id": stats.source_id,
        "file_name": stats.file_name,
        "status": stats.status,
        "file_sha256": stats.file_sha256,
        "file_bytes": stats.file_bytes,
        "file_modified_at": modified,
        "rows_read": stats.rows_read,
        "rows_loaded": stats.rows_loaded,
        "rows_rejected": stats.rows_rejected,
        "lines_skipped": stats.lines_skipped,
        "loaded_at": loaded_at,
        "origin": stats.origin,
        "publisher": source.publisher,
        "source_url": source.url,
        "licence": source.licence,
        "release_date": stats.release_date,
        "release_basis": stats.release_basis,
        "period_start": stats.period_start,
        "period_end": stats.period_end,
        "snapshot_created": snapshot_created,
    }
    assert list(row) == list(SOURCE_FILES_COLUMNS), "raw.source_files columns changed"
    names = ", ".join(row)
    placeholders = ", ".join(f"${name}" for name in row)
    con.execute(f"INSERT INTO raw.source_files ({names}) VALUES ({placeholders})", row)


def _insert_rejects(
    con: duckdb.DuckDBPyConnection,
    rejects: list[IngestReject],
    files: list[FileStats],
    loaded_at: datetime,
) -> None:
    if not rejects:
        return
    sha_by_file = {f.file_name: f.file_sha256 for f in files}
    rows = [
        {
            "source_id": r.source_id,
            "file_name": r.file_name,
            "file_sha256": sha_by_file.get(r.file_name),
            "line_number": r.line_number,
            "rule": r.rule,
            "field": r.field,
            "message": r.message,
            "original_line": r.original_line,
            "loaded_at": loaded_at,
        }
        for r in rejects
    ]
    batch = pa.Table.from_pylist(rows, schema=arrow_schema(REJECTS_COLUMNS))
    names = ", ".join(REJECTS_COLUMNS)
    _insert_arrow(
        con, batch, f"INSERT INTO raw.rejects ({names}) SELECT {names} FROM incoming_batch"
    )
