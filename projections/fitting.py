"""Kernel-agnostic fitting tools: batch least squares and fit statistics.

The kernels evaluate many parameter rows in one call, so the least-squares fit asks for its
residuals in batches: the current point and its finite-difference neighbours go to the model as
one ``[n_candidates, n_free]`` matrix (one kernel call per Jacobian instead of ``n_free + 1``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

BatchResiduals = Callable[[np.ndarray], np.ndarray]
"""Maps candidate rows ``[n_candidates, n_free]`` to residuals ``[n_candidates, n_obs]``."""


@dataclass(frozen=True)
class LeastSquaresFit:
    """Result of :func:`fit_batch_least_squares`."""

    values: np.ndarray  # [n_free] best estimate
    standard_errors: np.ndarray  # [n_free] from the Gauss–Newton covariance s² (JᵀJ)⁻¹
    covariance: np.ndarray  # [n_free, n_free]
    residuals: np.ndarray  # [n_obs] at the estimate
    cost: float  # ½ Σ residual²
    evaluations: int  # batch calls made
    success: bool
    message: str


def _relative_steps(x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Forward-difference steps scaled to each parameter, pointing inside the bounds."""
    step = 1e-4 * np.maximum(np.abs(x), 1e-2 * (upper - lower))
    room_above = upper - x
    return np.where(room_above >= step, step, -step)


def fit_batch_least_squares(
    residuals: BatchResiduals,
    start: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    max_evaluations: int = 60,
    loss: str = "linear",
    loss_scale: float = 1.0,
) -> LeastSquaresFit:
    """Bounded nonlinear least squares (trust region reflective) with batched evaluations.

    ``residuals`` receives candidate rows and returns one residual vector per row; the Jacobian is
    a forward difference whose ``n_free + 1`` rows are evaluated in a single batch call.
    ``loss``/``loss_scale`` are SciPy's robust losses (e.g. ``"soft_l1"`` with the residual size
    beyond which a point counts as an outlier); the standard errors then use the same Gauss–Newton
    formula on the raw residuals, an approximation.
    """
    start_a, lower_a, upper_a = (np.asarray(v, dtype=float) for v in (start, lower, upper))
    if not (start_a.shape == lower_a.shape == upper_a.shape) or start_a.ndim != 1:
        raise ValueError("start, lower, upper: must be 1-D arrays of the same length")
    if np.any(lower_a >= upper_a):
        raise ValueError("lower, upper: every lower bound must be below its upper bound")
    if np.any((start_a < lower_a) | (start_a > upper_a)):
        raise ValueError("start: every value must lie within [lower, upper]")
    calls = 0
    cache: dict[bytes, np.ndarray] = {}

    def evaluate(rows: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        out = np.asarray(residuals(rows), dtype=float)
        if out.ndim != 2 or out.shape[0] != rows.shape[0]:
            raise ValueError(
                f"residuals: must return [n_candidates, n_obs], got shape {out.shape} "
                f"for {rows.shape[0]} candidates"
            )
        if not np.all(np.isfinite(out)):
            raise ValueError("residuals: the model returned NaN or infinite residuals")
        return out

    def fun(x: np.ndarray) -> np.ndarray:
        key = x.tobytes()
        if key not in cache:
            cache[key] = evaluate(x[None, :])[0]
        return cache[key]

    def jac(x: np.ndarray) -> np.ndarray:
        steps = _relative_steps(x, lower_a, upper_a)
        rows = np.vstack([x, x + np.diag(steps)])
        out = evaluate(rows)
        cache[x.tobytes()] = out[0]
        return ((out[1:] - out[0]) / steps[:, None]).T

    result = least_squares(
        fun,
        start_a,
        jac=jac,
        bounds=(lower_a, upper_a),
        method="trf",
        max_nfev=max_evaluations,
        loss=loss,
        f_scale=loss_scale,
    )
    n_obs, n_free = result.fun.size, start_a.size
    jacobian = jac(result.x)
    dof = max(n_obs - n_free, 1)
    variance = float(result.fun @ result.fun) / dof
    covariance = variance * np.linalg.pinv(jacobian.T @ jacobian)
    return LeastSquaresFit(
        values=result.x,
        standard_errors=np.sqrt(np.clip(np.diag(covariance), 0.0, None)),
        covariance=covariance,
        residuals=result.fun,
        cost=float(result.cost),
        evaluations=calls,
        success=bool(result.success),
        message=str(result.message),
    )


@dataclass(frozen=True)
class FitSummary:
    rmse: float
    mape: float  # fraction; mean |model − observed| / |observed| over nonzero observations
    r2: float
    n_obs: int


def fit_summary(modelled: np.ndarray, observed: np.ndarray) -> FitSummary:
    """RMSE, MAPE and R² of modelled against observed values."""
    modelled_a = np.asarray(modelled, dtype=float).ravel()
    observed_a = np.asarray(observed, dtype=float).ravel()
    if modelled_a.shape != observed_a.shape or modelled_a.size == 0:
        raise ValueError("modelled, observed: need the same, non-zero number of values")
    errors = modelled_a - observed_a
    total = float(np.sum((observed_a - observed_a.mean()) ** 2))
    nonzero = observed_a != 0
    return FitSummary(
        rmse=float(np.sqrt(np.mean(errors**2))),
        mape=float(np.mean(np.abs(errors[nonzero]) / np.abs(observed_a[nonzero])))
        if nonzero.any()
        else float("nan"),
        r2=1.0 - float(np.sum(errors**2)) / total if total > 0 else float("nan"),
        n_obs=int(observed_a.size),
    )
