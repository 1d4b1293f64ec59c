"""Preloaded into the local worker processes of a study (``sweeps.evaluators.LocalProcesses``).

A worker that has run the kernels holds numba, LLVM, SciPy and Arrow. Once it has closed, the
interpreter still tears all of that down before the process ends: 1 s on an idle machine, past
Dask's 4 s limit on a loaded one, where the nanny then kills it and prints "Worker process still
alive after 4.0 seconds, killing" once per worker at the end of every study. The worker's own
shutdown is complete by then (tasks done, results sent, connections closed, logs written), so
the process flushes its streams and leaves at once, with exit code 0. A worker that did not close
normally (it crashed) exits the usual way, with its own exit code.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys


def dask_setup(worker) -> None:
    """Dask's preload hook: called in the worker process when the worker starts."""
    from distributed.core import Status

    def leave_if_closed() -> None:
        if worker.status != Status.closed:
            return
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        os._exit(0)

    atexit.register(leave_if_closed)
