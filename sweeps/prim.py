"""PRIM scenario discovery (Friedman & Fisher 1999): peel the parameter box towards the cases of interest.

A compact implementation rather than EMA Workbench's, which would bring scikit-learn, statsmodels,
seaborn and Platypus into the project for this one function. Peeling only (no pasting), with
sequential covering for further boxes, as in EMA Workbench's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PrimBox:
    """A box of parameter limits with how well it captures the cases of interest.

    coverage: share of all cases of interest that fall in the box; density: share of the
    scenarios in the box that are cases of interest; mass: share of all scenarios in the box.
    """

    low: np.ndarray
    high: np.ndarray
    coverage: float
    density: float
    mass: float
    n_scenarios: int
    restricted: tuple[int, ...] = ()  # dimensions the peeling moved (others span their range)


def _peel_trajectory(
    x: np.ndarray, y: np.ndarray, total_interest: float, n_total: int, alpha: float, min_mass: float
) -> list[PrimBox]:
    low, high = x.min(axis=0), x.max(axis=0)
    inside = np.ones(len(y), dtype=bool)
    trajectory = []

    def record() -> None:
        count = int(inside.sum())
        hits = float(y[inside].sum())
        trajectory.append(
            PrimBox(
                low.copy(), high.copy(), hits / total_interest, hits / count, count / n_total, count
            )
        )

    record()
    while inside.sum() / n_total > min_mass:
        best = None
        current = x[inside]
        current_y = y[inside]
        for dim in range(x.shape[1]):
            lower_cut, upper_cut = np.quantile(current[:, dim], [alpha, 1.0 - alpha])
            for side, keep in (
                ("low", current[:, dim] >= lower_cut),
                ("high", current[:, dim] <= upper_cut),
            ):
                kept = int(keep.sum())
                if kept == len(current_y) or kept / n_total < min_mass or kept == 0:
                    continue
                density = float(current_y[keep].mean())
                if best is None or density > best[0]:
                    best = (density, dim, side, lower_cut if side == "low" else upper_cut)
        if best is None or best[0] <= float(current_y.mean()):
            break
        _, dim, side, cut = best
        if side == "low":
            low[dim] = cut
            inside &= x[:, dim] >= cut
        else:
            high[dim] = cut
            inside &= x[:, dim] <= cut
        record()
    return trajectory


def find_boxes(
    x: np.ndarray,
    interest: np.ndarray,
    *,
    min_coverage: float = 0.5,
    max_boxes: int = 2,
    alpha: float = 0.05,
    min_mass: float = 0.05,
) -> list[PrimBox]:
    """Boxes of ``x`` [n, k] rich in ``interest`` [n] (bool); at most ``max_boxes`` by covering.

    Along each peeling trajectory the densest box whose coverage (of the cases still uncovered)
    is at least ``min_coverage`` is kept. Coverage and density reported are over all scenarios.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(interest, dtype=np.float64)
    n_total = len(y)
    total_interest = float(y.sum())
    boxes: list[PrimBox] = []
    remaining = np.ones(n_total, dtype=bool)
    for _ in range(max_boxes):
        remaining_interest = float(y[remaining].sum())
        if remaining_interest == 0 or remaining.sum() < 10:
            break
        trajectory = _peel_trajectory(
            x[remaining], y[remaining], remaining_interest, n_total, alpha, min_mass
        )
        eligible = [box for box in trajectory if box.coverage >= min_coverage] or trajectory[:1]
        chosen = max(eligible, key=lambda box: box.density)
        start = trajectory[0]
        restricted = tuple(
            j
            for j in range(x.shape[1])
            if chosen.low[j] > start.low[j] or chosen.high[j] < start.high[j]
        )
        in_box = np.all((x >= chosen.low) & (x <= chosen.high), axis=1)
        in_remaining = in_box & remaining
        hits = float(y[in_remaining].sum())
        count = int(in_remaining.sum())
        boxes.append(
            PrimBox(
                chosen.low,
                chosen.high,
                hits / total_interest,
                hits / max(count, 1),
                count / n_total,
                count,
                restricted,
            )
        )
        if chosen is trajectory[0]:
            break  # the whole space: nothing more to discover
        remaining &= ~in_box
    return boxes
