"""Evaluators: where a study's chunks run, kept apart from what a chunk computes.

As in EMA Workbench, one base class, :class:`Evaluator`, and several ways to run the same model:
``with evaluator.open() as runner:`` gives, for the length of a study, a :class:`Runner` whose
``map_unordered(function, items)`` yields each item's result as it finishes. The engine
(``sweeps.engine``) records the manifest and shows progress the same way whichever it is given:

- :class:`InProcess` — every chunk in turn, in this process: no cluster, no worker process
  (small studies, notebooks, tests), like EMA Workbench's ``SequentialEvaluator``;
- :class:`LocalProcesses` — single-threaded local worker processes under a Dask scheduler
  (the default of ``migsys sweep run``);
- :class:`ExistingScheduler` — the workers of a running ``dask scheduler`` (compose stack, a
  cluster someone else started);
- :class:`Slurm` — worker processes started as Slurm jobs through ``dask_jobqueue``; queue,
  account, walltime, cores, memory and the job prologue come from dask-jobqueue's own
  configuration (``jobqueue.slurm.*``: ``~/.config/dask/jobqueue.yaml`` or
  ``DASK_JOBQUEUE__SLURM__*``) unless given here.

The three Dask evaluators share :class:`DaskEvaluator`: ``client()`` opens a Dask client, and
its runner keeps a bounded window of chunk futures (each result is a few numbers; the data goes
to disk from the worker).

Dask is quiet while a study runs: its INFO lines (cluster start, worker registration, "Lost all
workers" at shutdown) are not shown, in this process and in local worker processes, whatever
logging configuration the caller installed. Warnings and errors still show. Workers started by
Slurm log to their job's output file.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from distributed import Client

# Levels below this one are not shown from Dask's loggers during a study.
QUIET_LEVEL = logging.WARNING
_DASK_LOGGERS = ("distributed", "dask", "dask_jobqueue")

# Used when neither the caller nor dask-jobqueue's configuration sets them (the values every
# earlier version of migsys used): one core and 2 GiB per job.
SLURM_DEFAULT_CORES = 1
SLURM_DEFAULT_MEMORY = "2GiB"

# Seconds the local worker processes get to register, and to leave once the study is over.
WORKERS_START_TIMEOUT = 120.0
WORKERS_STOP_TIMEOUT = 30.0

Item = TypeVar("Item")
Result = TypeVar("Result")


class Runner(Protocol):
    """What an open evaluator runs chunks on."""

    dashboard: str | None  # where to watch the workers, if anywhere

    def map_unordered(
        self,
        function: Callable[[Item], Result],
        items: Iterable[Item],
        key: Callable[[Item], str],
    ) -> Iterator[Result]:
        """``function(item)`` for every item, yielded as each finishes; ``key(item)`` names it
        (unique within the study)."""
        ...


class Evaluator(abc.ABC):
    """Somewhere to run a study's chunks: ``with evaluator.open() as runner:``."""

    @abc.abstractmethod
    def open(self) -> contextlib.AbstractContextManager[Runner]:
        """Start (and on exit stop) whatever the chunks run on."""


class InProcessRunner:
    """Runs each item in turn in the calling thread."""

    dashboard = None

    def map_unordered(
        self,
        function: Callable[[Item], Result],
        items: Iterable[Item],
        key: Callable[[Item], str],
    ) -> Iterator[Result]:
        from migsys.kernels import get_threads, set_threads

        # Chunks set their own Numba thread count (one per worker process); the caller's is
        # put back once the study is done.
        threads = get_threads()
        try:
            for item in items:
                yield function(item)
        finally:
            set_threads(threads)


@dataclass(frozen=True)
class InProcess(Evaluator):
    """Every chunk in turn in this process: no cluster, nothing started (EMA Workbench's
    ``SequentialEvaluator``). Results are the same as on any other evaluator."""

    @contextlib.contextmanager
    def open(self) -> Iterator[Runner]:
        yield InProcessRunner()


class DaskRunner:
    """Submits items to a Dask client, at most ``window`` at a time, retrying a task twice when
    its worker dies."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.dashboard = getattr(client, "dashboard_link", None)

    def map_unordered(
        self,
        function: Callable[[Item], Result],
        items: Iterable[Item],
        key: Callable[[Item], str],
    ) -> Iterator[Result]:
        from distributed import as_completed

        n_workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        window = max(4, 3 * n_workers)
        queue = iter(items)

        def submit(item):
            return self.client.submit(function, item, key=key(item), retries=2)

        running = as_completed([submit(item) for item in _take(queue, window)])
        for future in running:
            result = future.result()
            future.release()
            yield result
            for item in _take(queue, 1):
                running.add(submit(item))


def _take(iterator: Iterator, count: int) -> list:
    items = []
    for item in iterator:
        items.append(item)
        if len(items) == count:
            break
    return items


class DaskEvaluator(Evaluator):
    """An evaluator whose chunks run on Dask workers, reached through ``client()``."""

    @abc.abstractmethod
    def client(self) -> contextlib.AbstractContextManager[Client]:
        """Open (and on exit close) whatever the client needs: cluster, jobs, connection."""

    @contextlib.contextmanager
    def open(self) -> Iterator[Runner]:
        with self.client() as client:
            yield DaskRunner(client)


@contextlib.contextmanager
def quiet_dask(level: int = QUIET_LEVEL) -> Iterator[None]:
    """Raise Dask's loggers to ``level`` in this process for the duration of the block."""
    loggers = [logging.getLogger(name) for name in _DASK_LOGGERS]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, previous, strict=True):
            logger.setLevel(old)


@dataclass(frozen=True)
class LocalProcesses(DaskEvaluator):
    """A local cluster of ``workers`` single-threaded processes (default: one per core).

    Processes, not threads: a chunk holds the GIL for most of its time.
    """

    workers: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and (int(self.workers) != self.workers or self.workers < 1):
            raise ValueError(f"workers: must be a whole number >= 1, got {self.workers!r}")

    @contextlib.contextmanager
    def client(self) -> Iterator[Client]:
        from distributed import Client

        workers = self.workers or os.cpu_count() or 1
        with quiet_dask(), _local_cluster(workers) as (cluster, process), Client(cluster) as client:
            _wait_for_workers(client, workers, process)
            yield client


# The environment of the local worker processes, on top of this process's.
LOCAL_WORKER_ENVIRON = {
    # Their log level, which distributed reads once, on import, before any hook could run.
    "DASK_LOGGING__DISTRIBUTED": "warning",
    # glibc keeps up to 64 MiB of freed memory and serves blocks under 32 MiB from its heap.
    # Dask's default (give memory back above 64 KiB, which also pins the mmap threshold at
    # 128 KiB) made every array of every chunk a fresh mapping: ~3,100 page faults per
    # 16,384-scenario remittance chunk, 0.5 µs per scenario on the 2-core VM; ~70 with these.
    # glibc reads them when a process starts: they must be in its environment from the first.
    "MALLOC_TRIM_THRESHOLD_": str(64 * 2**20),
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
}


# See its docstring: no "still alive after 4.0 seconds, killing" at the end of every study.
WORKER_PRELOAD = "migsys.sweeps.worker_exit"

_MEMORY_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


@contextlib.contextmanager
def _local_cluster(
    workers: int, base_environ: Mapping[str, str] | None = None
) -> Iterator[tuple[object, subprocess.Popen]]:
    """A scheduler in this process and ``workers`` single-threaded worker processes started
    as one ``dask worker`` child process (its nannies start the workers), whose environment is
    ``base_environ`` (default: this process's) with ``LOCAL_WORKER_ENVIRON`` on top.

    The workers get their environment as an ``env=`` mapping: nothing is set in this process
    (Dask's own way, ``distributed.nanny.pre-spawn-environ``, sets the variables here first and
    leaves them for every process started later).
    """
    from distributed import LocalCluster

    environ = dict(os.environ if base_environ is None else base_environ) | LOCAL_WORKER_ENVIRON
    with LocalCluster(
        n_workers=0, processes=True, dashboard_address=":0", silence_logs=QUIET_LEVEL
    ) as cluster:
        command = [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            cluster.scheduler_address,
            "--nworkers",
            str(workers),
            "--nthreads",
            "1",
            "--no-dashboard",
            "--preload",
            WORKER_PRELOAD,  # each worker leaves at once once closed
            # Workers orphaned by a killed study leave once the scheduler is gone.
            "--death-timeout",
            "60",
        ]
        process = subprocess.Popen(command, env=environ, stdin=subprocess.DEVNULL)
        try:
            yield cluster, process
        finally:
            _stop(process)


def _wait_for_workers(client: Client, workers: int, process: subprocess.Popen) -> None:
    """Wait until ``workers`` workers have registered; a clear error if they cannot start."""
    deadline = time.monotonic() + WORKERS_START_TIMEOUT
    while len(client.scheduler_info(n_workers=-1).get("workers", {})) < workers:
        if process.poll() is not None:
            raise RuntimeError(
                f"local Dask workers exited with code {process.returncode} before starting "
                "(their error is above)"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"local Dask workers: {workers} did not start within {WORKERS_START_TIMEOUT:.0f} s"
            )
        time.sleep(0.05)


def _stop(process: subprocess.Popen) -> None:
    """Ask the worker processes to leave (SIGTERM closes them cleanly), then make sure."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(WORKERS_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class ExistingScheduler(DaskEvaluator):
    """The workers of a running Dask scheduler at ``address`` (``tcp://HOST:PORT``)."""

    address: str
    timeout: str = "30s"

    def __post_init__(self) -> None:
        if not self.address or "://" not in self.address:
            raise ValueError(
                f"scheduler: expected an address like tcp://HOST:PORT, got {self.address!r}"
            )

    @contextlib.contextmanager
    def client(self) -> Iterator[Client]:
        from distributed import Client

        with quiet_dask(), Client(self.address, timeout=self.timeout) as client:
            yield client


@dataclass(frozen=True)
class Slurm(DaskEvaluator):
    """Worker processes started as Slurm jobs (``dask_jobqueue.SLURMCluster``).

    ``workers``: worker processes in all (default: one job's worth); each job runs ``cores``
    single-threaded workers, so ``workers`` rounds up to whole jobs. Every other field left at
    None comes from dask-jobqueue's configuration (``jobqueue.slurm.queue``, ``.account``,
    ``.walltime``, ``.cores``, ``.memory``, ``.job-script-prologue``, ``.log-directory``…);
    cores and memory fall back to 1 and 2 GiB when that configuration has none either. The job
    script exports the workers' malloc settings of ``LOCAL_WORKER_ENVIRON`` before the prologue.
    The login node running the study and the compute nodes must share ``MIGSYS_HOME``.
    """

    workers: int | None = None
    queue: str | None = None
    account: str | None = None
    walltime: str | None = None
    cores: int | None = None
    memory: str | None = None
    job_script_prologue: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("workers", "cores"):
            value = getattr(self, name)
            if value is not None and (int(value) != value or value < 1):
                raise ValueError(f"slurm {name}: must be a whole number >= 1, got {value!r}")
        if self.memory is not None:
            from dask.utils import parse_bytes

            try:
                parse_bytes(self.memory)
            except ValueError:
                raise ValueError(
                    f"slurm memory: expected an amount like 2GiB or 4000MB, got {self.memory!r}"
                ) from None

    def cluster_options(self) -> dict:
        """Keyword arguments of ``SLURMCluster``: the fields given here, then dask-jobqueue's
        configuration, then the fallbacks for cores and memory."""
        import dask
        import dask_jobqueue  # noqa: F401  (adds its configuration defaults on import)

        def configured(key: str):
            return dask.config.get(f"jobqueue.slurm.{key}", default=None)

        cores = self.cores or configured("cores") or SLURM_DEFAULT_CORES
        options = {
            "cores": cores,
            # One single-threaded worker per core: chunks hold the GIL.
            "processes": cores,
            "memory": self.memory or configured("memory") or SLURM_DEFAULT_MEMORY,
        }
        for name in ("queue", "account", "walltime"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        prologue = self.job_script_prologue
        if prologue is None:
            prologue = configured("job-script-prologue") or ()
        # The workers' memory settings of LOCAL_WORKER_ENVIRON (their Nanny keeps a variable
        # already set over Dask's default), then the configured or given prologue.
        options["job_script_prologue"] = [
            *(f"export {name}={LOCAL_WORKER_ENVIRON[name]}" for name in _MEMORY_VARIABLES),
            *prologue,
        ]
        return options

    @contextlib.contextmanager
    def client(self) -> Iterator[Client]:
        from dask_jobqueue import SLURMCluster
        from distributed import Client

        options = self.cluster_options()
        with quiet_dask(), SLURMCluster(**options) as cluster:
            cluster.scale(n=self.workers or options["processes"])
            with Client(cluster) as client:
                yield client


def evaluator_for(
    workers: int | None = None,
    scheduler: str | None = None,
    slurm: bool | Slurm = False,
    in_process: bool = False,
) -> Evaluator:
    """The evaluator the CLI options name: ``--in-process``, ``--scheduler``, ``--slurm`` or
    local processes."""
    chosen = [
        flag
        for flag, given in (
            ("--in-process", in_process),
            ("--scheduler", scheduler),
            ("--slurm", slurm),
        )
        if given
    ]
    if len(chosen) > 1:
        raise ValueError(f"give one of {', '.join(chosen)}, not several")
    if in_process:
        if workers is not None:
            raise ValueError("--workers: chunks run in this process with --in-process")
        return InProcess()
    if scheduler:
        return ExistingScheduler(scheduler)
    if isinstance(slurm, Slurm):
        return slurm if workers is None else replace(slurm, workers=workers)
    if slurm:
        return Slurm(workers=workers)
    return LocalProcesses(workers)
