"""Fault tolerance against a real ``dask scheduler`` with two ``dask worker`` processes.

Kill a worker mid-study: the study completes with results identical to an undisturbed run.
Kill the client mid-study: ``migsys sweep run`` again runs only the missing chunks, identical
results. The scheduler and workers are subprocesses on 127.0.0.1 with a free port, always killed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest

from migsys.sweeps import store
from migsys.sweeps.engine import run_study, study_status
from migsys.sweeps.models import ModelContext
from migsys.sweeps.spec import load_spec

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*(Port|port).*:UserWarning")]

BIN = Path(sys.executable).parent
SPEC = """
[study]
name = "faults"
kernel = "remittances"
seed = 31
chunk_size = 1024
years = [2005, 2030]
outputs = ["remittances_usd", "remittances_usd_horizon", "peak_year"]
[design]
method = "sobol"
n = 8192
[parameters]
inflow_base = { low = 150000.0, high = 600000.0 }
return_rate_initial = { low = 0.02, high = 0.2 }
remitter_share_decay = { low = 0.01, high = 0.1 }
amount_base = { low = 2500.0, high = 8000.0 }
us_wage_growth = { low = 0.0, high = 0.03 }
gdp_growth = { low = 0.0, high = 0.07 }
"""


@dataclass
class DaskProcesses:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture()
def dask_processes(tmp_path: Path):
    """``dask scheduler`` + two single-thread ``dask worker`` processes, killed at the end."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - kept open for the process
        process = subprocess.Popen(
            [str(BIN / "dask"), *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append(process)
        return process

    try:
        scheduler = start(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"
        )
        workers = [
            start(
                f"worker{i}",
                "worker",
                address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--name",
                f"worker{i}",
            )
            for i in range(2)
        ]
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield DaskProcesses(address, scheduler, workers)
    finally:
        for process in reversed(started):
            _kill(process)


@pytest.fixture()
def fault_home(published_home, tmp_path: Path) -> Path:
    """A MIGSYS_HOME of its own with a copy of the real warehouse and the fault study spec."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(published_home.warehouse, home / "warehouse.duckdb")
    (tmp_path / "faults.toml").write_text(SPEC)
    return home


def _results(directory: Path) -> dict[str, np.ndarray]:
    table = ds.dataset(directory / "parts", format="parquet", partitioning="hive").to_table()
    table = table.drop_columns(["chunk"]).sort_by("scenario_id")
    return {name: table.column(name).to_numpy() for name in table.column_names}


def _assert_identical(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> None:
    assert first.keys() == second.keys()
    for name in first:
        assert np.array_equal(first[name], second[name]), name


def _wait_for_chunks(study_dir: Path, count: int, timeout: float = 180.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(store.read_manifest(store.StudyDir(study_dir)))
        if done >= count:
            return done
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} chunks finished in {timeout} s")


def _wait_until_quiet(study_dir: Path, quiet: float = 3.0, timeout: float = 60.0) -> None:
    """Wait until no new part has landed for ``quiet`` seconds (chunks already running on the
    workers when the client died finish and write their parts); the checks after it hold even
    if one lands later."""
    deadline = time.monotonic() + timeout
    last = (-1, time.monotonic())
    while time.monotonic() < deadline:
        count = len(list((study_dir / "parts").glob("*/part.parquet")))
        if count != last[0]:
            last = (count, time.monotonic())
        elif time.monotonic() - last[1] >= quiet:
            return
        time.sleep(0.1)
    raise AssertionError(f"parts kept landing for {timeout} s after the client was killed")


def test_killing_a_worker_mid_study_changes_nothing(
    dask_processes: DaskProcesses, fault_home: Path
) -> None:
    spec = load_spec(fault_home.parent / "faults.toml")
    context = ModelContext(warehouse=fault_home / "warehouse.duckdb")
    reference = run_study(
        spec,
        fault_home / "reference",
        scheduler=dask_processes.address,
        progress=False,
        context=context,
    )
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["run"] = run_study(
                spec,
                fault_home / "sweeps",
                scheduler=dask_processes.address,
                progress=False,
                context=context,
            )
        except BaseException as error:  # reported by the main thread
            outcome["error"] = error

    runner = threading.Thread(target=run)
    runner.start()
    done_at_kill = _wait_for_chunks(fault_home / "sweeps" / "faults", 4)
    _kill(dask_processes.workers[0])
    runner.join(timeout=300)
    assert not runner.is_alive() and "error" not in outcome, outcome.get("error")
    assert done_at_kill < reference.chunks_total  # the worker really died mid-study
    assert outcome["run"].chunks_run == reference.chunks_total
    _assert_identical(_results(reference.directory), _results(fault_home / "sweeps" / "faults"))


def test_killing_the_client_then_rerunning_finishes_only_missing_chunks(
    dask_processes: DaskProcesses, fault_home: Path
) -> None:
    spec_path = fault_home.parent / "faults.toml"
    env = os.environ | {"MIGSYS_HOME": str(fault_home), "DO_NOT_TRACK": "1"}
    command = [
        str(BIN / "migsys"),
        "sweep",
        "run",
        str(spec_path),
        "--scheduler",
        dask_processes.address,
        "--no-progress",
    ]
    client = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        _wait_for_chunks(fault_home / "sweeps" / "faults", 4)
    finally:
        _kill(client)
    _wait_until_quiet(fault_home / "sweeps" / "faults")
    status = study_status(fault_home / "sweeps", "faults")
    assert status.state == "interrupted" and 0 < status.scenarios_done < status.n_scenarios
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    ran, total = map(int, re.search(r"faults: (\d+) of (\d+) chunks run", again.stdout).groups())
    # Only missing chunks run: never one found done before the rerun (a part of a chunk still
    # running on a worker when the client died may land late, so the rerun can find more).
    assert 0 < ran <= total - status.chunks_done
    assert study_status(fault_home / "sweeps", "faults").state == "finished"
    spec = load_spec(spec_path)
    reference = run_study(
        spec,
        fault_home / "reference",
        scheduler=dask_processes.address,
        progress=False,
        context=ModelContext(warehouse=fault_home / "warehouse.duckdb"),
    )
    _assert_identical(_results(reference.directory), _results(fault_home / "sweeps" / "faults"))
