"""The publish guard: a refresh never publishes less than the warehouse it replaces, unless told.

Each case refreshes over a private copy of the real published warehouse and checks its sha256:
a refused refresh leaves it byte for byte, and every refusal names the folder searched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from migsys.flows.config import SOURCE_FED_MARTS, NightlySettings
from migsys.flows.pipeline import run_plain
from migsys.warehouse.guard import (
    FileLoad,
    GuardPolicy,
    WarehouseProfile,
    compare_builds,
    refusals,
    source_folder_problems,
)
from migsys.warehouse.ingest import would_use_embedded
from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.publish import RefreshFailed

POLICY = GuardPolicy(source_fed_marts=("fct_a", "fct_b"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def linked_sources(real_sources: Path, tmp_path: Path, *, without: tuple[str, ...] = ()) -> Path:
    """A sources folder of symlinks to the real files (cheap), minus ``without``."""
    sources = tmp_path / "sources"
    for path in real_sources.rglob("*"):
        relative = path.relative_to(real_sources)
        if path.is_file() and relative.as_posix() not in without:
            (sources / relative).parent.mkdir(parents=True, exist_ok=True)
            (sources / relative).symlink_to(path)
    return sources


def refresh(paths: MigsysPaths, config: Path, **overrides):
    """The refresh pipeline as plain calls: the guard is the pipeline's, whatever runs its steps
    (the Prefect flow runs the same pipeline; tests/flows/test_nightly_e2e.py and the CLI tests
    run it), and without Prefect's bookkeeping each case costs ~8 s less."""
    return run_plain(NightlySettings.from_paths(paths, config_file=config, **overrides))


# --------------------------------------------------------------------------- the rules


def test_lost_source_and_shrunk_mart_are_refused_unless_allowed() -> None:
    published = WarehouseProfile("sources", frozenset({"a", "b"}), {"fct_a": 100, "fct_b": 100})
    build = WarehouseProfile("sources", frozenset({"a"}), {"fct_a": 96, "fct_b": 94})
    checks = {c.check: c.outcome for c in compare_builds(published, build, POLICY)}
    assert checks == {
        "sources loaded": "refused",
        "rows of fct_a": "ok",  # 96 % of the published rows: within the 95 % rule
        "rows of fct_b": "refused",
    }
    allowed = GuardPolicy(source_fed_marts=("fct_a", "fct_b"), allow_shrink=True)
    outcomes = {c.outcome for c in compare_builds(published, build, allowed)}
    assert outcomes == {"ok", "allowed"}


def test_a_source_file_never_loads_fewer_rows_or_ends_earlier_unless_allowed() -> None:
    """Three months cut off a 30-year series lose under 1 % of a mart's rows, which the marts'
    95 % rule lets through; the file's own rows and latest period do not."""
    loads = {
        "b/monthly.csv": FileLoad(720, "2024-12"),
        "b/state.csv": FileLoad(2816, "2024-Q4"),
        "w/gdp.csv": FileLoad(13979, "2023"),
        "i/censo_2005.csv": FileLoad(2487, "2005"),
    }
    published = WarehouseProfile("sources", frozenset({"b", "w"}), {}, loads)
    build = WarehouseProfile(
        "sources",
        frozenset({"b", "w"}),
        {},
        {
            "b/monthly.csv": FileLoad(714, "2024-09"),  # cut at a line end
            "b/state.csv": FileLoad(2816, "2025-Q1"),  # a new quarter: fine
            "w/gdp.csv": FileLoad(13990, "2022"),  # more rows, but an earlier last year
            # i/censo_2005.csv absent: its source still loads from the other census years
        },
    )
    checks = {c.check: c for c in compare_builds(published, build, POLICY, marts=False)}
    assert {name for name, c in checks.items() if c.outcome == "refused"} == {
        "source file b/monthly.csv",
        "source file w/gdp.csv",
        "source file i/censo_2005.csv",
    }
    assert checks["source file b/monthly.csv"].published == "720 rows to 2024-12"
    assert checks["source file b/monthly.csv"].build == "714 rows to 2024-09"
    [reason] = [r for r in refusals(list(checks.values()), POLICY) if "monthly" in r]
    assert "never loads fewer rows or ends earlier" in reason
    allowed = GuardPolicy(source_fed_marts=(), allow_shrink=True)
    assert {c.outcome for c in compare_builds(published, build, allowed)} == {"ok", "allowed"}
    same = compare_builds(published, published, POLICY, marts=False)
    assert [(c.check, c.outcome) for c in same] == [
        ("sources loaded", "ok"),
        ("source files keep their rows and latest period", "ok"),
    ]
    assert WarehouseProfile.from_json(published.to_json()) == published


def test_nothing_published_means_nothing_to_lose() -> None:
    build = WarehouseProfile("none", frozenset(), {})
    [check] = compare_builds(None, build, POLICY)
    assert check.outcome == "ok"


def test_sources_folder_rules(tmp_path: Path) -> None:
    missing = tmp_path / "unmounted"
    assert "does not exist" in source_folder_problems(missing, explicitly_set=True)[0]
    assert source_folder_problems(missing, explicitly_set=False) == []  # fresh clone: embedded
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".fetch.lock").write_text("")  # what a fetch keeps there: still empty
    assert (
        f"MIGSYS_SOURCES={empty} is empty" in source_folder_problems(empty, explicitly_set=True)[0]
    )
    assert would_use_embedded(empty) and would_use_embedded(missing)

    odd = tmp_path / "odd"
    (odd / "inegi" / "censo_2000.csv").mkdir(parents=True)
    (odd / "inegi" / "censo_2005.csv").symlink_to(tmp_path / "gone.csv")
    (odd / "un").mkdir()
    (odd / "un" / "usa_migration.csv").write_text("x")
    (odd / "un" / "usa_migration.csv").chmod(0)
    problems = source_folder_problems(odd, explicitly_set=True)
    assert any("censo_2000.csv is a directory" in p for p in problems)
    assert any("censo_2005.csv is a broken symlink" in p for p in problems)
    if os.geteuid() != 0:  # root reads anything
        assert any("usa_migration.csv is not readable" in p for p in problems)


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda folder: None, "does not exist"),
        (lambda folder: folder.mkdir(), "is empty"),
    ],
    ids=["unmounted", "empty"],
)
def test_set_but_missing_or_empty_sources_folder_is_an_error(
    published_copy: MigsysPaths, no_studies_config: Path, tmp_path: Path, prepare, message
) -> None:
    sources = tmp_path / "mounted-sources"
    prepare(sources)
    paths = published_copy.model_copy(update={"sources": sources})
    before = sha256(paths.warehouse)
    with pytest.raises(RefreshFailed) as refused:
        refresh(paths, no_studies_config, sources_explicit=True, rebuild=True)
    assert refused.value.step == "check sources"
    assert message in refused.value.reason and str(sources) in refused.value.reason
    assert sha256(paths.warehouse) == before
    assert not (paths.builds / "current").exists(), "refused before any build"


def test_forgotten_sources_after_a_real_refresh_refuses_the_embedded_data(
    published_copy: MigsysPaths, no_studies_config: Path, tmp_path: Path
) -> None:
    """`make refresh` without MIGSYS_SOURCES after a real-data refresh: the default folder."""
    default_folder = tmp_path / "data" / "sources"  # not set, does not exist
    paths = published_copy.model_copy(update={"sources": default_folder})
    before = sha256(paths.warehouse)
    with pytest.raises(RefreshFailed) as refused:
        refresh(paths, no_studies_config, rebuild=True)
    assert refused.value.step == "check sources"
    assert "--use-embedded" in refused.value.reason and str(default_folder) in refused.value.reason
    assert sha256(paths.warehouse) == before


@pytest.mark.slow
def test_use_embedded_publishes_the_snapshot_on_purpose(
    published_copy: MigsysPaths, no_studies_config: Path, tmp_path: Path
) -> None:
    paths = published_copy.model_copy(update={"sources": tmp_path / "data" / "sources"})
    result = refresh(paths, no_studies_config, use_embedded=True)
    assert result.rebuilt
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    origins = con.execute("select distinct origin from raw.source_files").fetchall()
    (municipalities,) = con.execute(
        "select sum(municipalities) from fct_intensity_degree_summary where index_year = 2000"
    ).fetchone()
    con.close()
    assert origins == [("embedded",)] and municipalities == 2443
    record = json.loads((paths.state / "runs" / f"{result.build_id}.json").read_text())
    assert record["use_embedded"] is True


@pytest.mark.parametrize("kind", ["directory", "broken symlink"])
def test_registered_path_that_is_not_a_readable_file_fails(
    published_copy: MigsysPaths,
    real_sources: Path,
    no_studies_config: Path,
    tmp_path: Path,
    kind: str,
) -> None:
    sources = linked_sources(real_sources, tmp_path, without=("banxico/remesas_mensuales.csv",))
    odd = sources / "banxico" / "remesas_mensuales.csv"
    if kind == "directory":
        odd.mkdir()
    else:
        odd.symlink_to(tmp_path / "nowhere.csv")
    paths = published_copy.model_copy(update={"sources": sources})
    before = sha256(paths.warehouse)
    with pytest.raises(RefreshFailed) as refused:
        refresh(paths, no_studies_config, sources_explicit=True, rebuild=True)
    assert f"remesas_mensuales.csv is a {kind}" in refused.value.reason
    assert sha256(paths.warehouse) == before


def test_lost_source_is_refused_right_after_ingest(
    published_copy: MigsysPaths, real_sources: Path, no_studies_config: Path, tmp_path: Path
) -> None:
    sources = linked_sources(real_sources, tmp_path, without=("un/usa_migration.csv",))
    paths = published_copy.model_copy(update={"sources": sources})
    before = sha256(paths.warehouse)
    with pytest.raises(RefreshFailed) as refused:
        refresh(paths, no_studies_config, sources_explicit=True, rebuild=True)
    assert refused.value.step == "guard sources"
    assert "lost sources" in refused.value.reason and "un_migrant_stock" in refused.value.reason
    assert str(sources) in refused.value.reason and "--allow-shrink" in refused.value.reason
    assert sha256(paths.warehouse) == before


@pytest.mark.slow
def test_shrunk_mart_is_refused_then_published_with_allow_shrink(
    published_copy: MigsysPaths, real_sources: Path, no_studies_config: Path, tmp_path: Path
) -> None:
    """A state remittance file cut at 2009 (a partial download, say): the mart loses rows."""
    state_file = "banxico/remesas_entidad.csv"
    sources = linked_sources(real_sources, tmp_path, without=(state_file,))
    lines = (real_sources / state_file).read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line[:4].isdigit() or line[:4] < "2010"]
    (sources / state_file).write_text("".join(kept), encoding="utf-8")
    paths = published_copy.model_copy(update={"sources": sources})
    before = sha256(paths.warehouse)
    with pytest.raises(RefreshFailed) as refused:
        refresh(paths, no_studies_config, sources_explicit=True, rebuild=True)
    # The file's own rows and latest period refuse it right after ingest, before any dbt build.
    assert refused.value.step == "guard sources"
    assert (
        f"source file {state_file} would fall from 2,816 rows to 2024-Q4 to 896 rows to 2009-Q4"
        in refused.value.reason
    )
    assert sha256(paths.warehouse) == before

    result = refresh(paths, no_studies_config, sources_explicit=True, allow_shrink=True)
    assert sha256(paths.warehouse) != before
    record = json.loads((paths.state / "runs" / f"{result.build_id}.json").read_text())
    assert record["allow_shrink"] is True
    allowed = {c["check"] for c in record["guard"] if c["outcome"] == "allowed"}
    assert {"rows of fct_remittances_state_quarterly", f"source file {state_file}"} <= allowed
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    (last,) = con.execute("select max(year) from fct_remittances_state_quarterly").fetchone()
    con.close()
    assert last == 2009


def test_source_fed_marts_exist_in_the_published_warehouse(published_home: MigsysPaths) -> None:
    con = duckdb.connect(str(published_home.warehouse), read_only=True)
    tables = {
        name
        for (name,) in con.execute("select table_name from information_schema.tables").fetchall()
    }
    con.close()
    assert set(SOURCE_FED_MARTS) <= tables


def test_linked_sources_are_regular_files(real_sources: Path, tmp_path: Path) -> None:
    """The symlinked folder used above is itself acceptable: a symlink to a file is fine."""
    sources = linked_sources(real_sources, tmp_path)
    assert source_folder_problems(sources, explicitly_set=True) == []
    shutil.rmtree(sources)


# --------------------------------------------------------------------------- the sources folder, set once


def test_the_home_config_names_the_sources_folder(tmp_path: Path) -> None:
    from migsys.warehouse.paths import HOME_CONFIG, HomeConfigError

    home = tmp_path / "home"
    home.mkdir()
    assert MigsysPaths.from_env({"MIGSYS_HOME": str(home)}).sources_from == "default"
    (home / HOME_CONFIG).write_text('sources = "../data"\n')
    paths = MigsysPaths.from_env({"MIGSYS_HOME": str(home)})
    assert paths.sources == tmp_path / "data" and paths.sources_from == "config"
    env = MigsysPaths.from_env({"MIGSYS_HOME": str(home), "MIGSYS_SOURCES": str(tmp_path)})
    assert env.sources == tmp_path and env.sources_from == "environment"  # the variable wins
    (home / HOME_CONFIG).write_text('source = "../data"\n')
    with pytest.raises(HomeConfigError, match=rf"{HOME_CONFIG}: unknown key 'source'"):
        MigsysPaths.from_env({"MIGSYS_HOME": str(home)})
    (home / HOME_CONFIG).write_text("sources = \n")
    with pytest.raises(HomeConfigError, match="cannot read it"):
        MigsysPaths.from_env({"MIGSYS_HOME": str(home)})
