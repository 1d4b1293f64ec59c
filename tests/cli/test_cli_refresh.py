"""`migsys refresh` as a user sees it: one screen, no colour codes in a pipe, where things are and
what to try next; and which Prefect API it reports to."""

from __future__ import annotations

import http.server
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from migsys.flows.runtime import configure_prefect
from migsys.settings import MigsysSettings
from migsys.warehouse.paths import MigsysPaths

MIGSYS = shutil.which("migsys", path=str(Path(sys.executable).parent))
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_migsys(*args: str, env: dict[str, str], cwd: Path, timeout: float = 900):
    assert MIGSYS, "the migsys entry point is not installed"
    return subprocess.run(
        [MIGSYS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args) -> None:
        pass


def settings_of(paths: MigsysPaths, **environment: str) -> MigsysSettings:
    """The settings of a process whose environment holds only ``environment``."""
    return MigsysSettings(
        paths=paths,
        prefect_server_url=environment.get("MIGSYS_PREFECT_URL"),
        prefect_api_url=environment.get("PREFECT_API_URL"),
        prefect_home=environment.get("PREFECT_HOME"),
    )


def test_prefect_mode_follows_whether_a_server_answers(tmp_path: Path) -> None:
    paths = MigsysPaths(home=tmp_path / "home", sources=tmp_path / "sources")
    mode = configure_prefect(settings_of(paths, MIGSYS_PREFECT_URL="http://127.0.0.1:9/api"))
    assert mode.api_url is None and "ephemeral API" in mode.describe()
    assert mode.settings == {"PREFECT_HOME": str(paths.home / "prefect")}
    chosen = settings_of(paths, PREFECT_HOME=str(tmp_path / "mine"), PREFECT_API_URL="http://x/api")
    assert configure_prefect(chosen).settings == {}  # the operator's choices stand

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api"
        mode = configure_prefect(settings_of(paths, MIGSYS_PREFECT_URL=url))
    finally:
        server.shutdown()
    assert mode.api_url == url and mode.settings["PREFECT_API_URL"] == url
    assert "reporting to the server at http://127.0.0.1" in mode.describe()


def test_a_home_reports_only_to_the_server_recorded_for_it(tmp_path: Path) -> None:
    """A server answering on the machine is not this home's unless `migsys server` recorded it
    for this home, and its process is the recorded one."""
    from migsys.flows.prefect_server import write_record

    paths = MigsysPaths(home=tmp_path / "home", sources=tmp_path / "sources")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        # something answers, but nothing is recorded for this home
        assert configure_prefect(settings_of(paths)).api_url is None
        record = write_record(paths, url)  # as `migsys server` does, from this (live) process
        mode = configure_prefect(settings_of(paths))
        assert mode.api_url == url and mode.settings["PREFECT_API_URL"] == url
        assert "reporting to this home's server" in mode.describe()
        other = MigsysPaths(home=tmp_path / "other", sources=paths.sources)
        other_home = tmp_path / "other" / "prefect"
        other_home.mkdir(parents=True)
        (other_home / "server.json").write_text(
            (paths.home / "prefect" / "server.json").read_text()
        )  # a record copied with a home names the home it was made for
        assert configure_prefect(settings_of(other)).api_url is None
        dead = record.__class__(record.api_url, record.home, record.pid, record.create_time - 60)
        (paths.home / "prefect" / "server.json").write_text(json.dumps(dead.__dict__))
        assert configure_prefect(settings_of(paths)).api_url is None  # not the recorded process
    finally:
        server.shutdown()


@pytest.mark.slow
def test_first_refresh_on_a_fresh_checkout_fits_one_screen(first_run) -> None:
    output, folder = first_run.output, first_run.folder  # `migsys refresh` in an empty folder
    assert first_run.returncode == 0, output
    lines = output.splitlines()
    assert len(lines) <= 40, output
    assert not ANSI.search(output), "no colour codes when the output is not a terminal"
    assert "ephemeral API" in output
    assert f"Warehouse  {folder / 'var' / 'warehouse.duckdb'}" in output
    assert f"file://{folder}/var/reports/latest/index.html" in output
    assert "Next:" in output and "migsys sql" in output
    log = next((folder / "var" / "logs").glob("refresh-*.log"))
    assert "Beginning flow run" in log.read_text(), "the full log is in MIGSYS_HOME/logs"
    assert "Beginning flow run" not in output
    assert "Worker process still alive" not in output  # the standing study ran: no nanny noise


@pytest.mark.slow
def test_next_commands_run_as_printed(first_run, cli_env: dict[str, str]) -> None:
    """The closing block's commands, typed as printed in the folder the refresh ran in: there
    `migsys` is not on PATH (a fresh clone), so they name the program by its path."""
    output = first_run.output
    block = output[output.index("Next:") :].splitlines()[1:]
    commands = [shlex.split(line, comments=True) for line in block if line.startswith("  ")]
    assert len(commands) == 3, output
    env = {k: v for k, v in cli_env.items() if k not in {"MIGSYS_HOME", "MIGSYS_SOURCES"}}
    env["PATH"] = "/usr/bin:/bin"  # as on a fresh clone: no virtual environment activated
    for command in commands:
        program = Path(command[0])
        if not program.is_absolute():
            program = first_run.folder / program
        assert program.is_file(), command
        if command[1:3] == ["sweep", "run"]:  # would write a study into the shared home
            spec = Path(command[3])
            assert (spec if spec.is_absolute() else first_run.folder / spec).is_file(), command
            continue
        done = subprocess.run(
            [str(program), *command[1:]],
            cwd=first_run.folder,
            env=env,
            input=".quit\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
