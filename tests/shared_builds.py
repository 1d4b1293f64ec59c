"""The warehouses the test run shares: how each is built, and built once per run.

Three homes are expensive and read by many tests: ``published_home`` (the refresh pipeline on
the real files), ``fresh_checkout`` (``migsys refresh`` on a fresh clone: the embedded snapshot and
the standing study) and ``paper_only_home`` (the paper's seeds alone). :func:`built_once` makes
each once per run whatever the pytest-xdist workers: the first to take its lock builds it in the
run's folder and marks it done, the others wait for the lock and reuse it; a build that failed
half-way leaves no mark and is made again by the next test that needs it.

(Starting the builds in background processes as soon as the tests were collected was measured
slower: five processes on two cores, each compiling the Numba kernels and computing forecasts
before any cache held them.)
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

NO_STUDIES_CONFIG = "[schedule]\ncron = '0 2 * * *'\n"
NO_SERVER_URL = "http://127.0.0.1:9/api"  # nothing listens there

BUILT_MARK = ".built"


def real_sources_dir() -> Path:
    return Path(os.environ.get("MIGSYS_SOURCES") or DEFAULT_SHARED_DATA)


def has_real_sources(path: Path) -> bool:
    return (path / "inegi" / "censo_2000.csv").is_file()


def forecast_cache() -> Path:
    """The run's forecast cache (``MIGSYS_FORECAST_CACHE``, set by ``tests/conftest.py`` before
    the workers start, so every worker shares it)."""
    return Path(os.environ["MIGSYS_FORECAST_CACHE"])


def without_session_server(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a refresh that must start Prefect's ephemeral API, as on a fresh machine (the
    tests of that API, of its reaping, of a fresh clone's output)."""
    return {**env, "MIGSYS_PREFECT_URL": NO_SERVER_URL}


def write_no_studies_config(path: Path) -> Path:
    """A nightly config without standing studies (the warehouse alone)."""
    path.write_text(NO_STUDIES_CONFIG, encoding="utf-8")
    return path


def refresh_plain(home: Path, sources: Path, config: Path, **settings):
    """Run the refresh pipeline (what ``migsys refresh`` runs, as plain calls: the Prefect flow
    has its own tests and adds ~8 s) into ``home``; returns its paths."""
    from migsys.flows.config import NightlySettings
    from migsys.flows.pipeline import run_plain
    from migsys.warehouse.paths import MigsysPaths

    paths = MigsysPaths(home=home, sources=sources, forecast_cache=forecast_cache())
    run_plain(NightlySettings.from_paths(paths, config_file=config, **settings))
    return paths


# --------------------------------------------------------------------------- the builds


def build_published_home(home: Path) -> None:
    """The refresh pipeline on the real files, without standing studies."""
    config = write_no_studies_config(home.parent / f"{home.name}-nightly-no-studies.toml")
    refresh_plain(home, real_sources_dir(), config, sources_explicit=True)


def first_run_record(folder: Path) -> Path:
    """Where :func:`build_fresh_checkout` keeps the exit code and output of its refresh."""
    return folder.parent / f"{folder.name}.json"


def build_fresh_checkout(folder: Path) -> None:
    """``migsys refresh`` exactly as on a fresh clone: a CLI subprocess in an empty folder,
    neither MIGSYS_HOME nor MIGSYS_SOURCES set (so ./var and the absent ./data/sources: the
    embedded snapshot), the shipped nightly config (its standing study), no Prefect server."""
    prefect_home = folder.parent / f"{folder.name}-prefect"
    prefect_home.mkdir(exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"MIGSYS_HOME", "MIGSYS_SOURCES"}},
        "PREFECT_HOME": str(prefect_home),
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }
    env.pop("PREFECT_API_URL", None)
    env = without_session_server(env)  # a fresh machine has no server: the ephemeral API
    migsys = Path(sys.executable).parent / "migsys"
    done = subprocess.run(
        [str(migsys), "refresh"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=900,
    )
    result = {"returncode": done.returncode, "output": done.stdout + done.stderr}
    first_run_record(folder).write_text(json.dumps(result), encoding="utf-8")


def build_paper_only_home(home: Path) -> None:
    """The paper's seeds alone: no source file, no snapshot; plain ingest and dbt, no refresh
    machinery."""
    import duckdb

    from migsys.sweeps.warehouse import create_tables as create_sweep_tables
    from migsys.warehouse.dbt_runner import run_dbt
    from migsys.warehouse.ingest import ingest_sources

    work = home / "build"
    (home / "no_sources").mkdir()
    database = work / "warehouse.duckdb"
    work.mkdir()
    con = duckdb.connect(str(database))
    try:
        ingest_sources(con, home / "no_sources", snapshot_dir=None)
        create_sweep_tables(con)  # empty, as a refresh with no finished study leaves them
    finally:
        con.close()
    report = run_dbt("build", database, work)
    if not report.success:
        raise RuntimeError(report.describe_failures())
    con = duckdb.connect(str(database))
    con.execute("CHECKPOINT")  # one complete file to copy
    con.close()
    shutil.copyfile(database, home / "warehouse.duckdb")


BUILDS: dict[str, Callable[[Path], None]] = {
    "published_home": build_published_home,
    "fresh_checkout": build_fresh_checkout,
    "paper_only_home": build_paper_only_home,
}

# --------------------------------------------------------------------------- once per run


def built_once(run_folder: Path, name: str) -> Path:
    """The folder of build ``name`` in ``run_folder``, made once per test run (waits while
    another worker builds it)."""
    shared = run_folder / name
    with open(run_folder / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another process builds it
        try:
            if not (shared / BUILT_MARK).is_file():
                shutil.rmtree(shared, ignore_errors=True)  # a build that failed half-way
                shared.mkdir()
                BUILDS[name](shared)
                (shared / BUILT_MARK).touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return shared
