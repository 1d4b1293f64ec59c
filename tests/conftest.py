"""Shared fixtures.

Tests that need the real published files use ``real_sources``: they skip with a reason when the
files are absent, except under ``CI=true``, where absence is an error.
"""

from __future__ import annotations

import os
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
    """A MIGSYS_HOME refreshed with NO source files: the embedded snapshot (warehouse/embedded)."""
    from migsys.warehouse.paths import MigsysPaths
    from migsys.warehouse.refresh import RefreshConfig, run_refresh

    home = tmp_path_factory.mktemp("embedded_home")
    empty_sources = tmp_path_factory.mktemp("no_sources")
    paths = MigsysPaths(home=home, sources=empty_sources)
    run_refresh(RefreshConfig(paths=paths))
    return paths


@pytest.fixture(scope="session")
def paper_only_home(tmp_path_factory: pytest.TempPathFactory):
    """A MIGSYS_HOME published with no source files AND no snapshot: the paper's seeds alone.

    What a warehouse looks like when every source is absent (tests of "inputs absent" paths).
    """
    import duckdb

    from migsys.warehouse.ingest import ingest_sources
    from migsys.warehouse.paths import MigsysPaths
    from migsys.warehouse.refresh import (
        dbt_build_step,
        load_extras_step,
        prepare_build,
        publish_step,
        refresh_lock,
    )

    home = tmp_path_factory.mktemp("paper_only_home")
    paths = MigsysPaths(home=home, sources=tmp_path_factory.mktemp("no_sources"))
    with refresh_lock(paths):
        build = prepare_build(paths)
        con = duckdb.connect(str(build.database))
        try:
            ingest_sources(con, paths.sources, snapshot_dir=None)
        finally:
            con.close()
        load_extras_step(build, paths)
        dbt_build_step(build)
        publish_step(build, paths)
    return paths
