"""The nightly flow end to end on the real files: publish, report, skip, fail safely, survive SIGKILL.

These runs take minutes (ingest + dbt + a standing study), so they are marked slow. Runs that only
need to prove a failure path use a nightly config without studies.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from prefect.testing.utilities import prefect_test_harness

from migsys.flows.nightly import SUMMARY_ARTIFACT_KEY, NightlySettings, run_nightly
from migsys.warehouse.paths import DBT_PROJECT_DIR, MigsysPaths
from migsys.warehouse.refresh import RefreshFailed, RefreshInProgress, refresh_lock

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def harness():
    """A throwaway Prefect API (SQLite) for the module's flow runs."""
    with prefect_test_harness(server_startup_timeout=90):
        yield


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def no_studies_config(folder: Path) -> Path:
    path = folder / "nightly-no-studies.toml"
    path.write_text("[schedule]\ncron = '0 2 * * *'\n", encoding="utf-8")
    return path


def home_with_published_copy(published_home: MigsysPaths, tmp_path: Path) -> MigsysPaths:
    """A private MIGSYS_HOME whose warehouse is a copy of the session's published one."""
    paths = MigsysPaths(home=tmp_path / "home", sources=published_home.sources)
    paths.home.mkdir()
    shutil.copyfile(published_home.warehouse, paths.warehouse)
    return paths


def table1_municipalities(warehouse: Path) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select sum(municipalities) from fct_intensity_degree_summary where index_year = 2000"
        ).fetchone()[0]
    finally:
        con.close()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.targets += [value for name, value in attrs if name in {"src", "href"} and value]


def assert_report_complete(index_html: Path) -> None:
    parser = _Links()
    parser.feed(index_html.read_text(encoding="utf-8"))
    images = [target for target in parser.targets if target.endswith(".png")]
    assert len(images) >= 3, f"{index_html}: expected the remittance, depopulation and Sobol plots"
    for target in parser.targets:
        assert not target.startswith(("http:", "https:", "//")), f"external link {target}"
        local = index_html.parent / target.split("#", 1)[0]
        assert local.exists(), f"{index_html}: broken link {target}"
        if target.endswith(".png"):
            data = local.read_bytes()
            assert data.startswith(PNG_MAGIC) and len(data) > 5_000, f"{target} is not a real PNG"
    assert any(target.endswith("docs/index.html") for target in parser.targets)


@pytest.mark.slow
def test_nightly_publishes_reports_then_skips_unchanged_studies(
    harness, real_sources: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    paths = MigsysPaths(home=tmp_path / "home", sources=real_sources)
    settings = NightlySettings.from_paths(paths, fetch=False)

    start = time.perf_counter()
    cold = run_nightly(settings)
    cold_seconds = time.perf_counter() - start

    assert cold.refresh.warehouse == paths.warehouse and paths.warehouse.is_file()
    assert table1_municipalities(paths.warehouse) == 2443  # CONAPO 2000, Table 1 of the paper
    assert cold.studies and all(study.action == "run" for study in cold.studies)
    assert cold.report == paths.reports / cold.report.parent.name / "index.html"
    assert (paths.reports / "latest" / "index.html").resolve() == cold.report.resolve()
    assert_report_complete(cold.report)
    assert (paths.docs / "index.html").is_file()
    assert list(paths.builds.iterdir()) == [], "a successful run leaves no build behind"

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_ARTIFACT_KEY]))
        )
        task_names = {run.name for run in client.read_task_runs(limit=200)}
    assert artifacts and "## Standing studies" in artifacts[0].data
    # prefect-dbt: every dbt node is its own task.
    assert "model fct_intensity_degree_summary" in task_names
    assert any(name.startswith("test ") for name in task_names)

    published = sha256(paths.warehouse)
    start = time.perf_counter()
    warm = run_nightly(settings)
    warm_seconds = time.perf_counter() - start
    assert [study.action for study in warm.studies] == ["skip"] * len(cold.studies)
    assert all("unchanged" in study.reason for study in warm.studies)
    assert "| skip |" in warm.summary_markdown
    # Same files, results and code: the published build is kept as it is, not rebuilt.
    assert warm.rebuilt is False and "dbt_build" not in warm.seconds
    assert sha256(paths.warehouse) == published
    assert list(paths.builds.iterdir()) == []
    assert warm_seconds < cold_seconds / 2
    assert_report_complete(warm.report)


@pytest.mark.slow
def test_failing_dbt_test_fails_the_run_and_publishes_nothing(
    harness, published_home: MigsysPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = home_with_published_copy(published_home, tmp_path)
    before = sha256(paths.warehouse)
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "tests").mkdir(exist_ok=True)
    (project / "tests" / "forced_failure.sql").write_text("select 1 as forced_failure\n")
    monkeypatch.setattr("migsys.warehouse.paths.DBT_PROJECT_DIR", project)
    monkeypatch.setattr("migsys.warehouse.dbt_runner.DBT_PROJECT_DIR", project)

    settings = NightlySettings.from_paths(paths, config_file=no_studies_config(tmp_path))
    with pytest.raises(RefreshFailed) as raised:
        run_nightly(settings)

    assert raised.value.step == "dbt build"
    assert "forced_failure" in raised.value.reason
    assert sha256(paths.warehouse) == before
    assert table1_municipalities(paths.warehouse) == 2443
    assert not paths.reports.exists(), "no report for a failed run"


def test_second_refresh_refuses_while_one_holds_the_lock(harness, tmp_path: Path) -> None:
    paths = MigsysPaths(home=tmp_path / "home", sources=tmp_path / "sources")
    settings = NightlySettings.from_paths(paths, config_file=no_studies_config(tmp_path))
    with refresh_lock(paths), pytest.raises(RefreshInProgress, match="another refresh is running"):
        run_nightly(settings)
    assert not paths.builds.exists(), "the refused run must not start a build"


def _wait_for_build_in_progress(
    paths: MigsysPaths, process: subprocess.Popen, timeout: float
) -> Path:
    """The build database of the running refresh, once dbt has started writing to it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the refresh ended before it could be killed"
        for build in paths.builds.glob("*/"):
            if (build / "target").is_dir() and (build / "warehouse.duckdb").is_file():
                return build
        time.sleep(0.2)
    raise AssertionError(f"no build reached dbt within {timeout} s")


@pytest.mark.slow
def test_sigkill_mid_build_keeps_the_old_warehouse_and_the_next_run_cleans_up(
    harness, published_home: MigsysPaths, tmp_path: Path
) -> None:
    paths = home_with_published_copy(published_home, tmp_path)
    before = sha256(paths.warehouse)
    prefect_home = tmp_path / "prefect"
    prefect_home.mkdir()
    environment = {
        **os.environ,
        "MIGSYS_HOME": str(paths.home),
        "MIGSYS_SOURCES": str(paths.sources),
        "PREFECT_HOME": str(prefect_home),  # its own ephemeral API database
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    migsys = shutil.which("migsys", path=str(Path(sys.executable).parent))
    assert migsys, "the migsys entry point is not installed"
    process = subprocess.Popen(
        [migsys, "refresh"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches dbt and Dask children
    )
    try:
        build = _wait_for_build_in_progress(paths, process, timeout=300)
        # Readable while the build is being written.
        assert table1_municipalities(paths.warehouse) == 2443
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert sha256(paths.warehouse) == before
    assert table1_municipalities(paths.warehouse) == 2443
    assert build.exists(), "the dead run's build is left behind until the next run"

    result = run_nightly(NightlySettings.from_paths(paths, config_file=no_studies_config(tmp_path)))
    assert result.refresh.warehouse == paths.warehouse
    assert table1_municipalities(paths.warehouse) == 2443
    assert not build.exists() and list(paths.builds.iterdir()) == []


def test_fetch_is_retried_with_the_configured_back_off(
    harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow

    from migsys.flows.nightly import FetchConfig, fetch_with_retries

    calls: list[Path] = []

    def flaky_fetch(dest: Path) -> str:
        calls.append(dest)
        if len(calls) < 3:
            raise ConnectionError(f"attempt {len(calls)}: publisher unreachable")
        return "3 files up to date"

    monkeypatch.setattr("migsys.warehouse.fetch.fetch_sources", flaky_fetch)
    paths = MigsysPaths(home=tmp_path, sources=tmp_path / "sources")

    @flow
    def fetch_only(retries: int) -> str:
        return fetch_with_retries(FetchConfig(retries=retries, retry_delay_seconds=(0.0,)))(paths)

    assert fetch_only(2) == "3 files up to date"
    assert calls == [paths.sources] * 3
    calls.clear()
    with pytest.raises(ConnectionError, match="attempt 2: publisher unreachable"):
        fetch_only(1)
