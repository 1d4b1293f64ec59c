"""The one file-safety module: one test per guarantee, and a scan that nothing goes around it."""

from __future__ import annotations

import ast
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project_code import REPO_ROOT, project_modules

from migsys.warehouse import files
from migsys.warehouse.files import (
    LockHeld,
    append_line,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    held_lock,
    is_staged,
    lock_holder,
    replace_files,
    swap_directory,
)


def _child(code: str) -> subprocess.Popen:
    """A Python process running ``code`` that prints one line when it is where the test wants."""
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )


def _kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)  # no cleanup code of the child runs
    child.wait(timeout=30)


# --------------------------------------------------------------------------- atomic writes


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    target.write_text("old")
    child = _child(
        "import sys, time\n"
        "from pathlib import Path\n"
        "from migsys.warehouse.files import atomic_path\n"
        f"with atomic_path(Path({str(target)!r})) as staged, open(staged, 'w') as out:\n"
        "    out.write('half of the new'); out.flush()\n"
        "    print('writing', flush=True); time.sleep(60)\n"
    )
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        _kill(child)
    assert target.read_text() == "old"
    (leftover,) = [p for p in tmp_path.iterdir() if p != target]
    assert is_staged(leftover) and leftover.read_text() == "half of the new"


def test_a_failed_write_leaves_the_old_file_and_no_staged_file(tmp_path: Path) -> None:
    target = tmp_path / "table.parquet"
    target.write_bytes(b"old")
    with pytest.raises(OSError, match="No space left"), atomic_path(target) as staged:
        staged.write_bytes(b"part of the new")
        raise OSError(28, "No space left on device")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_a_failed_rename_removes_the_staged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "summary.txt"
    target.write_text("old")

    def refuse(source, destination) -> None:
        raise PermissionError(13, "Permission denied", str(destination))

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(PermissionError):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.txt"]


def test_a_write_is_flushed_then_renamed_then_its_folder_flushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "folder" / "data.bin"
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        name = Path(os.readlink(f"/proc/self/fd/{fd}"))
        events.append(f"fsync {'folder' if name == target.parent.resolve() else 'staged'}")
        real_fsync(fd)

    def replace(source, destination) -> None:
        events.append("rename")
        real_replace(source, destination)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    atomic_write_bytes(target, b"new")
    assert events == ["fsync staged", "rename", "fsync folder"]
    events.clear()
    atomic_write_bytes(target, b"newer", durable=False)
    assert events == ["rename"]  # still atomic, not flushed
    monkeypatch.undo()
    assert target.read_bytes() == b"newer"


def test_written_files_get_the_users_umask_not_0600(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "out.csv", "a,b\n")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o644


def test_appended_lines_are_whole_lines(tmp_path: Path) -> None:
    manifest = tmp_path / "chunks.jsonl"
    append_line(manifest, '{"start": 0}')
    append_line(manifest, '{"start": 64}')
    assert manifest.read_text() == '{"start": 0}\n{"start": 64}\n'


def test_replace_files_moves_all_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    staging, dest = tmp_path / "staging", tmp_path / "dest"
    for folder in (staging, dest):
        (folder / "sub").mkdir(parents=True)
    for name in ("a.csv", "sub/b.csv", "c.csv"):
        (staging / name).write_text(f"new {name}")
    (dest / "a.csv").write_text("old a")
    (dest / "c.csv").write_text("old c")
    real_replace, calls = os.replace, []

    def third_fails(source, destination) -> None:
        calls.append(destination)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_replace(source, destination)

    monkeypatch.setattr(files.os, "replace", third_fails)
    with pytest.raises(OSError, match="No space left"):
        replace_files(staging, dest, ["a.csv", "sub/b.csv", "c.csv"])
    monkeypatch.undo()
    assert {p.relative_to(dest).as_posix(): p.read_text() for p in dest.rglob("*.csv")} == {
        "a.csv": "old a",
        "c.csv": "old c",
    }
    for name in ("a.csv", "sub/b.csv"):  # the renames that were undone took them
        (staging / name).write_text(f"new {name}")
    replace_files(staging, dest, ["a.csv", "sub/b.csv", "c.csv"])
    assert (dest / "sub/b.csv").read_text() == "new sub/b.csv"
    assert (dest / "c.csv").read_text() == "new c.csv"


# --------------------------------------------------------------------------- folder swaps


def _version(folder: Path, label: str, files_in_it: int = 20) -> None:
    folder.mkdir()
    for index in range(files_in_it):
        (folder / f"{index:02d}.txt").write_text(label)


def _whole(folder: Path) -> str:
    """The one version every file of ``folder`` holds (fails on a mixed or partial folder)."""
    labels = {p.read_text() for p in folder.iterdir()}
    assert len(labels) == 1 and len(list(folder.iterdir())) == 20, labels
    return labels.pop()


def test_swap_replaces_a_whole_folder_and_removes_the_old(tmp_path: Path) -> None:
    target = tmp_path / "report"
    _version(target, "old")
    (target / "extra.png").write_text("old")  # a file of the old run must not survive
    _version(tmp_path / "staging", "new")
    swap_directory(tmp_path / "staging", target)
    assert _whole(target) == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    _version(tmp_path / "first", "first")
    swap_directory(tmp_path / "first", tmp_path / "absent" / "report")  # nothing to replace
    assert _whole(tmp_path / "absent" / "report") == "first"


def test_a_swap_killed_at_any_instant_leaves_the_old_or_the_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    _version(target, "v0")
    child = _child(
        "import itertools\n"
        "from pathlib import Path\n"
        "from migsys.warehouse.files import swap_directory\n"
        f"root = Path({str(tmp_path)!r})\n"
        "for n in itertools.count(1):\n"
        "    new = root / f'new{n}'; new.mkdir()\n"
        "    for i in range(20): (new / f'{i:02d}.txt').write_text(f'v{n}')\n"
        "    swap_directory(new, root / 'snapshot', durable=False)\n"
        "    if n == 3: print('swapping', flush=True)\n"
    )
    try:
        assert child.stdout.readline().strip() == "swapping"
        time.sleep(0.3)
    finally:
        _kill(child)
    assert _whole(target).startswith("v")  # whole, whichever version it was


def test_a_failed_swap_leaves_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "study"
    _version(target, "old")
    _version(tmp_path / "staging", "new")

    def refuse(a, b) -> bool:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_exchange", refuse)
    with pytest.raises(OSError):
        swap_directory(tmp_path / "staging", target)
    assert _whole(target) == "old" and _whole(tmp_path / "staging") == "new"


def test_without_an_exchange_the_swap_still_replaces_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback of file systems that cannot exchange two folders (two renames)."""
    target = tmp_path / "study"
    _version(target, "old")
    _version(tmp_path / "staging", "new")
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    swap_directory(tmp_path / "staging", target)
    assert _whole(target) == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["study"]


# --------------------------------------------------------------------------- locks


def _holder(lock: Path) -> subprocess.Popen:
    child = _child(
        "import time\n"
        "from pathlib import Path\n"
        "from migsys.warehouse.files import held_lock\n"
        f"with held_lock(Path({str(lock)!r})):\n"
        "    print('locked', flush=True); time.sleep(60)\n"
    )
    assert child.stdout.readline().strip() == "locked"
    return child


def test_the_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    child = _holder(lock)
    try:
        with pytest.raises(LockHeld) as refused, held_lock(lock, wait_seconds=0.2):
            pass
        assert refused.value.holder.startswith(f"pid {child.pid} on ")
        assert lock_holder(lock) == refused.value.holder  # a probe sees the same
        assert lock_holder(lock) == refused.value.holder  # and probes never exclude each other
    finally:
        _kill(child)


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    _kill(_holder(lock))
    assert lock_holder(lock) is None
    with held_lock(lock):
        assert lock_holder(lock).startswith(f"pid {os.getpid()} on ")
    assert lock.read_text() == ""  # the note goes with the holder
    assert lock_holder(tmp_path / "never-locked") is None


# --------------------------------------------------------------------------- nothing goes around it

# Calls that put a file in place, flush one, or lock one: only ``warehouse/files.py`` makes them.
GUARDED_CALLS = {
    ("os", "replace"),
    ("os", "rename"),
    ("os", "renames"),
    ("os", "fsync"),
    ("os", "fdatasync"),
    ("shutil", "move"),
    ("fcntl", "flock"),
    ("fcntl", "lockf"),
}
GUARDED_METHODS = {"replace", "rename"}  # Path.replace(target), Path.rename(target)


def guarded_uses(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"os", "shutil", "fcntl"}:
            for alias in node.names:
                if (node.module, alias.name) in GUARDED_CALLS:
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner, name = node.func.value, node.func.attr
        if isinstance(owner, ast.Name) and (owner.id, name) in GUARDED_CALLS:
            found.append((node.lineno, f"{owner.id}.{name}"))
        elif name in GUARDED_METHODS and len(node.args) == 1 and not node.keywords:
            # str.replace takes two arguments, DataFrame.rename and datetime.replace keywords:
            # one positional argument and nothing else is Path.replace/rename(target).
            found.append((node.lineno, f"….{name}({ast.unparse(node.args[0])})"))
    return found


def test_every_rename_fsync_and_lock_goes_through_the_files_module() -> None:
    modules = project_modules()
    assert REPO_ROOT / "warehouse" / "files.py" in modules and len(modules) > 50
    outside = [
        f"{module.relative_to(REPO_ROOT)}:{line}: {what}"
        for module in modules
        if module != REPO_ROOT / "warehouse" / "files.py"
        for line, what in guarded_uses(ast.parse(module.read_text(encoding="utf-8")))
    ]
    assert outside == [], "use migsys.warehouse.files instead:\n" + "\n".join(outside)


def test_the_scan_finds_each_kind_of_call() -> None:
    code = (
        "import os, shutil, fcntl\nfrom os import replace\n"
        "os.replace(a, b)\nos.fsync(fd)\nshutil.move(a, b)\nfcntl.flock(h, 1)\n"
        "path.with_suffix('.tmp').replace(path)\ntmp.rename(target)\n"
        "text.replace('a', 'b')\nframe.rename(columns=str.lower)\nnow.replace(tzinfo=None)\n"
    )
    assert [line for line, _ in guarded_uses(ast.parse(code))] == [2, 3, 4, 5, 6, 7, 8]


def test_a_private_file_is_private_before_its_first_byte(tmp_path: Path) -> None:
    """A secret (the compose stack's keys and credentials) is never readable by others, not even
    while it is being written."""
    target = tmp_path / "secrets" / "key.pem"
    with files.atomic_path(target, mode=0o600) as staged:
        assert staged.stat().st_mode & 0o777 == 0o600
        staged.write_bytes(b"private")
    assert target.stat().st_mode & 0o777 == 0o600 and target.read_bytes() == b"private"
