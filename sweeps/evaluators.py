"""Evaluators: where a study's chunks run, kept apart from how they are fanned out.

One small protocol, :class:`Evaluator`: ``with evaluator.client() as client:`` gives a Dask
client for the length of a study. The engine (``sweeps.engine``) submits chunks, records the
manifest and shows progress the same way whichever evaluator it is given:

- :class:`LocalProcesses` — a local cluster of single-threaded worker processes (default);
- :class:`ExistingScheduler` — the workers of a running ``dask scheduler`` (compose stack, a
  cluster someone else started);
- :class:`Slurm` — worker processes started as Slurm jobs through ``dask_jobqueue``; queue,
  account, walltime, cores, memory and the job prologue come from dask-jobqueue's own
  configuration (``jobqueue.slurm.*``: ``~/.config/dask/jobqueue.yaml`` or
  ``DASK_JOBQUEUE__SLURM__*``) unless given here.

Dask is quiet while a study runs: its INFO lines (cluster start, worker registration, "Lost all
workers" at shutdown) are not shown, in this process and in local worker processes, whatever
logging configuration the caller installed (Prefect's sends them to its console handler, and
spawned workers re-import the caller's main module, so they get it too). Warnings and errors
still show. Workers started by Slurm log to their job's output file.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from distributed import Client

# Levels below this one are not shown from Dask's loggers during a study.
QUIET_LEVEL = logging.WARNING
_DASK_LOGGERS = ("distributed", "dask", "dask_jobqueue")

# Used when neither the caller nor dask-jobqueue's configuration sets them (the values every
# earlier version of migsys used): one core and 2 GiB per job.
SLURM_DEFAULT_CORES = 1
SLURM_DEFAULT_MEMORY = "2GiB"


@runtime_checkable
class Evaluator(Protocol):
    """Somewhere to run chunks: a Dask client for the length of a ``with`` block."""

    def client(self) -> contextlib.AbstractContextManager[Client]:
        """Open (and on exit close) whatever the client needs: cluster, jobs, connection."""
        ...


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
class LocalProcesses:
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

        with quiet_dask(), _local_cluster(self.workers) as cluster, Client(cluster) as client:
            yield client


# What Slurm job scripts export for their workers (a job's environment is its own): the malloc
# thresholds local workers set in themselves (see sweeps.worker_settings, which explains them).
SLURM_WORKER_ENVIRON = {
    "MALLOC_TRIM_THRESHOLD_": str(64 * 2**20),
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
}

# Imported by each local worker as it starts: no "still alive after 4.0 seconds, killing" at the
# end of every study (worker_exit); its memory and logging settings (worker_settings).
WORKER_PRELOADS = ["migsys.sweeps.worker_exit", "migsys.sweeps.worker_settings"]


@contextlib.contextmanager
def _local_cluster(workers: int | None) -> Iterator[object]:
    """A ``LocalCluster`` of single-threaded worker processes that set their own memory and
    logging settings (``WORKER_PRELOADS``).

    Dask would otherwise put its own malloc trim threshold (64 KiB) in this process's
    environment before spawning the workers; it is told not to (a ``None`` value), since the
    workers set theirs, and this process's environment stays as it was.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=QUIET_LEVEL,
            preload=WORKER_PRELOADS,
        )
    with cluster:
        yield cluster


@dataclass(frozen=True)
class ExistingScheduler:
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
class Slurm:
    """Worker processes started as Slurm jobs (``dask_jobqueue.SLURMCluster``).

    ``workers``: worker processes in all (default: one job's worth); each job runs ``cores``
    single-threaded workers, so ``workers`` rounds up to whole jobs. Every other field left at
    None comes from dask-jobqueue's configuration (``jobqueue.slurm.queue``, ``.account``,
    ``.walltime``, ``.cores``, ``.memory``, ``.job-script-prologue``, ``.log-directory``…);
    cores and memory fall back to 1 and 2 GiB when that configuration has none either. The job
    script exports the workers' malloc settings (``SLURM_WORKER_ENVIRON``) before the prologue.
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
        # The workers' memory settings (their Nanny keeps a variable already set over Dask's
        # default), then the configured or given prologue.
        options["job_script_prologue"] = [
            *(f"export {name}={value}" for name, value in SLURM_WORKER_ENVIRON.items()),
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
    workers: int | None = None, scheduler: str | None = None, slurm: bool | Slurm = False
) -> Evaluator:
    """The evaluator the CLI options name: ``--scheduler``, ``--slurm`` or local processes."""
    if scheduler and slurm:
        raise ValueError("give either --scheduler or --slurm, not both")
    if scheduler:
        return ExistingScheduler(scheduler)
    if isinstance(slurm, Slurm):
        return slurm if workers is None else replace(slurm, workers=workers)
    if slurm:
        return Slurm(workers=workers)
    return LocalProcesses(workers)
