"""`migsys refresh` as a user sees it: one screen, no colour codes in a pipe, where things are and
what to try next; and which Prefect API it reports to."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from migsys.flows.runtime import configure_prefect
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


def test_prefect_mode_follows_whether_a_server_answers(tmp_path: Path) -> None:
    paths = MigsysPaths(home=tmp_path / "home", sources=tmp_path / "sources")
    nobody = {"MIGSYS_PREFECT_URL": "http://127.0.0.1:9/api"}
    mode = configure_prefect(paths, nobody)
    assert mode.api_url is None and "ephemeral API" in mode.describe()
    assert "PREFECT_API_URL" not in nobody
    assert nobody["PREFECT_HOME"] == str(paths.home / "prefect")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api"
        environ = {"MIGSYS_PREFECT_URL": url}
        mode = configure_prefect(paths, environ)
    finally:
        server.shutdown()
    assert mode.api_url == url and environ["PREFECT_API_URL"] == url
    assert "reporting to the server at http://127.0.0.1" in mode.describe()


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_refresh_reports_to_a_running_server_and_prints_the_flow_run(
    published_copy: MigsysPaths, cli_env: dict[str, str], no_studies_config: Path, tmp_path: Path
) -> None:
    port = _free_port()
    env = {**cli_env, "MIGSYS_HOME": str(published_copy.home)}
    server = subprocess.Popen(
        [MIGSYS, "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, "migsys server exited"
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(1)
        env = {**env, "MIGSYS_PREFECT_URL": url, "MIGSYS_SOURCES": str(published_copy.sources)}
        # Unchanged inputs: the flow runs (and reports) without rebuilding the warehouse.
        result = run_migsys("refresh", "--config", str(no_studies_config), env=env, cwd=tmp_path)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and anything it started
        server.wait(30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"reporting to the server at http://127.0.0.1:{port}" in result.stdout
    assert re.search(
        rf"flow run: http://127\.0\.0\.1:{port}/runs/flow-run/[0-9a-f-]+", result.stdout
    )
