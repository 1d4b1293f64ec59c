"""The whole refresh: real files (over a copy of the session's published warehouse), the embedded
default, and failures that must publish nothing (the pipeline as plain calls: what fails and what
is kept is the pipeline's, whatever runs its steps; the Prefect flow has its own tests)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from migsys.flows.config import NightlySettings
from migsys.flows.pipeline import run_plain
from migsys.warehouse.paths import DBT_PROJECT_DIR, MigsysPaths
from migsys.warehouse.publish import RefreshFailed, RefreshInProgress, refresh_lock

MARTS = (
    "dim_municipality",
    "fct_municipal_population",
    "fct_municipal_growth",
    "fct_migration_intensity",
    "fct_intensity_degree_summary",
    "fct_depopulation_by_degree",
    "fct_remittances_monthly",
    "fct_remittances_annual",
    "fct_remittances_state_quarterly",
    "fct_migrant_stock",
    "fct_binational_asymmetry",
    "fct_paper_claims_check",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(paths: MigsysPaths, sql: str) -> list[tuple]:
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def settings_for(paths: MigsysPaths, config: Path, **overrides) -> NightlySettings:
    return NightlySettings.from_paths(paths, config_file=config, **overrides)


def copy_sources(real_sources: Path, tmp_path: Path) -> Path:
    sources = tmp_path / "sources"
    shutil.copytree(real_sources, sources)
    for path in sources.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return sources


def test_real_refresh_publishes_every_mart_with_rows(published_home: MigsysPaths) -> None:
    for mart in MARTS:
        (count,) = query(published_home, f"select count(*) from main.{mart}")[0]
        assert count > 0, f"{mart} is empty after a refresh on the real files"
    assert (published_home.docs / "index.html").stat().st_size > 100_000
    assert list(published_home.builds.iterdir()) == []
    record = json.loads((published_home.state / "last_refresh.json").read_text())
    assert record["published"] is True and record["allow_shrink"] is False
    assert record["guard"] == [
        {"check": "published warehouse", "published": "none", "build": "sources", "outcome": "ok"}
    ]
    assert record["dbt"]["test"]["failed"] == 0 and record["dbt"]["test"]["passed"] > 50
    assert (published_home.state / "runs" / f"{record['build_id']}.json").is_file()


def test_real_refresh_reproduces_table_1_exactly(published_home: MigsysPaths) -> None:
    rows = query(
        published_home,
        "select intensity_degree, municipalities, population, households "
        "from fct_intensity_degree_summary where index_year = 2000",
    )
    got = {degree: (m, p, h) for degree, m, p, h in rows}
    # Table 1 of the paper (Conapo 2000), typed here independently of the dbt seed.
    assert got == {
        "very_high": (162, 2_201_710, 498_466),
        "high": (330, 6_331_134, 1_389_695),
        "medium": (392, 11_664_651, 2_652_262),
        "low": (593, 37_765_096, 8_873_610),
        "very_low": (873, 38_887_234, 9_098_931),
        "null": (93, 633_587, 126_844),
    }


def test_real_refresh_national_totals_match_inegi(published_home: MigsysPaths) -> None:
    rows = dict(
        query(
            published_home,
            "select census_year, sum(population_total) from fct_municipal_population group by 1",
        )
    )
    assert rows[2000] == 97_483_412
    assert rows[2005] == 103_263_388
    assert rows[2010] == 112_336_538


def test_embedded_default_publishes_a_warehouse(embedded_home: MigsysPaths) -> None:
    assert embedded_home.warehouse.is_file()
    (n_claims,) = query(embedded_home, "select count(*) from fct_paper_claims_check")[0]
    assert n_claims >= 30
    (n_table1,) = query(embedded_home, "select count(*) from seeds.paper_table_1_intensity_2000")[0]
    assert n_table1 >= 6


@pytest.mark.slow
def test_bad_row_fails_ingest_and_keeps_the_published_warehouse(
    published_copy: MigsysPaths, real_sources: Path, no_studies_config: Path, tmp_path: Path
) -> None:
    sources = copy_sources(real_sources, tmp_path)
    census = sources / "inegi" / "censo_2005.csv"
    lines = census.read_bytes().split(b"\r\n")
    target = next(i for i, line in enumerate(lines) if line.startswith(b'" 01 002 "'))
    lines[target] = lines[target].replace(b'"40,547"', b'"-40,547"')
    census.write_bytes(b"\r\n".join(lines))
    paths = published_copy.model_copy(update={"sources": sources})
    before = sha256(paths.warehouse)

    with pytest.raises(RefreshFailed) as failure:
        run_plain(settings_for(paths, no_studies_config, rebuild=True))

    assert failure.value.step == "ingest"
    assert "inegi/censo_2005.csv" in failure.value.reason
    assert f"line {target + 1}" in failure.value.reason
    assert str(sources) in failure.value.reason, "the message names the folder searched"
    assert sha256(paths.warehouse) == before


@pytest.mark.slow
def test_failing_dbt_test_fails_the_run_and_publishes_nothing(
    published_copy: MigsysPaths, no_studies_config: Path, tmp_path: Path
) -> None:
    """A singular test that always fails, in a copy of the dbt project (never the checkout's)."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "tests" / "forced_failure.sql").write_text("select 1 as forced_failure\n")
    before = sha256(published_copy.warehouse)

    settings = settings_for(published_copy, no_studies_config, rebuild=True, dbt_project=project)
    with pytest.raises(RefreshFailed) as raised:
        run_plain(settings)

    assert raised.value.step == "dbt build"
    assert "forced_failure" in raised.value.reason
    assert sha256(published_copy.warehouse) == before
    assert not published_copy.reports.exists(), "no report for a failed run"
    assert (published_copy.builds / "current").is_dir(), "the failed build is kept to inspect"


def test_unchanged_inputs_keep_the_published_build(
    published_copy: MigsysPaths, no_studies_config: Path
) -> None:
    before = sha256(published_copy.warehouse)
    result = run_plain(settings_for(published_copy, no_studies_config))
    assert result.rebuilt is False
    assert "dbt build" not in result.seconds
    assert sha256(published_copy.warehouse) == before
    assert list(published_copy.builds.iterdir()) == []


def test_second_refresh_refuses_while_one_holds_the_lock(
    tmp_path: Path, no_studies_config: Path
) -> None:
    paths = MigsysPaths(home=tmp_path / "home", sources=tmp_path / "sources")
    # The lock is the pipeline's, whatever runs its steps: no Prefect API needed to check it.
    with refresh_lock(paths), pytest.raises(RefreshInProgress, match="another refresh is running"):
        run_plain(settings_for(paths, no_studies_config))
    assert not paths.builds.exists(), "the refused run must not start a build"
