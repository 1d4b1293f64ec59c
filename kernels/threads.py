"""Thread control for the parallel kernels (a thin wrapper so callers need not import numba)."""

from __future__ import annotations

import numba


def set_threads(n: int) -> None:
    """Use ``n`` threads in the ``prange`` loops of the kernels (``numba.set_num_threads``).

    ``n`` must lie in [1, numba.config.NUMBA_NUM_THREADS] (the pool size fixed at start-up).
    """
    limit = int(numba.config.NUMBA_NUM_THREADS)
    if int(n) != n or not 1 <= n <= limit:
        raise ValueError(f"n: threads must be a whole number in [1, {limit}], got {n!r}")
    numba.set_num_threads(int(n))


def get_threads() -> int:
    """Threads the kernels currently use."""
    return int(numba.get_num_threads())
