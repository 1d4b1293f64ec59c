"""A full disk is disk full, and a home that cannot be written is said so (issue 17, items 5, 6).

Before: DuckDB reported a full disk as a TransactionException, not ENOSPC, so the build stayed
and the file system stayed 100 % full; stderr carried ~2,000 lines of logging tracebacks; a
read-only MIGSYS_HOME gave a traceback (EROFS on the log file).

The full disk is real: a small tmpfs mounted as MIGSYS_HOME in a private user and mount
namespace (``unshare -rm``), holding a copy of the published warehouse. Where the kernel does not
allow that, the test is skipped with the reason, and DuckDB's own error (produced through a WAL
that is /dev/full) is checked in-process instead, never a hand-made exception.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from fault_tools import MIGSYS, run_migsys

from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.publish import (
    DiskFull,
    cleaned_up_on_disk_full,
    is_disk_full,
    prepare_build,
)

pytestmark = pytest.mark.real_data
MIB = 1024 * 1024


def can_mount_tmpfs(where: Path) -> str | None:
    """None when ``unshare -rm`` can mount a tmpfs here, else why not."""
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    where.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f"mount -t tmpfs -o size=1m tmpfs {shlex.quote(str(where))}",
        ],
        capture_output=True,
        text=True,
    )
    return None if probe.returncode == 0 else f"no user mount namespaces here: {probe.stderr}"


def test_duckdb_disk_full_error_removes_the_build_and_says_how_much(tmp_path: Path) -> None:
    """DuckDB's error for a full disk, produced for real: its WAL is /dev/full."""
    paths = MigsysPaths(home=tmp_path / "home", sources=tmp_path / "sources")
    build = prepare_build(paths)
    (build.dir / "warehouse.duckdb.wal").symlink_to("/dev/full")
    with pytest.raises(DiskFull) as raised, cleaned_up_on_disk_full(paths):
        con = duckdb.connect(str(build.database))
        con.execute("create table t as select range as x from range(100000)")
    assert isinstance(raised.value.__cause__, duckdb.TransactionException)
    assert is_disk_full(raised.value.__cause__)
    assert "No space left on device" in str(raised.value)
    assert "The build was removed" in str(raised.value) and "A refresh needs about" in str(
        raised.value
    )
    assert list(paths.builds.iterdir()) == []


@pytest.mark.slow
def test_a_full_disk_during_a_refresh(
    published_copy: MigsysPaths, cli_env: dict[str, str], no_studies_config: Path, tmp_path: Path
) -> None:
    mount = tmp_path / "small-disk"
    reason = can_mount_tmpfs(mount)
    if reason is not None:
        pytest.skip(reason)
    size = published_copy.warehouse.stat().st_size + 6 * MIB  # the build cannot fit
    command = " ".join(
        shlex.quote(part)
        for part in (str(MIGSYS), "refresh", "--rebuild", "--config", str(no_studies_config))
    )
    script = f"""
        set -u
        mount -t tmpfs -o size={size} tmpfs "$HOME_DIR"
        cp -r "$PUBLISHED"/. "$HOME_DIR"/
        sha256sum "$HOME_DIR/warehouse.duckdb" | cut -c1-64
        {command} >"$OUT/stdout" 2>"$OUT/stderr"
        echo "rc=$?"
        sha256sum "$HOME_DIR/warehouse.duckdb" | cut -c1-64
        ls -A "$HOME_DIR/builds"
        echo "end"
    """
    out = tmp_path / "out"
    out.mkdir()
    env = {
        **cli_env,
        "HOME_DIR": str(mount),
        "PUBLISHED": str(published_copy.home),
        "OUT": str(out),
        "MIGSYS_HOME": str(mount),
        "MIGSYS_SOURCES": str(published_copy.sources),
    }
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=900
    )
    before, rc, after, *listing = done.stdout.split()
    stderr = (out / "stderr").read_text()
    assert rc == "rc=1", done.stdout + (out / "stdout").read_text() + stderr
    assert after == before, "the published warehouse is byte-identical"
    assert listing == ["end"], "the build was removed"
    assert "disk full under" in stderr and "No space left on device" in stderr
    assert "The build was removed" in stderr and "A refresh needs about" in stderr
    assert "Traceback" not in stderr and "Logging error" not in stderr
    assert len(stderr.splitlines()) <= 4, stderr


def test_a_read_only_home_is_refused_with_one_line(
    real_sources: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    if os.geteuid() == 0 and can_mount_tmpfs(tmp_path / "ro") is not None:
        pytest.skip("root ignores permission bits and no mount namespace to mount read-only")
    home = tmp_path / "home"
    (home / "state").mkdir(parents=True)
    env = {**cli_env, "MIGSYS_HOME": str(home), "MIGSYS_SOURCES": str(real_sources)}
    if os.geteuid() == 0:  # root ignores permission bits: a read-only bind mount instead
        script = f'mount --bind -o ro "{home}" "{home}" && exec {MIGSYS} refresh'
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    else:
        home.chmod(0o555)
        try:
            done = run_migsys("refresh", env=env, cwd=tmp_path, timeout=300)
        finally:
            home.chmod(0o755)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"refresh refused: MIGSYS_HOME {home} cannot be written" in output
    assert "Read-only file system" in output or "Permission denied" in output
    assert "Traceback" not in output and len(output.splitlines()) == 1, output
