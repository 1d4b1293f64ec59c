"""The process around a refresh: Prefect's settings, logs, Ctrl-C, and what a killed run left.

* ``configure_prefect`` decides how Prefect runs for a home: its home under ``MIGSYS_HOME``
  unless the operator chose one, and the API: ``PREFECT_API_URL`` when the operator set it, else
  the server ``migsys server`` started for this home (``flows.prefect_server``), else Prefect's
  ephemeral API — and it says which. Never a server some other home started. ``prefect_settings``
  runs Prefect with that, through Prefect's own settings context (which the processes Prefect
  starts inherit), never by writing the environment. (Telemetry off and Prefect's quiet console
  are the ``migsys`` program's environment: ``cli/launcher.py``.)
* ``interruptible`` turns the first Ctrl-C or SIGTERM into one line, stops dbt at once, and lets
  the refresh unwind (lock released, published warehouse untouched); a second signal exits.
* ``reap_leftovers`` removes what a run killed with SIGKILL left: the ephemeral Prefect server it
  started (matched by pid *and* start time, so never a server it did not start).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from migsys.flows.prefect_server import answers, home_server
from migsys.warehouse.paths import MigsysPaths

if TYPE_CHECKING:
    from migsys.settings import MigsysSettings

EPHEMERAL_MARKER = "prefect.server.api.server:create_app"
SERVER_RECORD = "prefect-server.json"

log = logging.getLogger("migsys.refresh")


@dataclass(frozen=True)
class PrefectMode:
    """Which Prefect API a run reports to (in words for the console), and the Prefect settings
    it runs with (by their environment names, e.g. ``PREFECT_HOME``)."""

    api_url: str | None  # None: ephemeral
    home_server: bool = False  # the server `migsys server` started for this home
    settings: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        if self.api_url is None:
            return (
                "Prefect: ephemeral API (no server for this home; start one with `migsys server`)"
            )
        ui = self.api_url.removesuffix("/api")
        whose = "this home's server" if self.home_server else "the server"
        return f"Prefect: reporting to {whose} at {ui}"


def configure_prefect(settings: MigsysSettings) -> PrefectMode:
    """How Prefect runs for ``settings.paths.home``: which API, with which settings.

    Prefect's home is ``MIGSYS_HOME/prefect`` unless the operator set ``PREFECT_HOME``. The API
    is ``PREFECT_API_URL`` when the operator set it; else ``MIGSYS_PREFECT_URL`` (an explicit
    server, for tests and odd setups) when it answers; else the server `migsys server` recorded
    for this home; else Prefect's ephemeral API. Reads nothing but ``settings``, writes nothing.
    """
    paths = settings.paths
    chosen = {} if settings.prefect_home else {"PREFECT_HOME": str(paths.home / "prefect")}
    if settings.prefect_api_url:
        return PrefectMode(settings.prefect_api_url, settings=chosen)
    explicit = settings.prefect_server_url
    if explicit:
        if answers(explicit):
            return PrefectMode(explicit, settings={**chosen, "PREFECT_API_URL": explicit})
        return PrefectMode(None, settings=chosen)
    own = home_server(paths)
    if own is not None:
        return PrefectMode(
            own.api_url, home_server=True, settings={**chosen, "PREFECT_API_URL": own.api_url}
        )
    return PrefectMode(None, settings=chosen)


@contextlib.contextmanager
def prefect_settings(mode: PrefectMode) -> Iterator[None]:
    """Run the Prefect code inside with ``mode``'s settings: Prefect's settings context, which
    its client, its ephemeral server and the processes it starts all read."""
    import prefect.settings
    from prefect.settings import temporary_settings

    updates = {getattr(prefect.settings, name): value for name, value in mode.settings.items()}
    with temporary_settings(updates=updates):
        yield


def start_ephemeral_api_in_background() -> threading.Thread:
    """Start Prefect's ephemeral API server now, in a thread, while this process does other work.

    Prefect starts it on the flow's first API call anyway (the same server: it is one per
    process); starting it early lets its ~10 s start-up overlap with the refresh's own imports.
    A failure here is left for that first call to report. Call it inside ``prefect_settings``:
    the thread runs in a copy of the caller's context, so the server gets the same settings.
    """

    def start() -> None:
        with contextlib.suppress(Exception):
            from prefect.server.api.server import SubprocessASGIServer

            SubprocessASGIServer().start()

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(start,), name="prefect-ephemeral-api")
    thread.daemon = True
    thread.start()
    return thread


class LogFileHandler(logging.FileHandler):
    """A log file that, when it can no longer be written (a full disk), says so once on stderr
    and stops, instead of a traceback for every record that follows."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if self.failed:
            return
        self.failed = True
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or error
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"log file {self.baseFilename} cannot be written ({reason}); "
                "further log lines are dropped\n"
            )
        logging.getLogger().removeHandler(self)


def home_write_problem(paths: MigsysPaths) -> str | None:
    """Why a refresh cannot write under MIGSYS_HOME (read-only, not a folder…), or None."""
    probe = paths.home / f".write-test-{os.getpid()}"
    try:
        paths.home.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        return (
            f"MIGSYS_HOME {paths.home} cannot be written ({error.strerror or error}): a refresh "
            "writes its build, logs, report and the new warehouse there; mount it read-write "
            "or set MIGSYS_HOME to a writable folder (the published warehouse stays readable)"
        )
    return None


class LogFileUnwritable(OSError):
    """The log folder under MIGSYS_HOME cannot be created or written (read-only home, say)."""


def log_to_file(path: Path, *, verbose: bool = False) -> logging.Handler:
    """Send every log record (migsys, Prefect, dbt's lines) to ``path``; with ``verbose``, also
    show them on stderr.

    A handler that fails (a full disk, Prefect's API gone) must neither flood stderr with a
    traceback per record nor stop the run: this process reports logging errors once, itself.
    Raises ``LogFileUnwritable`` naming the folder when the log cannot be opened at all.
    """
    logging.raiseExceptions = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = LogFileHandler(path, encoding="utf-8")
    except OSError as error:
        raise LogFileUnwritable(
            error.errno,
            f"cannot write the log in {path.parent}: {error.strerror or error} "
            "(MIGSYS_HOME must be a writable folder)",
        ) from error
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("migsys").setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose:
        echo = logging.StreamHandler(sys.stderr)
        echo.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
        root.addHandler(echo)
    return handler


# --------------------------------------------------------------------------- interrupts


class Interrupted(KeyboardInterrupt):
    """The refresh was stopped by a signal (Ctrl-C or SIGTERM)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


# Seconds the refresh gets to unwind after a signal (mark the flow run crashed, release the lock)
# before the process ends itself; target ≤ 10 s from the signal to the exit.
INTERRUPT_GRACE_SECONDS = 5.0

# The Prefect server a run reports to stopped answering: the watcher thread tells the main thread
# with this signal, and the refresh stops as on Ctrl-C (exit code 1, not 128 + signal).
SERVER_LOST = signal.SIGUSR1
WATCH_INTERVAL_SECONDS = 2.0
WATCH_MISSES = 2  # consecutive failed health checks before the server counts as gone


class ServerLost(Interrupted):
    """The Prefect server the run reports to stopped answering."""


def exit_code(signum: int) -> int:
    return 1 if signum == SERVER_LOST else 128 + signum


def _watch_server(api_url: str, stopped: threading.Event) -> None:
    """Signal this process (``SERVER_LOST``) once ``api_url`` stops answering its health check."""
    misses = 0
    while not stopped.wait(WATCH_INTERVAL_SECONDS):
        misses = 0 if answers(api_url, timeout=2.0) else misses + 1
        if misses >= WATCH_MISSES:
            os.kill(os.getpid(), SERVER_LOST)
            return


def stop_children(grace_seconds: float = 3.0) -> None:
    """Terminate every process this one started (Prefect server, Dask workers), then kill."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_seconds)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _send_stderr_to(log_file: Path | None) -> None:
    """After the one line the operator sees, whatever else is printed goes to the log."""
    if log_file is None:
        return
    with contextlib.suppress(OSError):
        sys.stderr.flush()
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 2)
        os.close(fd)


@contextlib.contextmanager
def interruptible(
    on_first: Callable[[int], None],
    *,
    log_file: Path | None = None,
    grace_seconds: float = INTERRUPT_GRACE_SECONDS,
    watch_api_url: str | None = None,
) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``Interrupted`` in the main thread, after stopping dbt.

    ``on_first`` prints the one line the operator sees; anything printed afterwards goes to
    ``log_file``. The refresh then unwinds (the flow run is marked crashed, the lock released);
    if that takes longer than ``grace_seconds`` — Prefect waiting on a server the Ctrl-C also
    stopped, say — the process stops its children and exits. A second signal exits at once.

    With ``watch_api_url`` (the Prefect server the run reports to), a thread checks the server's
    health every few seconds; when it stops answering the refresh stops the same way, with
    ``ServerLost`` (``on_first`` gets ``SERVER_LOST``), instead of Prefect retrying every call
    for minutes and ending in a traceback.
    """
    from migsys.warehouse.dbt_runner import allow_runs_again, terminate_running

    received: list[int] = []

    def leave(signum: int) -> None:
        stop_children()
        os._exit(exit_code(signum))

    def watchdog(signum: int) -> None:
        time.sleep(grace_seconds)
        leave(signum)

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        if received:
            leave(signum)  # the operator insists
        received.append(signum)
        on_first(signum)
        _send_stderr_to(log_file)
        threading.Thread(target=watchdog, args=(signum,), daemon=True).start()
        terminate_running(grace_seconds=2.0)
        raise (ServerLost if signum == SERVER_LOST else Interrupted)(signum)

    signals = (signal.SIGINT, signal.SIGTERM) + ((SERVER_LOST,) if watch_api_url else ())
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    watching = threading.Event()
    if watch_api_url:
        threading.Thread(
            target=_watch_server, args=(watch_api_url, watching), name="prefect-watch", daemon=True
        ).start()
    try:
        yield
    finally:
        watching.set()
        for sig, old in previous.items():
            signal.signal(sig, old)
        allow_runs_again()


# --------------------------------------------------------------------------- leftovers of kill -9


def _process_identity(process: psutil.Process) -> dict:
    return {"pid": process.pid, "create_time": process.create_time()}


def _same_process(record: dict) -> psutil.Process | None:
    """The process a record names, if it still runs (same pid AND same start time)."""
    try:
        process = psutil.Process(int(record["pid"]))
        if abs(process.create_time() - float(record["create_time"])) > 0.01:
            return None
        return process
    except (psutil.Error, KeyError, TypeError, ValueError):
        return None


def record_ephemeral_server(paths: MigsysPaths) -> dict | None:
    """Write down the ephemeral Prefect server this process started (for ``reap_leftovers``)."""
    me = psutil.Process()
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if EPHEMERAL_MARKER in " ".join(child.cmdline()):
                record = {"owner": _process_identity(me), "server": _process_identity(child)}
                paths.state.mkdir(parents=True, exist_ok=True)
                (paths.state / SERVER_RECORD).write_text(json.dumps(record), encoding="utf-8")
                return record
    return None


def reap_leftovers(paths: MigsysPaths) -> list[str]:
    """Stop the ephemeral server a killed run left running; returns what was done, in words."""
    record_file = paths.state / SERVER_RECORD
    if not record_file.is_file():
        return []
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record_file.unlink(missing_ok=True)
        return []
    if _same_process(record.get("owner", {})) is not None:
        return []  # its run is still going: not a leftover
    done = []
    server = _same_process(record.get("server", {}))
    if server is not None:
        with contextlib.suppress(psutil.Error):
            if EPHEMERAL_MARKER in " ".join(server.cmdline()):
                server.terminate()
                try:
                    server.wait(timeout=5)
                except psutil.TimeoutExpired:
                    server.kill()
                done.append(f"stopped the Prefect server (pid {server.pid}) a killed run left")
    record_file.unlink(missing_ok=True)
    return done
