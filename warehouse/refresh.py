"""Build a new warehouse file, test it, and publish it atomically — or leave the old one untouched.

Each step is a plain function so that the CLI (``run_refresh``) and the nightly Prefect flow
(``flows.nightly``) run the very same code:

    with refresh_lock(paths):
        build = prepare_build(paths)          # fresh builds/<id>/, leftovers of dead runs removed
        ingest = ingest_step(build, paths)    # raw schema from MIGSYS_SOURCES, refuses bad rows
        load_extras_step(build, paths)        # sweep results, calibrations, backtests
        dbt = dbt_build_step(build)           # seeds, models and tests into the build file
        forecasts_step(build, paths)          # rolling-origin skill and forecasts (Python)
        dbt_forecasts_step(build)             # the forecast marts and their tests
        docs_step(build)                      # dbt docs generate --static
        publish_step(build, paths)            # os.replace over MIGSYS_HOME/warehouse.duckdb

The published file is only ever touched by the final ``os.replace``: a failure (or SIGKILL) at any
earlier point leaves it byte-for-byte as it was, and readers holding it open keep their data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from pydantic import BaseModel, ConfigDict

from migsys.warehouse.dbt_runner import DbtReport, run_dbt
from migsys.warehouse.paths import MigsysPaths


class RefreshFailed(RuntimeError):
    """A refresh step failed; the published warehouse was not touched."""

    def __init__(self, step: str, reason: str):
        self.step = step
        self.reason = reason
        super().__init__(f"refresh failed at step '{step}': {reason}")


class RefreshInProgress(RuntimeError):
    """Another refresh holds the lock."""


class RefreshConfig(BaseModel):
    """Settings of one refresh run."""

    model_config = ConfigDict(frozen=True)

    paths: MigsysPaths
    lock_wait_seconds: float = 0.0


@dataclass(frozen=True)
class Build:
    id: str
    dir: Path

    @property
    def database(self) -> Path:
        return self.dir / "warehouse.duckdb"

    @property
    def static_docs(self) -> Path:
        return self.dir / "target" / "static_index.html"


@dataclass
class RefreshResult:
    build_id: str
    warehouse: Path
    docs: Path | None
    absent_sources: list[str]
    data_fingerprint: str
    seconds: dict[str, float] = field(default_factory=dict)
    dbt: DbtReport | None = None


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


# --------------------------------------------------------------------------- steps


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def prepare_build(paths: MigsysPaths, now: dt.datetime | None = None) -> Build:
    """Remove leftovers of earlier runs and create a fresh build folder. Call under the lock.

    The folder name is constant (``builds/current``): only one build runs at a time, and a
    constant DuckDB path keeps the dbt profile unchanged, so dbt can reuse its parse cache.
    """
    paths.builds.mkdir(parents=True, exist_ok=True)
    for leftover in paths.builds.iterdir():
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S")
    build = Build(id=f"{stamp}-{os.getpid()}", dir=paths.builds / "current")
    (build.dir / "target").mkdir(parents=True)
    cached_parse = paths.state / PARTIAL_PARSE_FILE
    if cached_parse.is_file():
        shutil.copyfile(cached_parse, build.dir / "target" / PARTIAL_PARSE_FILE)
    return build


def _keep_parse_cache(build: Build, paths: MigsysPaths) -> None:
    parsed = build.dir / "target" / PARTIAL_PARSE_FILE
    if parsed.is_file():
        paths.state.mkdir(parents=True, exist_ok=True)
        staged = paths.state / f".{PARTIAL_PARSE_FILE}.tmp"
        shutil.copyfile(parsed, staged)
        os.replace(staged, paths.state / PARTIAL_PARSE_FILE)


def ingest_step(build: Build, paths: MigsysPaths):
    """Load every registered source file into the build's raw schema; refuse rejected rows."""
    from migsys.warehouse.ingest import ingest_sources

    con = duckdb.connect(str(build.database))
    try:
        report = ingest_sources(con, paths.sources)
    finally:
        con.close()
    if not report.ok:
        raise RefreshFailed("ingest", "rows or files broke a rule:\n" + report.format_problems())
    return report


def load_extras_step(build: Build, paths: MigsysPaths) -> list[str]:
    """Sweep results, calibrations and backtests kept under MIGSYS_HOME join the new build."""
    from migsys.projections.store import load_projection_tables
    from migsys.sweeps.warehouse import load_sweeps

    con = duckdb.connect(str(build.database))
    try:
        studies = load_sweeps(con, paths.sweeps)
        load_projection_tables(con, paths.home)
    finally:
        con.close()
    return list(studies)


FORECAST_SELECTOR = "tag:forecast"


def dbt_build_step(build: Build) -> DbtReport:
    """Seeds, models and tests into the build file, except the forecast models (they read what
    :func:`forecasts_step` writes). Any failing test stops the refresh."""
    report = run_dbt("build", build.database, build.dir, "--exclude", FORECAST_SELECTOR)
    if not report.success:
        raise RefreshFailed("dbt build", report.describe_failures())
    return report


def forecasts_step(build: Build, paths: MigsysPaths):
    """Rolling-origin skill and forecasts from the build's marts into its ``forecasts`` schema
    (reused from MIGSYS_HOME/forecasts when the inputs are unchanged)."""
    from migsys.projections.forecast_refresh import refresh_forecasts

    return refresh_forecasts(build.database, paths.home / "forecasts")


def dbt_forecasts_step(build: Build) -> DbtReport:
    """The forecast models (``fct_forecast_skill``, ``fct_forecasts``) and their tests."""
    report = run_dbt("build", build.database, build.dir, "--select", FORECAST_SELECTOR)
    if not report.success:
        raise RefreshFailed("dbt build (forecasts)", report.describe_failures())
    return report


def docs_step(build: Build) -> Path:
    """Static, self-contained dbt docs (one HTML file) for the build."""
    # --no-compile: the build just compiled every node; the manifest in target/ is current.
    report = run_dbt("docs generate", build.database, build.dir, "--static", "--no-compile")
    if not report.success or not build.static_docs.is_file():
        raise RefreshFailed("docs", report.describe_failures())
    return build.static_docs


def _build_connection(database: Path) -> duckdb.DuckDBPyConnection:
    # Not read_only: dbt-duckdb keeps its own connection to the build file open in this process,
    # and DuckDB refuses a second connection to one file with a different configuration.
    return duckdb.connect(str(database))


def data_fingerprint(database: Path) -> str:
    """Hash of the source files that went into a build (their ids, names and sha256)."""
    con = _build_connection(database)
    try:
        rows = con.execute(
            "select source_id, file_name, coalesce(file_sha256, status) from raw.source_files "
            "order by source_id, file_name"
        ).fetchall()
    finally:
        con.close()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def absent_sources(database: Path) -> list[str]:
    con = _build_connection(database)
    try:
        rows = con.execute(
            "select distinct source_id from raw.source_files where status = 'absent' order by 1"
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_step(build: Build, paths: MigsysPaths) -> Path:
    """Swap the tested build in as the published warehouse, atomically; docs likewise."""
    con = duckdb.connect(str(build.database))
    con.execute("CHECKPOINT")  # fold the WAL into the file: the swap must move one complete file
    con.close()
    with open(build.database, "rb") as handle:
        os.fsync(handle.fileno())
    paths.home.mkdir(parents=True, exist_ok=True)
    _keep_parse_cache(build, paths)
    if build.static_docs.is_file():
        paths.docs.mkdir(parents=True, exist_ok=True)
        staged_docs = paths.docs / f".index.html.{build.id}"
        shutil.copyfile(build.static_docs, staged_docs)
        os.replace(staged_docs, paths.docs / "index.html")
    os.replace(build.database, paths.warehouse)
    _fsync_dir(paths.home)
    shutil.rmtree(build.dir, ignore_errors=True)
    return paths.warehouse


def write_last_refresh(paths: MigsysPaths, result: RefreshResult) -> None:
    paths.state.mkdir(parents=True, exist_ok=True)
    record = {
        "build_id": result.build_id,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data_fingerprint": result.data_fingerprint,
        "absent_sources": result.absent_sources,
        "seconds": result.seconds,
    }
    staged = paths.state / ".last_refresh.json.tmp"
    staged.write_text(json.dumps(record, indent=2))
    os.replace(staged, paths.state / "last_refresh.json")


# --------------------------------------------------------------------------- the whole refresh


def run_refresh(config: RefreshConfig) -> RefreshResult:
    """Ingest, build, test, document and publish, in that order, under the refresh lock."""
    paths = config.paths
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def timed(name: str, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            seconds[name] = round(time.perf_counter() - t0, 3)

    with refresh_lock(paths, config.lock_wait_seconds):
        build = prepare_build(paths)
        timed("ingest", ingest_step, build, paths)
        timed("load_extras", load_extras_step, build, paths)
        dbt = timed("dbt_build", dbt_build_step, build)
        timed("forecasts", forecasts_step, build, paths)
        forecast_dbt = timed("dbt_forecasts", dbt_forecasts_step, build)
        dbt = dataclasses.replace(dbt, nodes=[*dbt.nodes, *forecast_dbt.nodes])
        seconds["tests"] = round(dbt.seconds_by_type("test"), 3)
        timed("docs", docs_step, build)
        fingerprint, absent = data_fingerprint(build.database), absent_sources(build.database)
        timed("publish", publish_step, build, paths)
        seconds["total"] = round(time.perf_counter() - start, 3)
        result = RefreshResult(
            build_id=build.id,
            warehouse=paths.warehouse,
            docs=paths.docs / "index.html",
            absent_sources=absent,
            data_fingerprint=fingerprint,
            seconds=seconds,
            dbt=dbt,
        )
        write_last_refresh(paths, result)
    return result
