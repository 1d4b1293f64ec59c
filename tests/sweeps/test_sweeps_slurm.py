"""A study through a real single-node Slurm: its results are those of an in-process run, bitwise.

The fixture writes its own ``slurm.conf`` into a temporary folder and starts ``munged``,
``slurmctld`` and ``slurmd`` (one node with this machine's CPUs) on free ports; the study then
runs on ``sweeps.evaluators.Slurm``, whose workers are batch jobs submitted by dask-jobqueue
through ``sbatch``. The test checks that jobs went through the controller (its log records each
``sbatch`` submission, the job-completion log each job, and the jobs' output shows the Dask
workers they ran), then stops the jobs and the daemons it started.

Needs Debian's ``slurm-wlm`` and ``munge`` (installed by ``.ci/setup``) and root (slurmd starts
jobs as their user). Under ``CI=true`` a missing piece fails the test; locally it is skipped
with the command to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest

from migsys.sweeps.engine import run_study
from migsys.sweeps.evaluators import InProcess, Slurm
from migsys.sweeps.models import ModelContext
from migsys.sweeps.spec import parse_spec

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*(Port|port).*:UserWarning")]

DAEMONS = ("munged", "slurmctld", "slurmd")
COMMANDS = ("sbatch", "squeue", "scancel", "sinfo")
INSTALL = "sudo apt-get install -y slurm-wlm munge (or run .ci/setup)"
NODE = "migsys-test-node"


def _executable(name: str) -> str | None:
    """Daemons live in /usr/sbin, which is not on every user's PATH."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _require_slurm() -> dict[str, str]:
    found = {name: _executable(name) for name in DAEMONS + COMMANDS}
    missing = [name for name, path in found.items() if path is None]
    problem = None
    if missing:
        problem = f"Slurm test needs {', '.join(missing)}: {INSTALL}"
    elif os.geteuid() != 0:
        problem = "Slurm test needs root (slurmd starts the jobs as their user)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SlurmNode:
    conf: Path
    logs: Path
    jobs: Path  # where the jobs' output and working directory go
    commands: dict[str, str]

    def run(self, command: str, *args: str) -> str:
        done = subprocess.run(
            [self.commands[command], *args],
            env=os.environ | {"SLURM_CONF": str(self.conf)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout + done.stderr

    def controller_log(self) -> str:
        return (self.logs / "slurmctld.log").read_text(errors="replace")

    def completed_jobs(self) -> str:
        path = self.logs / "jobcomp.txt"
        return path.read_text(errors="replace") if path.exists() else ""


def _slurm_conf(root: Path, spool: Path, socket_path: Path, host: str) -> str:
    cpus = os.cpu_count() or 1
    return f"""\
ClusterName=migsys-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
AuthInfo=socket={socket_path}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={spool}
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/logs/slurmctld.log
SlurmdLogFile={root}/logs/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/logs/jobcomp.txt
NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=4096 State=UNKNOWN
PartitionName=debug Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@pytest.fixture()
def slurm_node(tmp_path: Path, monkeypatch):
    """munged + slurmctld + slurmd of one node, all under ``tmp_path``; stopped at the end."""
    commands = _require_slurm()
    root = tmp_path / "slurm"
    for folder in ("state", "logs", "jobs"):
        (root / folder).mkdir(parents=True)
    # A Unix socket path must stay short (~100 bytes): the munge socket and slurmd's spool (its
    # job step sockets) get short folders of their own (a pytest-xdist worker's tmp_path is long).
    munge = Path(tempfile.mkdtemp(prefix="munge-"))
    spool = Path(tempfile.mkdtemp(prefix="slurmd-"))
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = munge / "munge.socket"
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root, spool, socket_path, socket.gethostname()))
    monkeypatch.setenv("SLURM_CONF", str(conf))  # for sbatch/squeue/scancel run by dask-jobqueue
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> None:
        log = open(root / "logs" / f"{name}.out", "wb")  # noqa: SIM115 - kept open for the process
        started.append(
            subprocess.Popen(
                [commands[name], *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=root,
            )
        )

    node = SlurmNode(conf, root / "logs", root / "jobs", commands)
    try:
        start(
            "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={socket_path}",
            f"--pid-file={munge / 'munged.pid'}",
            f"--log-file={root / 'logs' / 'munged.log'}",
            f"--seed-file={munge / 'munged.seed'}",
        )
        start("slurmctld", "-D", "-f", str(conf))
        start("slurmd", "-D", "-f", str(conf), "-N", NODE)
        deadline = time.monotonic() + 90
        state = ""
        while time.monotonic() < deadline:
            state = node.run("sinfo", "-h", "-N", "-o", "%T").strip()
            if state in ("idle", "mixed", "allocated"):
                break
            time.sleep(0.5)
        else:
            logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in node.logs.glob("*"))
            pytest.fail(f"the Slurm node never became idle (last state {state!r}):\n{logs}")
        yield node
    finally:
        if started:
            node.run("scancel", "--full", "--signal=KILL", f"--nodelist={NODE}")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and node.run("squeue", "-h").strip():
                time.sleep(0.5)
        for process in reversed(started):
            _stop(process)
        shutil.rmtree(munge, ignore_errors=True)
        shutil.rmtree(spool, ignore_errors=True)


def _spec():
    return parse_spec(
        {
            "study": {
                "name": "slurm-remittances",
                "kernel": "remittances",
                "seed": 71,
                "chunk_size": 1024,
                "years": [2005, 2030],
                "outputs": ["remittances_usd", "remittances_usd_horizon", "peak_year"],
            },
            "design": {"method": "sobol", "n": 1024},  # 8,192 scenarios, 8 chunks
            "parameters": {
                "inflow_base": {"low": 150000.0, "high": 600000.0},
                "return_rate_initial": {"low": 0.02, "high": 0.2},
                "remitter_share_decay": {"low": 0.01, "high": 0.1},
                "amount_base": {"low": 2500.0, "high": 8000.0},
                "us_wage_growth": {"low": 0.0, "high": 0.03},
                "gdp_growth": {"low": 0.0, "high": 0.07},
            },
        }
    )


def _results(directory: Path) -> dict[str, np.ndarray]:
    table = ds.dataset(directory / "parts", format="parquet", partitioning="hive").to_table()
    table = table.drop_columns(["chunk"]).sort_by("scenario_id")
    return {name: table.column(name).to_numpy() for name in table.column_names}


def test_study_through_slurm_jobs_matches_an_in_process_run(
    slurm_node: SlurmNode, tmp_path
) -> None:
    import dask

    from migsys.bench.kernels import remittance_inputs

    spec = _spec()
    context = ModelContext(
        inputs={"remittance_inputs": remittance_inputs(np.random.default_rng(71))}
    )
    local = run_study(
        spec, tmp_path / "local", evaluator=InProcess(), progress=False, context=context
    )
    evaluator = Slurm(workers=2, cores=1, memory="1GiB", walltime="00:15:00")
    job_settings = {
        "jobqueue.slurm.log-directory": str(slurm_node.jobs),
        "jobqueue.slurm.job-extra-directives": [f"--chdir={slurm_node.jobs}"],
        "jobqueue.slurm.scheduler-options": {"dashboard_address": None},
    }
    # dask_jobqueue's defaults load on import: outside set(), whose exit would remove the whole
    # `jobqueue` section it did not find on entry (later tests in this process would lack them).
    import dask_jobqueue  # noqa: F401

    with dask.config.set(job_settings):
        remote = run_study(
            spec, tmp_path / "slurm", evaluator=evaluator, progress=False, context=context
        )
    assert remote.chunks_run == local.chunks_run == 8

    submitted = re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", slurm_node.controller_log())
    assert len(submitted) == 2, slurm_node.controller_log()[-3000:]  # two 1-core jobs
    completed = slurm_node.completed_jobs()
    for job in submitted:
        assert re.search(rf"JobId={job} .*Name=dask-worker", completed), completed
    worker_logs = "".join(p.read_text(errors="replace") for p in slurm_node.jobs.glob("*.err"))
    assert worker_logs.count("Registered to:") >= 2, worker_logs[-3000:]

    first, second = _results(local.directory), _results(remote.directory)
    assert first.keys() == second.keys()
    for name in first:
        assert np.array_equal(first[name], second[name]), name
