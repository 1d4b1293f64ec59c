"""One Prefect server per home, and a server that vanishes mid-run, with real processes.

Two homes each start `migsys server`: A holds a warehouse published from the real files, B a
fresh clone's. A `migsys refresh` in each reports to its own home's server only, and each
server's database holds that home's run alone (issue 18, finding 4); A's refresh, given
MIGSYS_SOURCES, remembers the folder in A's migsys.toml. Then A's server is killed while a plain
`migsys refresh` (no MIGSYS_SOURCES: the remembered folder) reports to it: the refresh stops
within seconds with one clear message instead of minutes of retries and a traceback, and the
published warehouse is left byte-for-byte unchanged (issue 17, item 6).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

MIGSYS = str(Path(sys.executable).parent / "migsys")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _home_env(home: Path) -> dict[str, str]:
    """A fresh clone's environment for ``home``: no sources folder, no server named anywhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MIGSYS_SOURCES", "MIGSYS_PREFECT_URL", "PREFECT_API_URL", "PREFECT_HOME"}
    }
    return {**env, "MIGSYS_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "120"}


def _wait_for(path: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(encoding="utf-8", errors="replace"):
        assert process.poll() is None, f"exited early:\n{path.read_text()}"
        assert time.monotonic() < deadline, f"{text!r} not shown:\n{path.read_text()}"
        time.sleep(0.5)


def _flow_runs(api_url: str) -> list[dict]:
    request = urllib.request.Request(
        f"{api_url}/flow_runs/filter",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_each_home_reports_to_its_own_server_and_a_vanished_server_is_said_plainly(
    published_copy, embedded_home, no_studies_config: Path, tmp_path: Path
) -> None:
    homes, servers, outputs, urls = {}, {}, {}, {}
    for name, source in (("a", published_copy.home), ("b", embedded_home.home)):
        clone = tmp_path / name
        clone.mkdir()
        homes[name] = clone / "var"
        shutil.copytree(
            source,
            homes[name],
            symlinks=True,
            ignore=shutil.ignore_patterns("*.lock", "prefect", "server.json"),
        )
        port = _free_port()
        urls[name] = f"http://127.0.0.1:{port}/api"
        outputs[name] = tmp_path / f"server-{name}.out"
        with outputs[name].open("w") as out:
            servers[name] = subprocess.Popen(
                [MIGSYS, "server", "--port", str(port)],
                env=_home_env(homes[name]),
                cwd=clone,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    try:
        for name in ("a", "b"):
            _wait_for(outputs[name], "Stop it with Ctrl-C", servers[name], timeout=300)
            shown = outputs[name].read_text()
            assert f"Prefect UI   {urls[name].removesuffix('/api')}" in shown
            assert f"Home         {homes[name]}" in shown
            assert "prefect config set" not in shown  # Prefect's banner went to the log
            record = json.loads((homes[name] / "prefect" / "server.json").read_text())
            assert record["api_url"] == urls[name] and record["home"] == str(homes[name])

        # Unchanged inputs: each refresh runs its flow (and reports it) without rebuilding; both
        # at once, each to its own server.
        sources_a = {"MIGSYS_SOURCES": str(published_copy.sources)}
        commands = {
            "a": ([MIGSYS, "refresh", "--config", str(no_studies_config)], sources_a),
            "b": ([MIGSYS, "refresh"], {}),
        }
        running = {
            name: subprocess.Popen(
                command,
                env={**_home_env(homes[name]), **extra},
                cwd=homes[name].parent,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, (command, extra) in commands.items()
        }
        refreshes = {
            name: subprocess.CompletedProcess(process.args, 0, *process.communicate(timeout=600))
            for name, process in running.items()
        }
        for name, done in refreshes.items():
            assert running[name].returncode == 0, done.stdout + done.stderr
            ui = urls[name].removesuffix("/api")
            assert f"reporting to this home's server at {ui}" in done.stdout
            assert f"flow run: {ui}/runs/flow-run/" in done.stdout
            runs = _flow_runs(urls[name])
            assert [run["parameters"]["settings"]["home"] for run in runs] == [str(homes[name])]

        # A's first refresh remembered its sources folder.
        assert f"Sources folder remembered in {homes['a'] / 'migsys.toml'}" in refreshes["a"].stdout

        # Home A's server vanishes while a plain refresh (the remembered sources) reports to it.
        published = (homes["a"] / "warehouse.duckdb").read_bytes()
        log = tmp_path / "refresh-a.out"
        with log.open("w") as out:
            refresh = subprocess.Popen(
                [MIGSYS, "refresh", "--rebuild", "--config", str(no_studies_config)],
                env=_home_env(homes["a"]),
                cwd=homes["a"].parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_for(log, "✓ ingest", refresh, timeout=300)
        assert f"sources {published_copy.sources.resolve()}" in log.read_text()  # remembered
        server_a = psutil.Process(servers["a"].pid)
        for process in [server_a, *server_a.children(recursive=True)]:
            process.kill()  # gone at once: no goodbye to anyone
        servers["a"].wait(30)
        began = time.monotonic()
        code = refresh.wait(120)
        stopped_after = time.monotonic() - began
        shown = log.read_text()
        assert code == 1, shown
        assert "refresh stopped: the Prefect server at" in shown
        assert "stopped answering" in shown and "was left unchanged" in shown
        assert "Traceback" not in shown and "EventsWorker" not in shown, shown
        assert stopped_after < 60, f"took {stopped_after:.0f} s to stop:\n{shown}"
        assert (homes["a"] / "warehouse.duckdb").read_bytes() == published
    finally:
        for server in servers.values():
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)  # the server and what it started
                server.wait(60)
    assert not (homes["b"] / "prefect" / "server.json").exists()  # removed when it stopped
