"""Pure Numba projection kernels and their NumPy twins. No I/O, no globals, no environment.

- :mod:`kernels.defaults` — parameters, defaults, ranges and sources (column order of ``params``);
- :mod:`kernels.depopulation` — cohort-component projection of municipalities;
- :mod:`kernels.remittances` — Mexican-born stock in the US by duration and its remittances;
- :mod:`kernels.coupled` — both together, remittances allocated back to municipalities;
- :mod:`kernels.reference` — plain-NumPy twins used by the tests and benchmarks;
- :func:`set_threads` — threads used by the ``prange`` loops.
"""

from migsys.kernels.threads import get_threads, set_threads

__all__ = ["get_threads", "set_threads"]
