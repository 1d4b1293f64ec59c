"""Shared fixtures.

Tests that need the real published files use ``real_sources``: they skip with a reason when the
files are absent, except under ``CI=true``, where absence is an error.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def _real_sources_dir() -> Path:
    return Path(os.environ.get("MIGSYS_SOURCES", DEFAULT_SHARED_DATA))


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
def published_home(real_sources: Path, tmp_path_factory: pytest.TempPathFactory):
    """A MIGSYS_HOME whose warehouse was refreshed once from the real files (shared, read-only).

    Tests must not write into it; copy it (or refresh into their own tmp home) to change things.
    """
    from migsys.warehouse.paths import MigsysPaths
    from migsys.warehouse.refresh import RefreshConfig, run_refresh

    home = tmp_path_factory.mktemp("published_home")
    paths = MigsysPaths(home=home, sources=real_sources)
    run_refresh(RefreshConfig(paths=paths))
    return paths


@pytest.fixture(scope="session")
def embedded_home(tmp_path_factory: pytest.TempPathFactory):
    """A MIGSYS_HOME refreshed with NO source files: the paper's seeds alone."""
    from migsys.warehouse.paths import MigsysPaths
    from migsys.warehouse.refresh import RefreshConfig, run_refresh

    home = tmp_path_factory.mktemp("embedded_home")
    empty_sources = tmp_path_factory.mktemp("no_sources")
    paths = MigsysPaths(home=home, sources=empty_sources)
    run_refresh(RefreshConfig(paths=paths))
    return paths


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
