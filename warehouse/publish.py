"""Builds, the one-refresh-at-a-time lock, and the atomic publish of a tested build.

A refresh builds a new DuckDB file under ``MIGSYS_HOME/builds/current`` and, once every check has
passed, moves it over ``MIGSYS_HOME/warehouse.duckdb`` with one ``os.replace``. The published file
is never opened read-write: readers holding it keep their data, new readers see the new build, and
a failure (or SIGKILL) at any earlier point leaves it byte-for-byte as it was.

Publishing records the file's sha256 and what it holds (``state/published_warehouse.json``); the
next refresh checks the file against it (``published_damage``) before reusing anything from it,
and rebuilds a damaged one from the sources.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from migsys.warehouse.files import (
    LockHeld,
    atomic_copy,
    atomic_write_text,
    held_lock,
    is_staged,
    move_into_place,
)
from migsys.warehouse.paths import DBT_PROJECT_DIR, MigsysPaths
from migsys.warehouse.sql import open_read_only

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
PUBLISHED_RECORD = "published_warehouse.json"


class RefreshFailed(RuntimeError):
    """A refresh step failed; the published warehouse was not touched."""

    def __init__(self, step: str, reason: str):
        self.step = step
        self.reason = reason
        super().__init__(f"refresh failed at step '{step}': {reason}")


class RefreshInProgress(RuntimeError):
    """Another refresh holds the lock."""


@dataclass(frozen=True)
class Build:
    """The build in progress: a DuckDB file plus dbt's target and logs, all in one folder."""

    id: str
    dir: Path
    project_dir: Path = DBT_PROJECT_DIR  # the dbt project that builds it

    @property
    def database(self) -> Path:
        return self.dir / "warehouse.duckdb"

    @property
    def target(self) -> Path:
        return self.dir / "target"

    @property
    def static_docs(self) -> Path:
        return self.target / "static_index.html"


# --------------------------------------------------------------------------- locking


@contextlib.contextmanager
def refresh_lock(paths: MigsysPaths, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the one-refresh-at-a-time lock. The kernel drops it if the holder dies (even SIGKILL)."""
    paths.state.mkdir(parents=True, exist_ok=True)
    lock_path = paths.state / "refresh.lock"
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(held_lock(lock_path, wait_seconds=wait_seconds))
        except LockHeld as held:
            raise RefreshInProgress(
                f"another refresh is running ({held.holder or 'unknown process'}; lock "
                f"{lock_path}); wait for it to finish — the published warehouse stays readable "
                "meanwhile"
            ) from None
        yield


# --------------------------------------------------------------------------- builds


def remove_leftovers(paths: MigsysPaths) -> list[Path]:
    """Delete what runs that died left behind: build folders and staged files. Call under the lock."""
    removed: list[Path] = []
    if paths.builds.is_dir():
        for leftover in paths.builds.iterdir():
            removed.append(leftover)
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    for folder in (paths.home, paths.docs, paths.reports, paths.state):
        if folder.is_dir():
            for staged in filter(is_staged, folder.iterdir()):
                removed.append(staged)
                if staged.is_dir():
                    shutil.rmtree(staged, ignore_errors=True)
                else:
                    staged.unlink(missing_ok=True)
    return removed


def prepare_build(
    paths: MigsysPaths, now: dt.datetime | None = None, project_dir: Path = DBT_PROJECT_DIR
) -> Build:
    """Remove leftovers of earlier runs and create a fresh build folder. Call under the lock.

    The folder name is constant (``builds/current``): only one build runs at a time, and a
    constant DuckDB path keeps the dbt profile unchanged, so dbt can reuse its parse cache.
    """
    remove_leftovers(paths)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S")
    build = Build(f"{stamp}-{os.getpid()}", paths.builds / "current", project_dir)
    build.target.mkdir(parents=True)
    cached_parse = paths.state / PARTIAL_PARSE_FILE
    if cached_parse.is_file():
        shutil.copyfile(cached_parse, build.target / PARTIAL_PARSE_FILE)
    return build


# What a full disk (or quota) says when it reaches us as text rather than as an OSError: DuckDB
# ("Failed to commit: Could not write file ...: No space left on device", a TransactionException),
# SQLite (Prefect's database), dbt's log lines.
DISK_FULL_TEXTS = (
    os.strerror(errno.ENOSPC),
    os.strerror(errno.EDQUOT),
    "database or disk is full",
)


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and everything that caused it or was being handled when it was raised."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` or anything that caused it is a full disk (or quota), however it came."""
    for link in _chain(error):
        if isinstance(link, OSError) and link.errno in {errno.ENOSPC, errno.EDQUOT}:
            return True
        if any(text in str(link) for text in DISK_FULL_TEXTS):
            return True
    return False


def failure_in(error: BaseException | None) -> RefreshFailed | None:
    """The ``RefreshFailed`` behind ``error`` (Prefect may raise its own error while recording
    a failed run: a full disk under its database, a server gone)."""
    return next((link for link in _chain(error) if isinstance(link, RefreshFailed)), None)


class DiskFull(RefreshFailed):
    """The disk under MIGSYS_HOME filled up; the build was removed, nothing was published."""


def _bytes_under(path: Path) -> int:
    total = 0
    for entry in path.rglob("*") if path.is_dir() else ():
        with contextlib.suppress(OSError):
            if entry.is_file() and not entry.is_symlink():
                total += entry.stat().st_size
    return total


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def disk_full_failure(
    paths: MigsysPaths, error: BaseException, *, remove_build: bool = True
) -> DiskFull:
    """Remove the build and staged files (they only fill the disk; call under the refresh
    lock), and say how much space a refresh needs: as much as the last successful build took
    (recorded at publish), else at least what this build had written or the published
    warehouse's size."""
    written = _bytes_under(paths.builds)
    if remove_build:
        remove_leftovers(paths)
    record = published_record(paths) or {}
    published = paths.warehouse.stat().st_size if paths.warehouse.is_file() else 0
    needed = int(record.get("build_bytes") or 0) or max(written, published)
    try:
        free = shutil.disk_usage(paths.home).free
    except OSError:
        free = 0
    cause = failure_in(error)
    step = cause.step if cause is not None else "start"
    # The deepest error that says so is the one closest to the disk (DuckDB's, the OS's).
    said = [str(link) for link in _chain(error) if any(t in str(link) for t in DISK_FULL_TEXTS)]
    first = said[-1] if said else str(error)
    detail = first.splitlines()[0] if first else type(error).__name__
    source = (
        "the last successful build took that much"
        if record.get("build_bytes")
        else ("at least what this build had written, or the published warehouse's size")
    )
    return DiskFull(
        step,
        f"disk full under {paths.home} ({detail}). The build was "
        f"{'removed' if remove_build else 'left for the next run to remove'} ({_size(written)} "
        f"written); {_size(free)} is free there now. A refresh needs about {_size(needed)} free "
        f"({source}): free space or move MIGSYS_HOME, then run it again. The published "
        "warehouse was not touched.",
    )


@contextlib.contextmanager
def cleaned_up_on_disk_full(paths: MigsysPaths) -> Iterator[None]:
    """On a full disk, remove the build and every staged file and raise ``DiskFull`` saying how
    much space was needed. Other failures keep the build for inspection (the next run removes
    it)."""
    try:
        yield
    except DiskFull:
        raise
    except BaseException as error:
        if is_disk_full(error):
            raise disk_full_failure(paths, error) from error
        raise


# --------------------------------------------------------------------------- publish


def _keep_parse_cache(build: Build, paths: MigsysPaths) -> None:
    parsed = build.target / PARTIAL_PARSE_FILE
    if parsed.is_file():
        atomic_copy(parsed, paths.state / PARTIAL_PARSE_FILE)


def publish_build(build: Build, paths: MigsysPaths, profile: dict | None = None) -> Path:
    """Swap the tested build in as the published warehouse, atomically; docs likewise.

    The build file is checkpointed and fsynced first so that the rename moves one complete file;
    its sha256 and ``profile`` (what it holds: ``guard.WarehouseProfile.to_json``) are recorded
    beside it. A failure before the rename (a full disk while staging the docs, say) removes
    what it staged and leaves the published warehouse and docs as they were.
    """
    con = duckdb.connect(str(build.database))
    try:
        con.execute("CHECKPOINT")  # fold the WAL into the file
    finally:
        con.close()
    record = {
        "build_id": build.id,
        "sha256": file_sha256(build.database),
        "bytes": build.database.stat().st_size,
        # Everything the build wrote (database, dbt target, docs): the space a refresh needs.
        "build_bytes": _bytes_under(build.dir),
        "profile": profile,
    }
    paths.home.mkdir(parents=True, exist_ok=True)
    _keep_parse_cache(build, paths)
    if build.static_docs.is_file():
        atomic_copy(build.static_docs, paths.docs / "index.html")
    # The record goes first: a record that names a file not yet in place is found to differ
    # (and the file rebuilt), never a file taken for checked when it was not.
    atomic_write_text(paths.state / PUBLISHED_RECORD, json.dumps(record, indent=2))
    move_into_place(build.database, paths.warehouse)  # flushed to disk, renamed, folder flushed
    shutil.rmtree(build.dir, ignore_errors=True)
    return paths.warehouse


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def published_record(paths: MigsysPaths) -> dict | None:
    """What was recorded when the published warehouse was published (None: no record)."""
    try:
        record = json.loads((paths.state / PUBLISHED_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "sha256" in record else None


_UNOPENED = "(the file: "


def unreadable_tables(database: Path) -> list[str]:
    """Tables of ``database`` DuckDB cannot read whole (every column of every row is read, so
    each block's checksum is checked); ``["(the file: <error>)"]`` when it does not open at all."""
    try:
        con = open_read_only(database)
    except duckdb.Error as error:
        return [f"{_UNOPENED}{str(error).splitlines()[0]})"]
    bad = []
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            try:
                con.execute(f'select count(*), sum(hash(t)) from "{schema}"."{table}" t').fetchall()
            except duckdb.Error:
                bad.append(f"{schema}.{table}")
    except duckdb.Error as error:
        bad.append(f"(the catalog: {str(error).splitlines()[0]})")
    finally:
        con.close()
    return bad


def published_damage(paths: MigsysPaths) -> str | None:
    """Why the published warehouse cannot be trusted, or None when it checks (or is absent).

    Against the sha256 recorded at publish when there is one; otherwise by DuckDB reading every
    table whole. Never writes.
    """
    if not paths.warehouse.is_file():
        return None
    record = published_record(paths)
    if record is not None:
        found = file_sha256(paths.warehouse)
        if found == record["sha256"]:
            return None
        return (
            f"its sha256 {found[:16]}… differs from the {record['sha256'][:16]}… recorded when "
            f"build {record.get('build_id', '?')} was published (changed or damaged on disk)"
        )
    bad = unreadable_tables(paths.warehouse)
    if not bad:
        return None
    if bad[0].startswith(_UNOPENED):  # a damaged header or catalog: no table can be listed
        return f"DuckDB cannot open it ({bad[0][len(_UNOPENED) : -1]})"
    shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    return f"DuckDB cannot read {len(bad)} of its tables ({shown})"


def write_run_record(paths: MigsysPaths, record: dict) -> Path:
    """Keep the record of one run (``state/runs/<build>.json``) and point ``last_refresh.json`` at it."""
    runs = paths.state / "runs"
    target = runs / f"{record['build_id']}.json"
    text = json.dumps(record, indent=2, default=str)
    atomic_write_text(target, text)
    if record.get("published"):
        atomic_write_text(paths.state / "last_refresh.json", text)
    return target
