"""Build lifecycle: lock, leftovers of dead runs, atomic publish."""

from __future__ import annotations

import hashlib
import multiprocessing
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.refresh import (
    RefreshInProgress,
    prepare_build,
    publish_step,
    refresh_lock,
)


def _paths(tmp_path: Path) -> MigsysPaths:
    return MigsysPaths(home=tmp_path / "home", sources=tmp_path / "sources")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hold_lock(home: str, sources: str, ready, release) -> None:
    with refresh_lock(MigsysPaths(home=Path(home), sources=Path(sources))):
        ready.set()
        release.wait(30)


def test_second_refresh_refuses_with_a_clear_message(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(
        target=_hold_lock, args=(str(paths.home), str(paths.sources), ready, release)
    )
    holder.start()
    try:
        assert ready.wait(30)
        with (
            pytest.raises(RefreshInProgress, match=r"another refresh is running \(pid \d+"),
            refresh_lock(paths),
        ):
            pass
    finally:
        release.set()
        holder.join(30)
    with refresh_lock(paths):  # free again once the holder is gone
        pass


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(
        target=_hold_lock, args=(str(paths.home), str(paths.sources), ready, release)
    )
    holder.start()
    assert ready.wait(30)
    holder.kill()  # SIGKILL: no cleanup code runs
    holder.join(30)
    with refresh_lock(paths):
        pass


def test_prepare_build_removes_leftovers_of_dead_runs(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    dead = paths.builds / "20260101T000000-999"
    dead.mkdir(parents=True)
    (dead / "warehouse.duckdb").write_bytes(b"half written")
    (paths.builds / "stray.tmp").write_bytes(b"x")
    build = prepare_build(paths)
    assert [p.name for p in paths.builds.iterdir()] == [build.dir.name]
    assert build.dir.is_dir()


def test_publish_replaces_atomically_and_old_readers_keep_their_data(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    paths.home.mkdir(parents=True)
    old = duckdb.connect(str(paths.warehouse))
    old.execute("create table v as select 'old' as version")
    old.close()
    reader = duckdb.connect(str(paths.warehouse), read_only=True)

    build = prepare_build(paths)
    con = duckdb.connect(str(build.database))
    con.execute("create table v as select 'new' as version")
    con.close()
    publish_step(build, paths)

    assert reader.execute("select version from v").fetchall() == [("old",)]
    reader.close()
    fresh = duckdb.connect(str(paths.warehouse), read_only=True)
    assert fresh.execute("select version from v").fetchall() == [("new",)]
    fresh.close()
    assert not build.dir.exists()


def test_failed_build_leaves_published_file_byte_for_byte(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    paths.home.mkdir(parents=True)
    con = duckdb.connect(str(paths.warehouse))
    con.execute("create table v as select 1 as x")
    con.close()
    before = _sha(paths.warehouse)
    build = prepare_build(paths)
    (build.database).write_bytes(b"not a database")  # a build that died half-way
    prepare_build(paths)  # the next run cleans it up without touching the published file
    assert _sha(paths.warehouse) == before
