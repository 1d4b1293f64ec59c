"""Pure Numba projection kernels and their NumPy twins. No I/O, no globals, no environment."""
