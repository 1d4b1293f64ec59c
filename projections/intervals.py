"""Empirical prediction intervals: each method's own past errors, by class, scaled to the horizon.

Rayer, Smith & Tayman (2009) build county intervals from the distribution of the errors the same
method made in earlier forecasts. Here, at an origin ``T``, a method's *realised* errors are those
of its forecasts from every earlier enumeration ``T'`` to every enumeration up to ``T`` — the
method run on the data up to ``T'`` only, with any parameter ``T'`` cannot estimate (the damped
trend's persistence from 1995, the share model's variogram) taken from ``T``. Each error is
divided by the method's *scale* at that forecast — the horizon in years for the extrapolations,
the model's own predictive sd for the share model — so errors of different horizons pool.

Intervals are symmetric in logs around the point forecast (which is therefore the p50): the
central ``a`` interval is ``± q(|ε|, a) × scale`` with ``q`` the quantile of the absolute scaled
errors of the unit's class — size quintile × growth tercile at the forecast origin, falling back
to the size quintile and then to all units when a class has fewer than ``MIN_CLASS_ERRORS``
(Smith and Tayman publish errors by size and growth class because they differ). The whole
predictive distribution is kept as a symmetric ensemble of ``2 × ENSEMBLE_LEVELS`` members for
the proper score (CRPS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENSEMBLE_LEVELS = 50
MIN_CLASS_ERRORS = 30
QUANTILE_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
N_GROWTH_CLASSES = 3


def growth_classes(rate: np.ndarray, n_classes: int = N_GROWTH_CLASSES) -> np.ndarray:
    """Quantile class (0 = slowest) of each finite growth rate; -1 for the rest."""
    classes = np.full(rate.shape, -1, dtype=int)
    finite = np.isfinite(rate)
    if finite.sum() >= n_classes:
        edges = np.quantile(rate[finite], np.linspace(0, 1, n_classes + 1)[1:-1])
        classes[finite] = np.searchsorted(edges, rate[finite], side="right")
    elif finite.any():
        classes[finite] = 0
    return classes


@dataclass(frozen=True)
class ErrorProfile:
    """Quantiles of absolute scaled errors (at ``(k − ½)/ENSEMBLE_LEVELS``) per class."""

    by_class: dict[tuple[int, int], np.ndarray]  # (size, growth) -> [levels]
    by_size: dict[int, np.ndarray]
    pooled: np.ndarray | None
    n_errors: int

    def quantiles_for(self, size: np.ndarray, growth: np.ndarray) -> np.ndarray:
        """``[n_units, levels]`` quantiles for each unit's class (NaN rows without any)."""
        out = np.full((size.size, ENSEMBLE_LEVELS), np.nan)
        for row, (s, g) in enumerate(zip(size, growth, strict=True)):
            found = self.by_class.get((int(s), int(g)))
            if found is None:
                found = self.by_size.get(int(s), self.pooled)
            if found is not None:
                out[row] = found
        return out


def _levels() -> np.ndarray:
    return (np.arange(ENSEMBLE_LEVELS) + 0.5) / ENSEMBLE_LEVELS


def error_profile(scaled_errors: np.ndarray, size: np.ndarray, growth: np.ndarray) -> ErrorProfile:
    """Profile of realised scaled errors with their units' classes (at the earlier origin)."""
    errors = np.abs(np.asarray(scaled_errors, dtype=float))
    keep = np.isfinite(errors)
    errors, size, growth = errors[keep], np.asarray(size)[keep], np.asarray(growth)[keep]
    levels = _levels()
    by_class: dict[tuple[int, int], np.ndarray] = {}
    by_size: dict[int, np.ndarray] = {}
    for s in np.unique(size):
        in_size = size == s
        if in_size.sum() >= MIN_CLASS_ERRORS:
            by_size[int(s)] = np.quantile(errors[in_size], levels)
        for g in np.unique(growth[in_size]):
            in_class = in_size & (growth == g)
            if in_class.sum() >= MIN_CLASS_ERRORS:
                by_class[(int(s), int(g))] = np.quantile(errors[in_class], levels)
    pooled = np.quantile(errors, levels) if errors.size >= MIN_CLASS_ERRORS else None
    if pooled is None and errors.size:
        pooled = np.quantile(errors, levels)
    return ErrorProfile(by_class, by_size, pooled, int(errors.size))


def central_half_width(quantiles: np.ndarray, level: float) -> float:
    """Half-width (in scaled errors) of the central interval holding ``level`` of the mass: the
    ``level`` quantile of the absolute errors, read from a profile's ``quantiles``."""
    return float(np.interp(level, _levels(), quantiles))


@dataclass(frozen=True)
class Probabilistic:
    """A probabilistic forecast ``[n_units, n_targets]``: quantiles and the log ensemble."""

    p05: np.ndarray
    p25: np.ndarray
    p50: np.ndarray
    p75: np.ndarray
    p95: np.ndarray
    log_ensemble: np.ndarray | None  # [n_units, n_targets, members]; None without a profile


def probabilistic(
    point: np.ndarray, scale: np.ndarray, quantiles: np.ndarray | None
) -> Probabilistic:
    """Symmetric-in-logs forecast: ``point`` is the p50; ``quantiles`` ``[n_units, levels]`` are
    the unit's class quantiles of absolute scaled errors (None: point only, NaN bounds)."""
    point = np.asarray(point, dtype=float)
    if quantiles is None:
        nan = np.full_like(point, np.nan)
        return Probabilistic(nan, nan, point, nan, nan, None)
    log_point = np.log(point)

    def bound(level: float, sign: float) -> np.ndarray:
        q = np.array([central_half_width(row, level) for row in quantiles])
        return np.exp(log_point + sign * q[:, None] * scale)

    offsets = np.concatenate([-quantiles[:, ::-1], quantiles], axis=1)  # [n_units, 2 levels]
    ensemble = log_point[:, :, None] + scale[:, :, None] * offsets[:, None, :]
    return Probabilistic(
        p05=bound(0.90, -1.0),
        p25=bound(0.50, -1.0),
        p50=point,
        p75=bound(0.50, 1.0),
        p95=bound(0.90, 1.0),
        log_ensemble=ensemble,
    )
