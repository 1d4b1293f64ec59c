"""Build lifecycle: lock, leftovers of dead runs, atomic publish, a full disk."""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import shutil
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.publish import (
    DiskFull,
    RefreshInProgress,
    cleaned_up_on_disk_full,
    prepare_build,
    publish_build,
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
    paths.docs.mkdir(parents=True)
    (paths.docs / ".staged-index.html.4242").write_bytes(b"half a page")
    (paths.docs / "index.html").write_bytes(b"published docs")
    build = prepare_build(paths)
    assert [p.name for p in paths.builds.iterdir()] == [build.dir.name]
    assert build.dir.is_dir()
    assert [p.name for p in paths.docs.iterdir()] == ["index.html"]


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
    publish_build(build, paths)

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


def _published_with_docs(paths: MigsysPaths) -> None:
    paths.home.mkdir(parents=True)
    con = duckdb.connect(str(paths.warehouse))
    con.execute("create table v as select 'old' as version")
    con.close()
    paths.docs.mkdir()
    (paths.docs / "index.html").write_text("old docs")


def test_full_disk_during_publish_cleans_partial_files_and_keeps_the_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while staging the docs: nothing half-written stays, the old warehouse stays."""
    paths = _paths(tmp_path)
    _published_with_docs(paths)
    before = (_sha(paths.warehouse), _sha(paths.docs / "index.html"))
    build = prepare_build(paths)
    con = duckdb.connect(str(build.database))
    con.execute(
        "create table v as select 'new' as version; create table big as select range from range(200000)"
    )
    con.close()
    build.static_docs.write_text("new docs " * 10_000)

    real_copyfile = shutil.copyfile

    def copy_until_the_disk_is_full(source, target, **kwargs):
        if Path(source) == build.static_docs:
            Path(target).write_bytes(b"new docs, half of them")  # the partial write
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real_copyfile(source, target, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", copy_until_the_disk_is_full)
    with pytest.raises(DiskFull) as raised, cleaned_up_on_disk_full(paths):
        publish_build(build, paths)
    assert raised.value.__cause__.errno == errno.ENOSPC
    assert "The build was removed" in str(raised.value) and "free there now" in str(raised.value)
    assert (_sha(paths.warehouse), _sha(paths.docs / "index.html")) == before
    assert [p.name for p in paths.docs.iterdir()] == ["index.html"], "no staged docs left"
    assert not build.dir.exists(), "the build is removed: it only fills the disk"
    assert sorted(p.name for p in paths.home.iterdir()) == ["builds", "docs", "warehouse.duckdb"]


def test_other_failures_keep_the_build_for_inspection(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    build = prepare_build(paths)
    with pytest.raises(RuntimeError), cleaned_up_on_disk_full(paths):
        raise RuntimeError("a dbt test failed")
    assert build.dir.is_dir()
