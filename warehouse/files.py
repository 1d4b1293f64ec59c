"""File-system safety, written once: atomic writes, folder swaps, locks.

Every file migsys puts in place goes through this module, with the same guarantees:

- ``atomic_path`` / ``atomic_write_bytes`` / ``atomic_write_text`` / ``atomic_copy``: the new
  content is written to a staged file in the target's folder (same file system), flushed to disk
  (``fsync``), renamed over the target, and the folder is flushed so the rename survives a power
  cut. A reader (or a crash at any point) sees the old file or the whole new one, never a part;
  on any failure, Ctrl-C included, the staged file is removed and the target is untouched.
- ``move_into_place``: the same rename of an already complete file or folder (a published build,
  a staged download, a quarantined part).
- ``swap_directory``: a folder replaced by another in one step (Linux ``renameat2`` with
  ``RENAME_EXCHANGE``): the target is always the whole old folder or the whole new one.
- ``replace_files``: several staged files swapped in together, or none of them.
- ``append_line``: one line appended and flushed to disk (an append-only manifest).
- ``held_lock`` / ``lock_holder``: an exclusive ``flock`` tried without blocking (or for a
  while), released by the kernel when its holder dies, even by SIGKILL; the holder writes who it
  is into the lock file, and a probe with a shared lock reads it without ever taking the lock.

Staged names start with ``STAGED_PREFIX`` (``.staged-``): hidden from listings and globs of data
files, and recognisable as leftovers of a killed process (``is_staged``), which their owners
remove under their own lock.

``durable=False`` skips the flushes (the rename stays atomic) where a lost write is detected
anyway and costs more to prevent than to redo: a sweep's parts, whose sha256 the fsynced manifest
records and ``verify_study`` checks.

``filelock`` was considered for the lock and not used: it truncates the lock file when it
opens it, so a refused process would erase the holder's note that the refusal message quotes,
and it has no shared probe.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

STAGED_PREFIX = ".staged-"


def is_staged(path: Path) -> bool:
    """Whether ``path`` is a staged file or folder of this module (a leftover, if nobody runs)."""
    return path.name.startswith(STAGED_PREFIX)


def staged_path(target: Path, suffix: str = "") -> Path:
    """A fresh name beside ``target`` (same folder, so a rename never crosses file systems)."""
    return target.with_name(
        f"{STAGED_PREFIX}{target.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"
    )


# --------------------------------------------------------------------------- flushing


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def flush_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (names created, renamed, removed) survive a power cut."""
    _fsync_path(folder)


def _flush(path: Path) -> None:
    """Flush a file's bytes, or every file under a folder and the folders themselves."""
    if path.is_symlink():
        return
    if path.is_dir():
        for folder, _, names in os.walk(path):
            for name in names:
                entry = Path(folder, name)
                if not entry.is_symlink():
                    _fsync_path(entry)
            _fsync_path(Path(folder))
    elif path.is_file():
        _fsync_path(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --------------------------------------------------------------------------- atomic writes


def move_into_place(source: Path, target: Path, *, durable: bool = True) -> None:
    """Rename the complete file (or folder) ``source`` over ``target``, in the same file system.

    With ``durable``, ``source``'s bytes are flushed first and the folders after, so a power cut
    leaves the old target or the whole new one. A folder may only replace a missing or empty
    folder (``swap_directory`` replaces a full one).
    """
    source, target = Path(source), Path(target)
    if durable:
        _flush(source)
    os.replace(source, target)
    if durable:
        flush_folder(target.parent)
        if source.parent != target.parent:
            flush_folder(source.parent)


@contextlib.contextmanager
def atomic_path(target: Path, *, durable: bool = True, mode: int = 0o666) -> Iterator[Path]:
    """A staged file to write ``target``'s new content into, put in place when the block ends.

    The staged file exists (empty, ``mode`` less the umask: by default 0666 like any file the
    user creates, not a temporary file's 0600; 0600 for a secret, private before its first byte)
    so that any writer may open it by name: ``write_text``, ``pyarrow.parquet.write_table``,
    DuckDB's ``COPY … TO``. When the block raises, the staged file is removed and ``target`` is
    untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = staged_path(target)
    os.close(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    try:
        yield staged
        move_into_place(staged, target, durable=durable)
    except BaseException:
        _remove(staged)
        raise


def atomic_write_bytes(
    target: Path, data: bytes, *, durable: bool = True, mode: int = 0o666
) -> None:
    """Replace ``target`` by ``data``, atomically (see ``atomic_path``)."""
    with atomic_path(target, durable=durable, mode=mode) as staged:
        staged.write_bytes(data)


def atomic_write_text(target: Path, text: str, *, durable: bool = True) -> None:
    """Replace ``target`` by ``text`` in UTF-8, atomically (see ``atomic_path``)."""
    atomic_write_bytes(target, text.encode("utf-8"), durable=durable)


def atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source``'s bytes to ``target``, atomically (see ``atomic_path``)."""
    with atomic_path(target) as staged:
        shutil.copyfile(source, staged)


def append_line(path: Path, line: str) -> None:
    """Append ``line`` and a line break to ``path``, flushed to disk before returning.

    A process killed mid-append leaves at most a torn last line, which readers of an append-only
    file ignore.
    """
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# --------------------------------------------------------------------------- folders


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2``); False where unsupported."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), ctypes.c_uint(_RENAME_EXCHANGE)
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # a file system (or kernel) without RENAME_EXCHANGE
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def swap_directory(new: Path, target: Path, *, durable: bool = True) -> None:
    """Put folder ``new`` at ``target``; the old folder, if any, is removed afterwards.

    The two are exchanged in one step, so ``target`` is at every instant the whole old folder
    or the whole new one, even if the process is killed. Where the file system cannot exchange
    (not Linux, some network file systems) the old folder is renamed aside first, leaving
    ``target`` absent for the instant between two renames. With ``durable``, ``new``'s files
    are flushed to disk before it is put in place.
    """
    new, target = Path(new), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if durable:
        _flush(new)
    if target.exists() and _exchange(new, target):
        retired = new  # now holds the old folder
    elif target.exists():
        retired = staged_path(target, ".old")
        os.replace(target, retired)
        os.replace(new, target)
    else:
        os.replace(new, target)
        retired = None
    if durable:
        flush_folder(target.parent)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def replace_files(staging: Path, dest: Path, names: list[str]) -> None:
    """Move each staged file ``staging/name`` over ``dest/name``: all of them, or none.

    The files replaced stay reachable (hard links under ``staging``) until every rename has
    succeeded; if one fails, the files already moved are put back (their staged copies are
    gone) and the error is raised.
    """
    backups = staging / f"{STAGED_PREFIX}replaced"
    done: list[tuple[Path, Path | None]] = []
    try:
        for name in names:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            backup = None
            if target.is_file():
                backup = backups / name
                backup.parent.mkdir(parents=True, exist_ok=True)
                os.link(target, backup)
            move_into_place(staging / name, target)
            done.append((target, backup))
    except OSError:
        for target, backup in reversed(done):
            if backup is None:
                target.unlink(missing_ok=True)
            else:
                move_into_place(backup, target)
        raise
    finally:
        shutil.rmtree(backups, ignore_errors=True)


# --------------------------------------------------------------------------- locks


class LockHeld(RuntimeError):
    """Another process holds the lock; ``holder`` is what it wrote there (may be empty)."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(f"{path} is held by {holder or 'another process'}")


def holder_note() -> str:
    """What a lock holder writes into its lock file: who and since when."""
    since = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return f"pid {os.getpid()} on {socket.gethostname()} since {since}"


@contextlib.contextmanager
def held_lock(path: Path, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the exclusive lock on ``path`` for the block; ``LockHeld`` if another process has it.

    Tried without blocking, then again every half second until ``wait_seconds`` have passed.
    The kernel releases it when the holder dies, however it dies. The holder's note
    (``holder_note``) is in the file while it is held.
    """
    with open(path, "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    handle.seek(0)
                    raise LockHeld(path, handle.read().strip()) from None
                time.sleep(min(0.5, left))
        handle.seek(0)
        handle.truncate()
        handle.write(holder_note())
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_holder(path: Path) -> str | None:
    """Who holds the lock on ``path`` (their note, or ``""`` when they wrote none), or None when
    nobody does. Probes with a shared lock, so probes never exclude one another."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip()
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
