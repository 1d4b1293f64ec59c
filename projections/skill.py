"""How good a forecast was: the scores of one method at one origin/target pair, by size class.

All scores compare a forecast with the enumeration it forecast, over the same units for every
method (the units enumerated in the base period, at the origin and at the target):

- ``mdape``, ``mape`` — median and mean absolute percentage error of the p50 (fractions);
- ``median_log_error`` — median of ``ln(forecast / observed)``: the bias (> 0 too high);
- ``direction_accuracy`` — share of units put on the observed side of "population fell
  between origin and target" (zero growth counts as not falling, the rule of
  ``fct_municipal_growth.is_depopulating``);
- ``decline_recall``, ``decline_precision``, ``decline_f1`` — depopulation detection: a decline
  is *called* when the p50 is below the origin level; recall is the share of the units that fell
  which were called, precision the share of the called units that fell, F1 their harmonic mean
  (NULL where undefined: recall and F1 when no unit fell, precision when none was called; F1 is 0
  when units fell and no call was right, including when none was made);
- ``crps`` — mean continuous ranked probability score of the predictive distribution of
  ``ln(population)`` (a proper score: lower is better; in log points, so comparable across units
  of any size), computed by ``scoringrules.crps_ensemble``;
- ``coverage_90``, ``coverage_50`` — shares of units observed inside p05–p95 and p25–p75;
- ``interval_score`` — the mean over units of the interval scores (Gneiting & Raftery 2007) of
  the p05–p95 and p25–p75 intervals of ``ln(population or USD)``, averaged: each interval's width
  plus ``2/α`` times the distance by which the outcome falls outside it (lower is better; it
  rewards coverage and narrowness together).

Size class is the quintile of population at the origin (``q1`` smallest); ``all`` is every unit.
"""

from __future__ import annotations

import numpy as np

SIZE_ALL = "all"
SKILL_COLUMNS: dict[str, str] = {
    "kernel": "VARCHAR",
    "origin": "INTEGER",
    "target_year": "INTEGER",
    "horizon_years": "DOUBLE",
    "method": "VARCHAR",
    "size_class": "VARCHAR",
    "n_units": "INTEGER",
    "mdape": "DOUBLE",
    "mape": "DOUBLE",
    "median_log_error": "DOUBLE",
    "direction_accuracy": "DOUBLE",
    "decline_recall": "DOUBLE",
    "decline_precision": "DOUBLE",
    "decline_f1": "DOUBLE",
    "crps": "DOUBLE",
    "coverage_90": "DOUBLE",
    "coverage_50": "DOUBLE",
    "interval_score": "DOUBLE",
}


def size_label(size: int) -> str:
    return f"q{size + 1}"


def decline_detection(
    base: np.ndarray, observed: np.ndarray, p50: np.ndarray
) -> dict[str, float | None]:
    """Recall, precision and F1 of calling a decline when ``p50 < base`` (module doc)."""
    fell = observed < base
    called = p50 < base
    hits = int(np.sum(fell & called))
    recall = hits / int(fell.sum()) if fell.any() else None
    precision = hits / int(called.sum()) if called.any() else None
    f1 = None  # undefined when no unit fell
    if recall is not None:
        f1 = 0.0 if hits == 0 else 2 * recall * precision / (recall + precision)
    return {"decline_recall": recall, "decline_precision": precision, "decline_f1": f1}


def log_interval_score(
    observed: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float
) -> np.ndarray:
    """Interval score of the central ``1 − alpha`` interval [lower, upper], in log points."""
    y, low, high = np.log(observed), np.log(lower), np.log(upper)
    below = np.maximum(low - y, 0.0)
    above = np.maximum(y - high, 0.0)
    return (high - low) + 2.0 / alpha * (below + above)


def crps_log(observed: np.ndarray, log_ensemble: np.ndarray) -> np.ndarray:
    """CRPS of ``ln(observed)`` under each unit's ensemble of log values ``[n, members]``."""
    import scoringrules

    return np.asarray(
        scoringrules.crps_ensemble(np.log(observed), log_ensemble, backend="numpy"), dtype=float
    )


def scores(
    base: np.ndarray,
    observed: np.ndarray,
    p50: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
    log_ensemble: np.ndarray | None,
) -> dict[str, float | int | None]:
    """Scores over aligned unit arrays; ``bounds`` = (p05, p25, p75, p95) or None."""
    base = np.asarray(base, dtype=float)
    observed = np.asarray(observed, dtype=float)
    p50 = np.asarray(p50, dtype=float)
    if not (base.shape == observed.shape == p50.shape) or base.ndim != 1:
        raise ValueError("scores: base, observed and p50 must be 1-d arrays of one length")
    if base.size == 0:
        raise ValueError("scores: no unit to score")
    if np.any(~np.isfinite(observed) | (observed <= 0)):
        raise ValueError("scores: observed values must be finite and > 0")
    if np.any(~np.isfinite(p50) | (p50 <= 0)):
        raise ValueError("scores: forecasts must be finite and > 0")
    ape = np.abs(p50 - observed) / observed
    out: dict[str, float | int | None] = {
        "n_units": int(base.size),
        "mdape": float(np.median(ape)),
        "mape": float(np.mean(ape)),
        "median_log_error": float(np.median(np.log(p50 / observed))),
        "direction_accuracy": float(np.mean((p50 < base) == (observed < base))),
        **decline_detection(base, observed, p50),
        "crps": None,
        "coverage_90": None,
        "coverage_50": None,
        "interval_score": None,
    }
    if bounds is not None and np.all(np.isfinite(np.stack(bounds))):
        p05, p25, p75, p95 = bounds
        out["coverage_90"] = float(np.mean((observed >= p05) & (observed <= p95)))
        out["coverage_50"] = float(np.mean((observed >= p25) & (observed <= p75)))
        out["interval_score"] = float(
            np.mean(
                0.5 * log_interval_score(observed, p05, p95, 0.1)
                + 0.5 * log_interval_score(observed, p25, p75, 0.5)
            )
        )
    if log_ensemble is not None and np.all(np.isfinite(log_ensemble)):
        out["crps"] = float(np.mean(crps_log(observed, log_ensemble)))
    return out


def scores_by_size(
    base: np.ndarray,
    observed: np.ndarray,
    p50: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
    log_ensemble: np.ndarray | None,
    size: np.ndarray,
) -> list[dict]:
    """``scores`` for all units (``size_class = 'all'``) and for each size class present."""
    rows = [{"size_class": SIZE_ALL, **scores(base, observed, p50, bounds, log_ensemble)}]
    for number in np.unique(size[size >= 0]):
        keep = size == number

        def take(array: np.ndarray | None, keep=keep) -> np.ndarray | None:
            return None if array is None else array[keep]

        rows.append(
            {
                "size_class": size_label(int(number)),
                **scores(
                    base[keep],
                    observed[keep],
                    p50[keep],
                    None if bounds is None else tuple(b[keep] for b in bounds),
                    take(log_ensemble),
                ),
            }
        )
    return rows
