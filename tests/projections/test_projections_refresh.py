"""The refresh's forecast step on warehouse files: computed once, reused, empty without data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from projection_warehouses import (
    REMITTANCE_TRUTH,
    depopulation_truth,
    depopulation_warehouse,
    remittance_warehouse,
)

from migsys.projections.evaluation import FORECAST_COLUMNS
from migsys.projections.forecast_refresh import (
    inputs_fingerprint,
    read_input_frames,
    refresh_forecasts,
)
from migsys.projections.selection import CHOICE_COLUMNS
from migsys.projections.skill import SKILL_COLUMNS

DEPOPULATION_TABLES = (
    "fct_municipal_population",
    "fct_migration_intensity",
    "seeds.inegi_census_dates",
)


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("forecast_refresh") / "build.duckdb"
    remittance_warehouse(REMITTANCE_TRUTH, database=str(path)).close()
    con = depopulation_warehouse(depopulation_truth(), years=(1990, 1995, 2000, 2005, 2010))
    try:
        con.execute(f"ATTACH '{path}' AS build")
        con.execute("CREATE SCHEMA IF NOT EXISTS build.seeds")
        for table in DEPOPULATION_TABLES:
            con.execute(f"CREATE OR REPLACE TABLE build.{table} AS SELECT * FROM {table}")
    finally:
        con.close()
    return path


def _columns(path, table: str) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [row[0] for row in con.execute(f"DESCRIBE forecasts.{table}").fetchall()]
    finally:
        con.close()


def _count(path, sql: str) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.slow
def test_forecasts_are_computed_then_reused(warehouse_file, tmp_path):
    cache = tmp_path / "forecasts"
    first = refresh_forecasts(warehouse_file, cache)
    assert first.computed and first.rows > 0
    assert "depopulation: 4 origins" in first.summary or "depopulation: 3 origins" in first.summary
    assert _columns(warehouse_file, "skill_scores") == list(SKILL_COLUMNS)
    assert _columns(warehouse_file, "published_forecasts") == list(FORECAST_COLUMNS)
    assert _columns(warehouse_file, "method_choice") == list(CHOICE_COLUMNS)
    chosen = _count(warehouse_file, "SELECT count(*) FROM forecasts.method_choice WHERE is_chosen")
    assert chosen == 3  # the municipal method, the remittance method and its interval rule
    kernels = _count(warehouse_file, "SELECT count(DISTINCT kernel) FROM forecasts.skill_scores")
    assert kernels == 2
    second = refresh_forecasts(warehouse_file, cache)
    assert not second.computed
    assert (second.fingerprint, second.rows) == (first.fingerprint, first.rows)
    # a changed input row is a new fingerprint
    con = duckdb.connect(str(warehouse_file))
    try:
        con.execute(
            "UPDATE fct_remittances_annual SET remittances_usd = remittances_usd + 1 "
            "WHERE year = 2012"
        )
        frames, _ = read_input_frames(con)
    finally:
        con.close()
    assert inputs_fingerprint(frames) != first.fingerprint


def test_no_data_writes_empty_tables_with_their_columns(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    result = refresh_forecasts(path, tmp_path / "forecasts")
    assert result.rows == 0
    assert "depopulation: not evaluated" in result.summary
    assert _columns(path, "skill_scores") == list(SKILL_COLUMNS)
    assert _columns(path, "published_forecasts") == list(FORECAST_COLUMNS)
    assert _columns(path, "method_choice") == list(CHOICE_COLUMNS)


def test_refreshes_sharing_a_cache_compute_each_evaluation_once(tmp_path, monkeypatch):
    """Two refreshes of the same inputs at once into one cache (MIGSYS_FORECAST_CACHE shared by
    several homes): one computes, the other waits for it and reuses the result."""
    import threading
    import time

    from migsys.projections import forecast_refresh

    computing = []
    evaluate = forecast_refresh._evaluate

    def slow_evaluate(con):
        computing.append(threading.get_ident())
        time.sleep(1.0)  # long enough for the other refresh to find the evaluation under way
        return evaluate(con)

    monkeypatch.setattr(forecast_refresh, "_evaluate", slow_evaluate)
    builds = []
    for name in ("a", "b"):
        builds.append(tmp_path / f"{name}.duckdb")
        duckdb.connect(str(builds[-1])).close()
    cache = tmp_path / "forecasts"
    results = [None, None]

    def refresh(k: int) -> None:
        results[k] = refresh_forecasts(builds[k], cache)

    threads = [threading.Thread(target=refresh, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(computing) == 1
    assert sorted(result.computed for result in results) == [False, True]
    assert results[0].fingerprint == results[1].fingerprint
    assert _columns(builds[0], "skill_scores") == _columns(builds[1], "skill_scores")


def test_the_dbt_macro_creates_the_same_columns():
    """dbt's on-run-start creates the forecast tables empty when absent: same columns, same order."""
    import re

    from migsys.warehouse.paths import DBT_PROJECT_DIR

    text = (DBT_PROJECT_DIR / "macros" / "forecast_tables.sql").read_text()
    for table, columns in (
        ("skill_scores", SKILL_COLUMNS),
        ("published_forecasts", FORECAST_COLUMNS),
        ("method_choice", CHOICE_COLUMNS),
    ):
        body = re.search(rf"forecasts\.{table} \((.*?)\);", text, re.S).group(1)
        declared = [part.split()[0] for part in body.replace("\n", " ").split(",")]
        assert declared == list(columns), table


def test_forecast_cache_is_the_home_unless_shared(tmp_path: Path) -> None:
    from migsys.warehouse.paths import MigsysPaths

    env = {"MIGSYS_HOME": str(tmp_path / "home")}
    assert MigsysPaths.from_env(env).forecasts == tmp_path / "home" / "forecasts"
    shared = {**env, "MIGSYS_FORECAST_CACHE": str(tmp_path / "team-cache")}
    assert MigsysPaths.from_env(shared).forecasts == tmp_path / "team-cache"


def test_the_forecast_fingerprint_covers_the_methods_and_the_kernels() -> None:
    """The forecasts are recomputed when any code they run changes: the fingerprint covers every
    module the step imports, transitively (the edit guarantees are tests/test_fingerprint.py)."""
    from migsys.fingerprint import code_modules
    from migsys.projections.forecast_refresh import refresh_forecasts

    covered = set(code_modules(refresh_forecasts))
    assert {
        "migsys.projections.evaluation",
        "migsys.projections.selection",
        "migsys.projections.damped_growth",
        "migsys.kernels.depopulation",
        "migsys.kernels.defaults",
    } <= covered
    assert not any(name.startswith(("migsys.sweeps", "migsys.flows")) for name in covered)
