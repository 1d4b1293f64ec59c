"""The nightly flow end to end on the real files with its standing study: publish, report, post
artifacts, then skip what is unchanged; and the step runners' retries.

These runs take minutes (ingest + dbt + a standing study), so they are marked slow. Failure paths
are in test_refresh.py, test_guard.py and test_interrupts.py.
"""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from prefect.testing.utilities import prefect_test_harness

from migsys.flows.config import NightlySettings
from migsys.flows.nightly import run_nightly
from migsys.flows.runner import (
    DBT_NODES_ARTIFACT_KEY,
    SUMMARY_ARTIFACT_KEY,
    PlainSteps,
    PrefectSteps,
    Step,
)
from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.publish import RefreshFailed

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
    harness, real_sources: Path, forecast_cache: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    paths = MigsysPaths(home=tmp_path / "home", sources=real_sources, forecast_cache=forecast_cache)
    settings = NightlySettings.from_paths(paths, fetch=False)

    cold = run_nightly(settings)

    assert cold.warehouse == paths.warehouse and paths.warehouse.is_file()
    assert table1_municipalities(paths.warehouse) == 2443  # CONAPO 2000, Table 1 of the paper
    assert cold.studies and all(study.action == "run" for study in cold.studies)
    assert cold.report == paths.reports / cold.report.parent.name / "index.html"
    assert (paths.reports / "latest" / "index.html").resolve() == cold.report.resolve()
    assert_report_complete(cold.report)
    assert (paths.docs / "index.html").is_file()
    assert list(paths.builds.iterdir()) == [], "a successful run leaves no build behind"

    with get_client(sync_client=True) as client:
        summaries = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_ARTIFACT_KEY]))
        )
        nodes = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[DBT_NODES_ARTIFACT_KEY]))
        )
        task_names = {run.name.rsplit("-", 1)[0] for run in client.read_task_runs(limit=200)}
    assert summaries and "## Standing studies" in summaries[0].data
    # One task per step, not per dbt node; the nodes are a table artifact with their layers.
    assert {"ingest", "dbt build", "guard", "publish", "report"} <= task_names
    assert not any(name.startswith(("model ", "test ")) for name in task_names)
    assert '"fct_intensity_degree_summary"' in nodes[0].data and '"marts"' in nodes[0].data

    published = sha256(paths.warehouse)
    warm = run_nightly(settings)
    assert [study.action for study in warm.studies] == ["skip"] * len(cold.studies)
    assert all("unchanged" in study.reason for study in warm.studies)
    # Same files, results and code: the published build is kept as it is, not rebuilt.
    assert warm.rebuilt is False and "dbt build" not in warm.seconds
    assert sha256(paths.warehouse) == published
    assert list(paths.builds.iterdir()) == []
    assert_report_complete(warm.report)


@pytest.mark.parametrize("runner", [PlainSteps, PrefectSteps], ids=["plain", "prefect"])
def test_a_flaky_step_is_retried_with_the_configured_back_off(harness, runner) -> None:
    from prefect import flow

    calls: list[int] = []

    def flaky_fetch() -> str:
        calls.append(len(calls))
        if len(calls) < 3:
            raise ConnectionError(f"attempt {len(calls)}: publisher unreachable")
        return "3 files up to date"

    fetch = Step("fetch", flaky_fetch)

    @flow
    def fetch_only(retries: int) -> str:
        step = runner()
        return step(fetch.with_retries(retries, [0.0]))

    assert fetch_only(2) == "3 files up to date"
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(RefreshFailed, match="attempt 2: publisher unreachable") as failed:
        fetch_only(1)
    assert failed.value.step == "fetch"
