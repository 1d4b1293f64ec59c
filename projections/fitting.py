"""Kernel-agnostic fitting tools: batch least squares, fit statistics, shrinkage to group means.

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


@dataclass(frozen=True)
class Shrinkage:
    """Per-unit estimates pulled towards their group's mean, with posterior spread."""

    estimates: np.ndarray  # [n_units]
    standard_errors: np.ndarray  # [n_units] posterior sd of the persistent unit effect
    predictive_sd: np.ndarray  # [n_units] sd of a new observation: posterior plus fresh noise
    weights: np.ndarray  # [n_units] share of the unit's own value kept (0 = group mean)
    group_means: dict[str, float]
    group_spreads: dict[str, float]  # τ_g: spread of the persistent unit effects in the group


def shrink_towards_group_means(
    values: np.ndarray, sizes: np.ndarray, groups: np.ndarray, *, min_group: int = 10
) -> Shrinkage:
    """Empirical-Bayes (Fay–Herriot style) shrinkage of noisy unit values to group medians.

    Model: ``value_i = m_g + u_i + e_i`` with a persistent unit effect ``u_i ~ (0, τ_g²)`` and
    noise ``e_i ~ (0, k_g / size_i)`` — small municipalities have noisier rates. Within each group
    ``τ_g²`` and ``k_g`` are the intercept and slope of the squared deviations from the group median
    regressed on ``1 / size`` (method of moments, by feasible generalised least squares); the unit keeps the share
    ``w_i = τ² / (τ² + k / size_i)`` of its own deviation. Units with a NaN value get the group
    mean; groups smaller than ``min_group`` borrow the pooled (all-unit) estimates.
    """
    values_a = np.asarray(values, dtype=float)
    sizes_a = np.asarray(sizes, dtype=float)
    groups_a = np.asarray(groups).astype(str)
    if not (values_a.shape == sizes_a.shape == groups_a.shape) or values_a.ndim != 1:
        raise ValueError("values, sizes, groups: must be 1-D arrays of the same length")
    if np.any(~np.isfinite(sizes_a) | (sizes_a <= 0)):
        raise ValueError("sizes: every unit size must be a finite number > 0")
    known = np.isfinite(values_a)
    if known.sum() < 2:
        raise ValueError("values: need at least two finite unit values to estimate shrinkage")

    def moments(mask: np.ndarray) -> tuple[float, float, float]:
        centre = float(np.median(values_a[mask]))
        squared = (values_a[mask] - centre) ** 2
        design = np.column_stack([np.ones(mask.sum()), 1.0 / sizes_a[mask]])
        floor = 1e-3 * float(np.mean(squared)) + 1e-300  # keep τ² > 0: no unit fully ignored
        spread = np.ones(mask.sum())
        for _ in range(3):
            # feasible GLS: a squared deviation's spread grows with its expected value, so
            # reweighting by it stops the few tiny, very noisy units from dominating the fit
            (tau2, k), *_ = np.linalg.lstsq(design / spread[:, None], squared / spread, rcond=None)
            tau2, k = max(float(tau2), floor), max(float(k), 0.0)
            spread = tau2 + k / sizes_a[mask]
        return centre, tau2, k

    pooled = moments(known)
    estimates = np.empty_like(values_a)
    errors = np.empty_like(values_a)
    predictive = np.empty_like(values_a)
    weights = np.zeros_like(values_a)
    group_means: dict[str, float] = {}
    group_spreads: dict[str, float] = {}
    for group in map(str, np.unique(groups_a)):
        in_group = groups_a == group
        usable = in_group & known
        centre, tau2, k = moments(usable) if usable.sum() >= min_group else pooled
        group_means[group] = centre
        group_spreads[group] = float(np.sqrt(tau2))
        noise = k / sizes_a[in_group]
        weight = np.where(known[in_group], tau2 / (tau2 + noise), 0.0)
        own = np.where(known[in_group], values_a[in_group], centre)
        estimates[in_group] = centre + weight * (own - centre)
        # posterior variance of the unit effect; a unit without data keeps the full spread τ²
        errors[in_group] = np.sqrt(np.where(known[in_group], weight * noise, tau2))
        predictive[in_group] = np.sqrt(errors[in_group] ** 2 + noise)
        weights[in_group] = weight
    return Shrinkage(estimates, errors, predictive, weights, group_means, group_spreads)


@dataclass(frozen=True)
class Ensemble:
    """Parameter draws approximating the posterior of a least-squares fit."""

    draws: np.ndarray  # [n_draws, n_free]
    effective_size: float  # Kish effective sample size of the importance weights
    candidates: int  # proposals evaluated


def posterior_ensemble(
    residuals: BatchResiduals,
    fit: LeastSquaresFit,
    lower: np.ndarray,
    upper: np.ndarray,
    n_draws: int,
    rng: np.random.Generator,
    *,
    candidates_per_draw: int = 4,
) -> Ensemble:
    """Sampling-importance-resampling from the Gaussian-likelihood posterior of a fit.

    Proposals come from the fit's Gauss–Newton normal (covariance inflated ×2 to cover skewed
    posteriors), truncated to the bounds; all are evaluated in one batch call of ``residuals``.
    Weights are likelihood ``exp(−Σr² / 2s²)`` (``s²`` the residual variance at the fit) over the
    proposal density; ``n_draws`` are resampled in proportion. Unlike clipping normal draws, this
    keeps the ensemble on parameters the data allow when the fit is nonlinear or near a bound.
    """
    if n_draws < 1:
        raise ValueError(f"draws: must be >= 1, got {n_draws}")
    centre = fit.values
    if n_draws == 1:
        return Ensemble(centre[None, :].copy(), 1.0, 0)
    n_free = centre.size
    dof = max(fit.residuals.size - n_free, 1)
    variance = max(float(fit.residuals @ fit.residuals) / dof, 1e-300)
    spread = np.diag(np.maximum(np.diag(fit.covariance), 0.0))
    covariance = 2.0 * fit.covariance + 1e-12 * (spread + np.eye(n_free))
    wanted = n_draws * candidates_per_draw
    proposals = np.empty((0, n_free))
    for _ in range(50):  # truncation: draw until enough proposals fall inside the bounds
        batch = rng.multivariate_normal(centre, covariance, size=wanted, method="eigh")
        inside = np.all((batch >= lower) & (batch <= upper), axis=1)
        proposals = np.vstack([proposals, batch[inside]])
        if proposals.shape[0] >= wanted:
            break
    proposals = np.vstack([centre[None, :], proposals[: wanted - 1]])
    out = np.asarray(residuals(proposals), dtype=float)
    log_likelihood = -0.5 * np.sum(out**2, axis=1) / variance
    deviation = proposals - centre
    precision = np.linalg.pinv(covariance)
    log_proposal = -0.5 * np.einsum("ij,jk,ik->i", deviation, precision, deviation)
    log_weight = np.where(np.isfinite(log_likelihood), log_likelihood - log_proposal, -np.inf)
    weight = np.exp(log_weight - np.max(log_weight))
    weight /= weight.sum()
    chosen = rng.choice(proposals.shape[0], size=n_draws, replace=True, p=weight)
    return Ensemble(proposals[chosen], float(1.0 / np.sum(weight**2)), proposals.shape[0])
