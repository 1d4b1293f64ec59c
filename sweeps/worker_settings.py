"""Preloaded into the local worker processes of a study (``sweeps.evaluators.LocalProcesses``):
their memory and logging settings, made inside the worker, so the process that starts the
cluster keeps its environment as it was (processes it starts later, Slurm jobs and dbt among
them, inherit nothing of this).

- Memory: glibc keeps up to 64 MiB of freed memory and serves blocks under 32 MiB from its heap
  (``mallopt``, the calls the ``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_MMAP_THRESHOLD_`` variables
  stand for). Dask's default (give memory back above 64 KiB, which also pins the mmap threshold
  at 128 KiB) made every array of every chunk a fresh mapping: ~3,100 page faults per
  16,384-scenario remittance chunk, 0.5 µs per scenario on the 2-core VM; ~70 with these.
  Set when the worker starts, before it runs any task.
- Logging: Dask's INFO lines (worker start, registration, closing) are not shown; warnings and
  errors are. Set on import, which the worker does while it is being built.
"""

from __future__ import annotations

import ctypes
import logging

# mallopt(3) parameter numbers (<malloc.h>) and the values the workers use.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD_BYTES = 64 * 2**20
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's largest on 64-bit

# Whether this process's C library took both thresholds (None: not asked yet).
MEMORY_SETTINGS_APPLIED: bool | None = None

logging.getLogger("distributed").setLevel(logging.WARNING)


def apply_memory_settings() -> bool:
    """Set this process's malloc thresholds; False where the C library has no ``mallopt``
    (not glibc), which keeps its defaults."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    trim = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    mmap = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    return bool(trim) and bool(mmap)


def dask_setup(worker) -> None:
    """Dask's preload hook: called in the worker process when the worker starts."""
    global MEMORY_SETTINGS_APPLIED
    MEMORY_SETTINGS_APPLIED = apply_memory_settings()
