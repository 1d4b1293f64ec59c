"""Local workers set their own memory and logging settings; the process that starts them keeps
its environment as it was (no variable for later processes, Slurm jobs or dbt, to inherit)."""

from __future__ import annotations

import logging
import os

from migsys.sweeps.evaluators import LocalProcesses


def _worker_state() -> dict:
    import logging
    import os

    from migsys.sweeps import worker_settings

    return {
        "memory": worker_settings.MEMORY_SETTINGS_APPLIED,
        "distributed_level": logging.getLogger("distributed").level,
        "malloc_variables": sorted(name for name in os.environ if name.startswith("MALLOC_")),
    }


def test_local_workers_set_their_own_settings_and_leave_the_environment_alone() -> None:
    before = dict(os.environ)
    with LocalProcesses(workers=1).client() as client:
        [state] = client.run(_worker_state).values()
    assert state["memory"] is True  # glibc took both thresholds
    assert state["distributed_level"] == logging.WARNING
    assert state["malloc_variables"] == []
    changed = {
        name for name in set(before) | set(os.environ) if before.get(name) != os.environ.get(name)
    }
    # Dask's own pre-spawn variables (thread counts, hash seed) are Dask's; none of migsys's.
    assert not changed & {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"}, changed
    assert not any(name.startswith("DASK_LOGGING") for name in changed), changed
