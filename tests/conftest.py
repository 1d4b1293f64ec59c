"""Shared fixtures.

Tests that need the real published files use ``real_sources``: they skip with a reason when the
files are absent, except under ``CI=true``, where absence is an error.

End-to-end refreshes are expensive (ingest + dbt), so the test run makes each shared warehouse
once: the refresh pipeline ``migsys refresh`` runs (as plain calls) on the real files
(``published_home``), ``migsys refresh`` on a fresh clone with no source files (``first_run``,
whose home is ``embedded_home``) and the paper's seeds alone (``paper_only_home``), each under a
file lock in the run's shared temporary folder, by the first test that needs it whatever the
pytest-xdist worker (``shared_builds.py``). They are shared: never write into them, open them
read-only. A test that refreshes over a published warehouse takes its own copy
(``published_copy``).

Every test that uses one of them (directly or through another fixture) is marked ``slow``
automatically (:data:`WAREHOUSE_FIXTURES`), so ``make test-fast`` builds no warehouse.

Prefect gets a private home for the session before anything imports it, so tests never touch a
developer's ~/.prefect; CLI subprocesses get their own per test (``cli_env``). Refreshes report to
one Prefect server the run starts (``pytest_configure``) instead of each starting Prefect's
ephemeral API; the tests of that API take ``ephemeral_cli_env``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from shared_builds import (
    NO_SERVER_URL,
    built_once,
    first_run_record,
    has_real_sources,
    real_sources_dir,
    without_session_server,
    write_no_studies_config,
)

from migsys.cli.launcher import PROCESS_ENVIRONMENT
from migsys.warehouse.paths import MigsysPaths

# Temporary folders this process made for the run, removed when it ends (pytest_unconfigure).
_MADE_HERE: list[str] = []


def _temporary_folder(prefix: str) -> str:
    folder = tempfile.mkdtemp(prefix=prefix)
    _MADE_HERE.append(folder)
    return folder


os.environ["PREFECT_HOME"] = _temporary_folder("migsys-tests-prefect-")
for name, value in PROCESS_ENVIRONMENT.items():  # what the `migsys` program runs with
    os.environ.setdefault(name, value)
# One forecast cache for the session: the rolling-origin evaluation of the same inputs and code is
# computed once, not in every refresh of a fresh home (tests of the step pass their own folder).
# `migsys` subprocesses read it from the environment; paths made here pass it (FORECAST_CACHE).
if "MIGSYS_FORECAST_CACHE" not in os.environ:  # the xdist workers inherit the controller's
    os.environ["MIGSYS_FORECAST_CACHE"] = _temporary_folder("migsys-tests-forecasts-")
FORECAST_CACHE = Path(os.environ["MIGSYS_FORECAST_CACHE"])
os.environ.pop("PREFECT_API_URL", None)  # tests never report to a developer's server
# Refreshes report to the run's own Prefect server (started in pytest_configure, inherited by the
# xdist workers and every `migsys` subprocess); until it answers, and wherever a test points this
# variable nowhere (``ephemeral_cli_env``), they start Prefect's ephemeral API as a fresh home does.
os.environ.setdefault("MIGSYS_PREFECT_URL", NO_SERVER_URL)

_SESSION_SERVER = pytest.StashKey[tuple[subprocess.Popen, object]]()

# Fixtures that build (or copy) a warehouse: a test that needs any of them is slow.
WAREHOUSE_FIXTURES = frozenset(
    {"published_home", "published_copy", "first_run", "embedded_home", "paper_only_home"}
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    """Start one Prefect server for the whole run (in the controlling process, before xdist
    starts its workers, which inherit its URL).

    Every `migsys refresh` subprocess would otherwise start Prefect's ephemeral API: ~9 s of CPU
    each (measured: a no-op refresh 40 s with it, 20 s reporting to a running server), some thirty
    times a run. A run that deselects the slow tests refreshes nothing and starts no server.
    """
    if hasattr(config, "workerinput") or "not slow" in (config.option.markexpr or ""):
        return
    prefect = Path(sys.executable).parent / "prefect"
    if not prefect.is_file():
        return
    port = _free_port()
    home = Path(_temporary_folder("migsys-tests-prefect-server-"))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    log = open(home / "server.log", "ab")  # noqa: SIM115 (open for the server's lifetime)
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        + ["--no-services", "--no-ui", "--analytics-off"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group, stopped whole in pytest_unconfigure
    )
    config.stash[_SESSION_SERVER] = (server, log)
    os.environ["MIGSYS_PREFECT_URL"] = f"http://127.0.0.1:{port}/api"


def pytest_unconfigure(config: pytest.Config) -> None:
    started = config.stash.get(_SESSION_SERVER, None)
    if started is not None:
        server, log = started
        # A throwaway server whose home goes next: killed, not asked (its shutdown takes ~5 s).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        log.close()
    for folder in _MADE_HERE:  # (a worker's end comes before its controller's)
        shutil.rmtree(folder, ignore_errors=True)


# Seconds per test file, summed over its tests' phases (in the controlling process under xdist).
_FILE_SECONDS: dict[str, float] = {}
FILES_SHOWN = 25


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add each phase's time (setup, call, teardown) to its test file's total (the controlling
    process receives every worker's reports)."""
    file = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[file] = _FILE_SECONDS.get(file, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The slowest test files, summed over their tests: where the suite's time goes."""
    totals = _FILE_SECONDS
    if not totals or hasattr(config, "workerinput"):
        return
    terminalreporter.section(f"slowest {FILES_SHOWN} test files (seconds, all workers summed)")
    for file, seconds in sorted(totals.items(), key=lambda item: -item[1])[:FILES_SHOWN]:
        terminalreporter.write_line(f"{seconds:8.1f}  {file}")
    terminalreporter.write_line(f"{sum(totals.values()):8.1f}  all {len(totals)} files")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test whose fixtures (direct or indirect) build a warehouse."""
    for item in items:
        if WAREHOUSE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the run's shared builds go: the run's temporary folder, which holds each xdist
    worker's own (alone, pytest's own temporary folder)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def real_sources() -> Path:
    """Folder holding the real CONAPO/INEGI/Banxico/World Bank/UN files."""
    path = real_sources_dir()
    if not has_real_sources(path):
        message = f"real source files not found in {path} (set MIGSYS_SOURCES=../shared/data)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture()
def migsys_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture(scope="session")
def no_studies_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A nightly config without standing studies (the warehouse alone)."""
    return write_no_studies_config(tmp_path_factory.mktemp("config") / "nightly-no-studies.toml")


@pytest.fixture(scope="session")
def published_home(real_sources: Path, tmp_path_factory):
    """A MIGSYS_HOME whose warehouse the refresh pipeline published from the real files (shared),
    without standing studies.

    Tests must not write into it; use ``published_copy`` to refresh over it.
    """
    folder = built_once(_run_folder(tmp_path_factory), "published_home")
    return MigsysPaths(home=folder, sources=real_sources, forecast_cache=FORECAST_CACHE)


@dataclass(frozen=True)
class FirstRun:
    """What ``migsys refresh`` printed on a fresh checkout, and the home it published."""

    returncode: int
    output: str  # stdout + stderr
    folder: Path  # the working folder: ./var is its MIGSYS_HOME, ./data/sources is absent
    paths: MigsysPaths


@pytest.fixture(scope="session")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """``migsys refresh`` exactly as on a fresh clone, run once per session: a CLI subprocess in an
    empty folder, neither MIGSYS_HOME nor MIGSYS_SOURCES set (so ./var and the absent
    ./data/sources: the embedded snapshot), the shipped nightly config (its standing study)."""

    folder = built_once(_run_folder(tmp_path_factory), "fresh_checkout")
    result = json.loads(first_run_record(folder).read_text(encoding="utf-8"))
    paths = MigsysPaths(home=folder / "var", sources=folder / "data" / "sources")
    return FirstRun(result["returncode"], result["output"], folder, paths)


@pytest.fixture(scope="session")
def embedded_home(first_run: FirstRun):
    """A MIGSYS_HOME refreshed with NO source files: the data the repository ships (the home of
    the session's first run, standing study included). Tests must not write into it."""
    assert first_run.returncode == 0, first_run.output
    return first_run.paths


@pytest.fixture()
def published_copy(published_home, tmp_path: Path):
    """A private MIGSYS_HOME holding a copy of the session's published warehouse and its state."""
    from migsys.warehouse.paths import MigsysPaths

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(published_home.warehouse, home / "warehouse.duckdb")
    if published_home.state.is_dir():
        shutil.copytree(
            published_home.state, home / "state", ignore=shutil.ignore_patterns("*.lock")
        )
    return MigsysPaths(home=home, sources=published_home.sources, forecast_cache=FORECAST_CACHE)


@pytest.fixture(scope="session")
def forecast_cache() -> Path:
    """The session's forecast cache, for tests that make their own paths and refresh them."""
    return FORECAST_CACHE


@pytest.fixture()
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a ``migsys`` subprocess: its own Prefect home, no server to find."""
    prefect_home = tmp_path / "prefect-home"
    prefect_home.mkdir()
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "NO_COLOR": "1", "COLUMNS": "120"}
    env.pop("PREFECT_API_URL", None)
    return env


@pytest.fixture()
def ephemeral_cli_env(cli_env: dict[str, str]) -> dict[str, str]:
    """``cli_env`` without the run's Prefect server: the refresh starts Prefect's ephemeral API."""
    return without_session_server(cli_env)


@pytest.fixture(scope="session")
def paper_only_home(tmp_path_factory: pytest.TempPathFactory):
    """A MIGSYS_HOME whose warehouse holds the paper's seeds alone: no source file, no snapshot.

    (``embedded_home`` now holds the embedded snapshot's real data.) For tests of what happens
    when every source is absent; built with plain ingest and dbt, no refresh machinery.
    """
    home = built_once(_run_folder(tmp_path_factory), "paper_only_home")
    return MigsysPaths(home=home, sources=home / "no_sources")
