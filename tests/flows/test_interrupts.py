"""Ctrl-C, SIGTERM and SIGKILL during a real `migsys refresh`, and analysts reading meanwhile.

The refresh runs as a real `migsys` process over a private copy of the published warehouse. The
tests send real signals once dbt is building, then check: one line on stderr, the published
warehouse byte for byte, and no process of the run left (dbt, the ephemeral Prefect server).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from migsys.warehouse.dbt_runner import WORKER_MODULE
from migsys.warehouse.paths import MigsysPaths

pytestmark = pytest.mark.slow

MIGSYS = shutil.which("migsys", path=str(Path(sys.executable).parent))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_refresh(
    paths: MigsysPaths,
    env: dict[str, str],
    *,
    capture: bool = True,
    rebuild: bool = True,
    config: Path | None = None,
) -> subprocess.Popen:
    assert MIGSYS, "the migsys entry point is not installed"
    env = {**env, "MIGSYS_HOME": str(paths.home), "MIGSYS_SOURCES": str(paths.sources)}
    # Orphans of a SIGKILLed run would hold captured pipes open: that run's output is not read.
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    options = [*(["--rebuild"] if rebuild else []), *(["--config", str(config)] if config else [])]
    return subprocess.Popen(
        [MIGSYS, "refresh", *options],
        env=env,
        stdout=output,
        stderr=output,
        text=True,
        start_new_session=True,  # like a terminal job: its own process group
    )


def command_line(process: psutil.Process) -> str:
    """The process's command line; "" once it has exited (a zombie not yet reaped has none)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return ""


def wait_for_dbt(process: subprocess.Popen, timeout: float = 300) -> list[psutil.Process]:
    """Every process of the run once dbt is building (the run itself first)."""
    root = psutil.Process(process.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the refresh ended before dbt started"
        tree = [root, *root.children(recursive=True)]
        commands = [command_line(p) for p in tree]
        if any(WORKER_MODULE in c and " build " in f" {c} " for c in commands):
            time.sleep(1.0)  # let it get going
            return [root, *root.children(recursive=True)]
        time.sleep(0.2)
    raise AssertionError("dbt never started building")


def gone_within(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """The processes still alive after ``seconds`` (zombies count as gone)."""
    _, alive = psutil.wait_procs(processes, timeout=seconds)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c", "sigterm"],
)
def test_signal_stops_the_refresh_promptly_with_one_line(
    published_copy: MigsysPaths, cli_env: dict[str, str], signum: int, to_group: bool
) -> None:
    before = sha256(published_copy.warehouse)
    process = start_refresh(published_copy, cli_env)
    tree = wait_for_dbt(process)
    if to_group:  # a terminal's Ctrl-C reaches the whole foreground process group
        os.killpg(process.pid, signum)
    else:  # kill(1), systemd: the main process only
        os.kill(process.pid, signum)
    out, err = process.communicate(timeout=120)

    assert process.returncode == 128 + signum, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted:"), err
    assert "Traceback" not in out + err
    assert sha256(published_copy.warehouse) == before
    assert gone_within(tree, 60) == [], "a process of the interrupted run is still running"


def test_sigkill_leaves_the_warehouse_and_the_next_run_reaps_the_leftovers(
    published_copy: MigsysPaths, ephemeral_cli_env: dict[str, str], no_studies_config: Path
) -> None:
    cli_env = ephemeral_cli_env  # the ephemeral API's server is what a killed run leaves
    before = sha256(published_copy.warehouse)
    process = start_refresh(published_copy, cli_env, capture=False)
    tree = wait_for_dbt(process)
    commands = {p: command_line(p) for p in tree}
    server = [
        p for p, command in commands.items() if "prefect.server.api.server:create_app" in command
    ]
    dbt = [p for p, command in commands.items() if WORKER_MODULE in command]
    assert server, "the run started an ephemeral Prefect server"
    os.kill(process.pid, signal.SIGKILL)  # the main process only: its children are orphaned
    process.wait(timeout=60)
    assert sha256(published_copy.warehouse) == before
    assert gone_within(dbt, 30) == [], "dbt dies with the process that started it"
    assert server[0].is_running(), "the orphaned server is what the next run must reap"

    # The inputs are those of the published warehouse: the next run reaps, then keeps it.
    again = start_refresh(published_copy, cli_env, rebuild=False, config=no_studies_config)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"stopped the Prefect server (pid {server[0].pid}) a killed run left" in out
    assert gone_within(server, 30) == []
    assert list(published_copy.builds.iterdir()) == []


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
loaded = lambda: con.execute("select max(loaded_at) from raw.source_files").fetchone()[0]
print(loaded(), flush=True)
sys.stdin.readline()
print(loaded(), flush=True)
"""


def loaded_at(warehouse: Path) -> str:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return str(con.execute("select max(loaded_at) from raw.source_files").fetchone()[0])
    finally:
        con.close()


@pytest.mark.parametrize("rebuild", [True, False], ids=["rebuilt", "unchanged"])
def test_an_analyst_holding_the_warehouse_never_blocks_a_refresh(
    published_copy: MigsysPaths, no_studies_config: Path, rebuild: bool
) -> None:
    from migsys.flows.config import NightlySettings
    from migsys.flows.pipeline import run_plain  # the pipeline's behaviour: no Prefect needed

    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published_copy.warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        seen_before = reader.stdout.readline().strip()
        result = run_plain(
            NightlySettings.from_paths(
                published_copy, config_file=no_studies_config, rebuild=rebuild
            )
        )
        reader.stdin.write("\n")
        reader.stdin.flush()
        seen_during = reader.stdout.readline().strip()
    finally:
        reader.kill()
        reader.wait()
    assert result.rebuilt is rebuild
    assert seen_during == seen_before, "an open reader keeps the data it opened"
    if rebuild:
        assert loaded_at(published_copy.warehouse) != seen_before, "new readers see the new build"
