"""One Prefect server per MIGSYS_HOME: ``migsys server`` starts it, ``refresh`` and ``serve`` find it.

A server started for a home records where it listens in ``MIGSYS_HOME/prefect/server.json``
(URL, the process and its start time). ``refresh`` and ``serve`` report to that server only when
the recorded process is still the one running and answers its health check; otherwise they use
Prefect's ephemeral API. They never report to whatever happens to answer on 127.0.0.1:4200: two
checkouts on one machine each see their own runs in their own UI, backed by their own database
(``MIGSYS_HOME/prefect``).

``run_server`` is the process ``migsys server`` becomes: it starts ``prefect server start`` with
its output in ``MIGSYS_HOME/logs/prefect-server.log`` (Prefect's banner asks the user to run
``prefect config set PREFECT_API_URL``, which migsys does for them), picks a free port when the
default is taken by another home's server, prints the URL, the home and how to stop, and on
Ctrl-C or SIGTERM stops the server and removes the record.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from migsys.warehouse.files import atomic_write_text
from migsys.warehouse.paths import MigsysPaths

DEFAULT_PORT = 4200
RECORD_NAME = "server.json"
LOG_NAME = "prefect-server.log"
START_TIMEOUT_SECONDS = 180.0


def prefect_home(paths: MigsysPaths) -> Path:
    return paths.home / "prefect"


def record_path(paths: MigsysPaths) -> Path:
    return prefect_home(paths) / RECORD_NAME


@dataclass(frozen=True)
class ServerRecord:
    """Where the server started for a home listens, and which process it is."""

    api_url: str
    home: str
    pid: int
    create_time: float

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


def answers(api_url: str, timeout: float = 1.0) -> bool:
    """Whether a Prefect server answers its health check at ``api_url``."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def read_record(paths: MigsysPaths) -> ServerRecord | None:
    try:
        data = json.loads(record_path(paths).read_text(encoding="utf-8"))
        return ServerRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def _alive(record: ServerRecord) -> bool:
    """The recorded process still runs: the same pid with the same start time."""
    try:
        process = psutil.Process(record.pid)
        return abs(process.create_time() - record.create_time) < 0.01
    except psutil.Error:
        return False


def home_server(paths: MigsysPaths) -> ServerRecord | None:
    """The server started for this home, if it still runs and answers; else None."""
    record = read_record(paths)
    if record is None or Path(record.home) != paths.home:
        return None
    if not _alive(record) or not answers(record.api_url):
        return None
    return record


def write_record(paths: MigsysPaths, api_url: str) -> ServerRecord:
    me = psutil.Process()
    record = ServerRecord(api_url, str(paths.home), me.pid, me.create_time())
    atomic_write_text(record_path(paths), json.dumps(asdict(record)))
    return record


def forget_record(paths: MigsysPaths, record: ServerRecord) -> None:
    """Remove the record if it is still this server's (a newer server may have replaced it)."""
    if read_record(paths) == record:
        record_path(paths).unlink(missing_ok=True)


def port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(host: str, wanted: int | None) -> int:
    """``wanted`` if given (taken: an error later, from the server), else 4200 when free, else
    any free port."""
    if wanted is not None:
        return wanted
    if port_free(host, DEFAULT_PORT):
        return DEFAULT_PORT
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _stop_with_parent() -> None:
    """In the server's process, before it runs: get SIGTERM when ``migsys server`` dies, even
    killed with SIGKILL (Linux ``PR_SET_PDEATHSIG``), so no server outlives its record."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServerFailed(RuntimeError):
    """The Prefect server did not start; the message says why and where its log is."""


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    return ""


def run_server(paths: MigsysPaths, host: str, port: int | None, say: Callable[[str], None]) -> int:
    """Start the home's Prefect server, wait until it answers, tell the user, and serve until
    Ctrl-C or SIGTERM; returns the exit code."""
    running = home_server(paths)
    if running is not None:
        say(
            f"A Prefect server for {paths.home} already runs at {running.ui_url} "
            f"(pid {running.pid}); stop it first (Ctrl-C in its terminal, or kill {running.pid})."
        )
        return 1
    chosen = choose_port(host, port)
    api_url = f"http://{host}:{chosen}/api"
    log_file = paths.logs / LOG_NAME
    log_file.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home(paths)),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": api_url,
    }
    env.pop("PREFECT_API_URL", None)  # the server itself reports to no one
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    say(f"Starting the Prefect server for {paths.home} on {api_url.removesuffix('/api')} …")
    stopping: list[int] = []

    def stop(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    record = None
    with log_file.open("ab") as log:
        child = subprocess.Popen(
            [prefect, "server", "start", "--host", host, "--port", str(chosen)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches migsys, which stops the server in order
            preexec_fn=_stop_with_parent,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not answers(api_url):
                if child.poll() is not None:
                    raise ServerFailed(
                        f"the Prefect server exited while starting (code {child.returncode}); "
                        f"log {log_file}:\n{_tail(log_file)}"
                    )
                if stopping:
                    return 130
                if time.monotonic() > deadline:
                    raise ServerFailed(
                        f"the Prefect server did not answer within {START_TIMEOUT_SECONDS:.0f} s; "
                        f"log {log_file}"
                    )
                time.sleep(0.5)
            record = write_record(paths, api_url)
            say(
                f"Prefect UI   {record.ui_url}\n"
                f"API          {api_url}\n"
                f"Home         {paths.home} (database in {prefect_home(paths)})\n"
                f"Log          {log_file}\n"
                f"`migsys refresh` and `migsys serve` run with MIGSYS_HOME={paths.home} report "
                "here while it runs. Stop it with Ctrl-C."
            )
            while not stopping and child.poll() is None:
                time.sleep(0.5)
            if child.poll() is not None and not stopping:
                say(f"the Prefect server stopped (code {child.returncode}); log {log_file}")
                return 1
            say("Stopping the Prefect server.")
            return 0
        finally:
            if record is not None:
                forget_record(paths, record)
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)  # the server and what it started
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
            for sig, old in previous.items():
                signal.signal(sig, old)
