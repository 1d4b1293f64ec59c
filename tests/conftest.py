"""Shared fixtures.

Tests that need the real published files use ``real_sources``: they skip with a reason when the
files are absent, except under ``CI=true``, where absence is an error.

End-to-end refreshes are expensive (ingest + dbt), so the session runs the nightly flow — the same
flow ``migsys refresh`` runs — once on the real files (``published_home``) and once with no source
files (``embedded_home``). They are shared: never write into them. A test that refreshes over a
published warehouse takes its own copy (``published_copy``).

Prefect gets a private home for the session before anything imports it, so tests never touch a
developer's ~/.prefect; CLI subprocesses get their own per test (``cli_env``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="migsys-tests-prefect-")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)  # tests never report to a developer's server
os.environ.setdefault("MIGSYS_PREFECT_URL", "http://127.0.0.1:9/api")  # nothing listens there

NO_STUDIES_CONFIG = "[schedule]\ncron = '0 2 * * *'\n"


def _real_sources_dir() -> Path:
    return Path(os.environ.get("MIGSYS_SOURCES") or DEFAULT_SHARED_DATA)


@pytest.fixture(scope="session")
def real_sources() -> Path:
    """Folder holding the real CONAPO/INEGI/Banxico/World Bank/UN files."""
    path = _real_sources_dir()
    if not (path / "inegi" / "censo_2000.csv").is_file():
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
    path = tmp_path_factory.mktemp("config") / "nightly-no-studies.toml"
    path.write_text(NO_STUDIES_CONFIG, encoding="utf-8")
    return path


def refresh_with_flow(home: Path, sources: Path, config: Path, **settings):
    """Run the nightly flow (as ``migsys refresh`` does) into ``home``; returns its paths."""
    from migsys.flows.config import NightlySettings
    from migsys.flows.nightly import run_nightly
    from migsys.warehouse.paths import MigsysPaths

    paths = MigsysPaths(home=home, sources=sources)
    run_nightly(NightlySettings.from_paths(paths, config_file=config, **settings))
    return paths


@pytest.fixture(scope="session")
def published_home(real_sources: Path, no_studies_config: Path, tmp_path_factory):
    """A MIGSYS_HOME whose warehouse the nightly flow published from the real files (shared).

    Tests must not write into it; use ``published_copy`` to refresh over it.
    """
    home = tmp_path_factory.mktemp("published_home")
    return refresh_with_flow(home, real_sources, no_studies_config, sources_explicit=True)


@pytest.fixture(scope="session")
def embedded_home(no_studies_config: Path, tmp_path_factory):
    """A MIGSYS_HOME refreshed with NO source files: the data the repository ships."""
    home = tmp_path_factory.mktemp("embedded_home")
    empty_sources = tmp_path_factory.mktemp("no_sources")
    return refresh_with_flow(home, empty_sources, no_studies_config)


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
    return MigsysPaths(home=home, sources=published_home.sources)


@pytest.fixture()
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a ``migsys`` subprocess: its own Prefect home, no server to find."""
    prefect_home = tmp_path / "prefect-home"
    prefect_home.mkdir()
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "NO_COLOR": "1", "COLUMNS": "120"}
    env.pop("PREFECT_API_URL", None)
    return env


@pytest.fixture(scope="session")
def paper_only_home(tmp_path_factory: pytest.TempPathFactory):
    """A MIGSYS_HOME whose warehouse holds the paper's seeds alone: no source file, no snapshot.

    (``embedded_home`` now holds the embedded snapshot's real data.) For tests of what happens
    when every source is absent; built with plain ingest and dbt, no refresh machinery.
    """
    import duckdb

    from migsys.sweeps.warehouse import create_tables as create_sweep_tables
    from migsys.warehouse.dbt_runner import run_dbt
    from migsys.warehouse.ingest import ingest_sources
    from migsys.warehouse.paths import MigsysPaths

    home = tmp_path_factory.mktemp("paper_only_home")
    work = tmp_path_factory.mktemp("paper_only_build")
    paths = MigsysPaths(home=home, sources=tmp_path_factory.mktemp("no_sources"))
    database = work / "warehouse.duckdb"
    con = duckdb.connect(str(database))
    try:
        ingest_sources(con, paths.sources, snapshot_dir=None)
        create_sweep_tables(con)  # empty, as a refresh with no finished study leaves them
    finally:
        con.close()
    report = run_dbt("build", database, work)
    assert report.success, report.describe_failures()
    con = duckdb.connect(str(database))
    con.execute("CHECKPOINT")  # one complete file to copy
    con.close()
    shutil.copyfile(database, paths.warehouse)
    return paths
