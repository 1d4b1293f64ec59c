"""Analytic test functions with known Sobol indices, as Numba batch kernels plus NumPy twins.

They let the engine and the analysis be checked against exact answers before (and independently
of) the migration kernels: Ishigami (Ishigami & Homma 1990) and Sobol' G (Saltelli & Sobol' 1995).
"""

from __future__ import annotations

import numpy as np
from numba import njit

ISHIGAMI_A = 7.0
ISHIGAMI_B = 0.1
# The coefficients SALib uses for its Sobol' G example: small a = influential factor.
SOBOL_G_A = (0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0)


@njit(cache=True)
def _ishigami_kernel(x: np.ndarray, a: float, b: float, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = np.sin(x[i, 0]) + a * np.sin(x[i, 1]) ** 2 + b * x[i, 2] ** 4 * np.sin(x[i, 0])


@njit(cache=True)
def _sobol_g_kernel(x: np.ndarray, a: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        product = 1.0
        for j in range(x.shape[1]):
            product *= (abs(4.0 * x[i, j] - 2.0) + a[j]) / (1.0 + a[j])
        out[i] = product


def _as_batch(x: np.ndarray, n_columns: int | None, name: str) -> np.ndarray:
    batch = np.ascontiguousarray(x, dtype=np.float64)
    if batch.ndim != 2:
        raise ValueError(f"{name}: x must be 2-D [n, k], got shape {batch.shape}")
    if n_columns is not None and batch.shape[1] != n_columns:
        raise ValueError(f"{name}: x must have {n_columns} columns, got {batch.shape[1]}")
    return batch


def ishigami(x: np.ndarray, a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> np.ndarray:
    """Ishigami function of each row of ``x`` [n, 3] (inputs in [-pi, pi])."""
    batch = _as_batch(x, 3, "ishigami")
    out = np.empty(batch.shape[0])
    _ishigami_kernel(batch, float(a), float(b), out)
    return out


def sobol_g(x: np.ndarray, a: np.ndarray | tuple[float, ...] = SOBOL_G_A) -> np.ndarray:
    """Sobol' G function of each row of ``x`` [n, len(a)] (inputs in [0, 1])."""
    coefficients = np.ascontiguousarray(a, dtype=np.float64)
    batch = _as_batch(x, coefficients.shape[0], "sobol_g")
    out = np.empty(batch.shape[0])
    _sobol_g_kernel(batch, coefficients, out)
    return out


def ishigami_numpy(x: np.ndarray, a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> np.ndarray:
    """NumPy twin of :func:`ishigami`."""
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def sobol_g_numpy(x: np.ndarray, a: np.ndarray | tuple[float, ...] = SOBOL_G_A) -> np.ndarray:
    """NumPy twin of :func:`sobol_g`."""
    coefficients = np.asarray(a, dtype=np.float64)
    return np.prod((np.abs(4.0 * x - 2.0) + coefficients) / (1.0 + coefficients), axis=1)


def ishigami_indices(a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> dict[str, np.ndarray]:
    """Analytic first-order (S1) and total (ST) Sobol indices of Ishigami."""
    v1 = 0.5 * (1.0 + b * np.pi**4 / 5.0) ** 2
    v2 = a**2 / 8.0
    v13 = b**2 * np.pi**8 * (1.0 / 18.0 - 1.0 / 50.0)
    variance = v1 + v2 + v13
    s1 = np.array([v1, v2, 0.0]) / variance
    st = np.array([v1 + v13, v2, v13]) / variance
    return {"S1": s1, "ST": st}


def sobol_g_indices(a: np.ndarray | tuple[float, ...] = SOBOL_G_A) -> dict[str, np.ndarray]:
    """Analytic first-order (S1) and total (ST) Sobol indices of Sobol' G."""
    coefficients = np.asarray(a, dtype=np.float64)
    partial = 1.0 / (3.0 * (1.0 + coefficients) ** 2)
    variance = np.prod(1.0 + partial) - 1.0
    s1 = partial / variance
    st = (
        np.array(
            [partial[i] * np.prod(np.delete(1.0 + partial, i)) for i in range(coefficients.size)]
        )
        / variance
    )
    return {"S1": s1, "ST": st}
