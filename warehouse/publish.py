"""Builds, the one-refresh-at-a-time lock, and the atomic publish of a tested build.

A refresh builds a new DuckDB file under ``MIGSYS_HOME/builds/current`` and, once every check has
passed, moves it over ``MIGSYS_HOME/warehouse.duckdb`` with one ``os.replace``. The published file
is never opened read-write: readers holding it keep their data, new readers see the new build, and
a failure (or SIGKILL) at any earlier point leaves it byte-for-byte as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from migsys.warehouse.paths import DBT_PROJECT_DIR, MigsysPaths

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# Temporary names this module (and the report/docs steps) stage files under before a swap; a run
# killed with SIGKILL can leave them behind, and the next run removes them.
STAGED_PREFIX = ".staged-"


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
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown process"
                    raise RefreshInProgress(
                        f"another refresh is running ({holder}; lock {lock_path}); "
                        "wait for it to finish — the published warehouse stays readable meanwhile"
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} since {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"
        )
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


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
            for staged in folder.glob(f"{STAGED_PREFIX}*"):
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


def discard_build(build: Build) -> None:
    """Drop a build that will not be published."""
    shutil.rmtree(build.dir, ignore_errors=True)


def is_disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` or anything that caused it is a full disk (or quota)."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in {errno.ENOSPC, errno.EDQUOT}:
            return True
        error = error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def cleaned_up_on_disk_full(paths: MigsysPaths) -> Iterator[None]:
    """On a full disk, remove the build and every staged file: they only make it fuller.

    Other failures keep the build for inspection (the next run removes it).
    """
    try:
        yield
    except BaseException as error:
        if is_disk_full(error):
            remove_leftovers(paths)
        raise


# --------------------------------------------------------------------------- publish


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a staged file in the same folder; no partial target.

    On any failure (a full disk among them) the staged file is removed and ``target`` is untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f"{STAGED_PREFIX}{target.name}.{os.getpid()}")
    try:
        shutil.copyfile(source, staged)
        os.replace(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    """Write a small text file atomically (staged in the same folder, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f"{STAGED_PREFIX}{target.name}.{os.getpid()}")
    try:
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def _keep_parse_cache(build: Build, paths: MigsysPaths) -> None:
    parsed = build.target / PARTIAL_PARSE_FILE
    if parsed.is_file():
        atomic_copy(parsed, paths.state / PARTIAL_PARSE_FILE)


def publish_build(build: Build, paths: MigsysPaths) -> Path:
    """Swap the tested build in as the published warehouse, atomically; docs likewise.

    The build file is checkpointed and fsynced first so that the rename moves one complete file.
    A failure before the rename (a full disk while staging the docs, say) removes what it staged
    and leaves the published warehouse and docs as they were.
    """
    con = duckdb.connect(str(build.database))
    try:
        con.execute("CHECKPOINT")  # fold the WAL into the file
    finally:
        con.close()
    with open(build.database, "rb") as handle:
        os.fsync(handle.fileno())
    paths.home.mkdir(parents=True, exist_ok=True)
    _keep_parse_cache(build, paths)
    if build.static_docs.is_file():
        atomic_copy(build.static_docs, paths.docs / "index.html")
    os.replace(build.database, paths.warehouse)
    _fsync_dir(paths.home)
    shutil.rmtree(build.dir, ignore_errors=True)
    return paths.warehouse


def write_run_record(paths: MigsysPaths, record: dict) -> Path:
    """Keep the record of one run (``state/runs/<build>.json``) and point ``last_refresh.json`` at it."""
    runs = paths.state / "runs"
    target = runs / f"{record['build_id']}.json"
    text = json.dumps(record, indent=2, default=str)
    atomic_write_text(target, text)
    if record.get("published"):
        atomic_write_text(paths.state / "last_refresh.json", text)
    return target
