"""PRIM scenario discovery as Friedman & Fisher (1999) describe it: peeling, pasting, covering.

Written here because no library migsys already uses does PRIM: statsmodels and SciPy have no
PRIM, SALib stops at sensitivity indices. The maintained Python PRIM is EMA Workbench's
(``ema_workbench.analysis.prim``); the package requires scikit-learn, platypus-opt, seaborn and
tqdm besides what migsys has (numpy, pandas, SALib, matplotlib, statsmodels), for this one
function. Its standalone extract, the ``prim`` package on PyPI, is GPL-3 (migsys is MIT). This
one is checked on planted boxes (continuous, grid, categorical inputs; pasting; covering) in
``tests/sweeps/test_sweeps_prim.py``.

- **Peeling.** From the box holding every point, each candidate peel removes a sub-box along
  one face: for an ordered input the points below its ``alpha``-quantile (or above its
  ``1 - alpha``-quantile) within the box, and when ties at the extreme make that empty (discrete
  levels: a 4-level grid has 25 % of its points at each level) the whole extreme level; for a
  categorical input one of its remaining categories. The peel kept is the one whose remaining box
  has the largest mean of the outcome (F&F §2), while the box keeps at least ``min_mass`` of the
  points. The sequence of boxes is the peeling trajectory.
- **Pasting.** The box chosen on the trajectory is then enlarged along any face (the next
  ``alpha`` share of the box's points outside it along one input, or the next level, or a
  removed category back) as long as that raises its mean (F&F §3), or keeps it while covering
  more cases of interest (what an early peel removed before later ones made it good).
- **Covering.** Further boxes are found on the points outside the earlier ones (F&F §4).

The chosen box on a trajectory is the densest one whose coverage is at least ``min_coverage``
(ties: the larger coverage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PrimBox:
    """A box of input limits with how well it captures the cases of interest.

    coverage: share of all cases of interest that fall in the box; density: share of the
    scenarios in the box that are cases of interest; mass: share of all scenarios in the box.
    For a categorical input ``j``, ``categories[j]`` holds the values the box keeps and
    ``low[j]``/``high[j]`` their extremes.
    """

    low: np.ndarray
    high: np.ndarray
    coverage: float
    density: float
    mass: float
    n_scenarios: int
    restricted: tuple[int, ...] = ()  # inputs the box limits (others span their whole range)
    categories: dict[int, frozenset[float]] = field(default_factory=dict)
    trajectory: tuple[TrajectoryStep, ...] = ()  # peeling (and pasting) steps of this box
    pasted: int = 0  # pasting steps applied to the chosen peeled box


@dataclass(frozen=True)
class TrajectoryStep:
    """One box along a peeling/pasting trajectory (statistics over the points still in play)."""

    step: int
    phase: str  # "start" | "peel" | "paste"
    coverage: float
    density: float
    mass: float
    n_restricted: int
    chosen: bool = False


@dataclass
class _Box:
    low: np.ndarray
    high: np.ndarray
    categories: dict[int, frozenset[float]]

    def copy(self) -> _Box:
        return _Box(self.low.copy(), self.high.copy(), dict(self.categories))

    def contains(self, x: np.ndarray, skip: int | None = None) -> np.ndarray:
        """Points inside the box, ignoring the limits of input ``skip``."""
        inside = np.ones(x.shape[0], dtype=bool)
        for j in range(x.shape[1]):
            if j == skip:
                continue
            if j in self.categories:
                inside &= np.isin(x[:, j], list(self.categories[j]))
            else:
                inside &= (x[:, j] >= self.low[j]) & (x[:, j] <= self.high[j])
        return inside

    def restricted(self, start: _Box) -> tuple[int, ...]:
        out = []
        for j in range(self.low.size):
            if j in self.categories:
                if self.categories[j] != start.categories[j]:
                    out.append(j)
            elif self.low[j] > start.low[j] or self.high[j] < start.high[j]:
                out.append(j)
        return tuple(out)


def _peel_candidates(
    x: np.ndarray, inside: np.ndarray, box: _Box, alpha: float
) -> list[tuple[np.ndarray, _Box]]:
    """(points still inside, box) after each possible peel of ``box``."""
    candidates = []
    points = np.flatnonzero(inside)
    for j in range(x.shape[1]):
        values = x[points, j]
        if j in box.categories:
            kept = box.categories[j]
            if len(kept) < 2:
                continue
            for category in sorted(kept):
                new = box.copy()
                new.categories[j] = kept - {category}
                new.low[j], new.high[j] = min(new.categories[j]), max(new.categories[j])
                candidates.append((inside & (x[:, j] != category), new))
            continue
        lowest, highest = values.min(), values.max()
        if lowest == highest:
            continue
        cut_low, cut_high = np.quantile(values, [alpha, 1.0 - alpha])
        # Below the alpha-quantile; when ties at the minimum leave nothing there, the whole level.
        drop_low = values < cut_low if (values < cut_low).any() else values == lowest
        drop_high = values > cut_high if (values > cut_high).any() else values == highest
        for drop, side in ((drop_low, "low"), (drop_high, "high")):
            keep = inside.copy()
            keep[points[drop]] = False
            remaining = values[~drop]
            new = box.copy()
            if side == "low":
                new.low[j] = remaining.min()
            else:
                new.high[j] = remaining.max()
            candidates.append((keep, new))
    return candidates


def _paste_candidates(
    x: np.ndarray, in_play: np.ndarray, inside: np.ndarray, box: _Box, start: _Box, alpha: float
) -> list[tuple[np.ndarray, _Box]]:
    """(points inside, box) after each possible paste of ``box`` (within ``start``)."""
    candidates = []
    count = max(1, int(np.ceil(alpha * inside.sum())))
    for j in range(x.shape[1]):
        others = in_play & box.contains(x, skip=j)
        if j in box.categories:
            for category in sorted(start.categories[j] - box.categories[j]):
                new = box.copy()
                new.categories[j] = box.categories[j] | {category}
                new.low[j], new.high[j] = min(new.categories[j]), max(new.categories[j])
                candidates.append((inside | (others & (x[:, j] == category)), new))
            continue
        for side in ("low", "high"):
            outside = others & (x[:, j] < box.low[j] if side == "low" else x[:, j] > box.high[j])
            if not outside.any():
                continue
            values = np.sort(x[outside, j])
            take = min(count, values.size)
            # The next `count` points beyond the face (whole levels when values tie).
            edge = values[-take] if side == "low" else values[take - 1]
            new = box.copy()
            if side == "low":
                new.low[j] = edge
                added = outside & (x[:, j] >= edge)
            else:
                new.high[j] = edge
                added = outside & (x[:, j] <= edge)
            candidates.append((inside | added, new))
    return candidates


def _stats(y: np.ndarray, inside: np.ndarray, total_interest: float, n_total: int):
    count = int(inside.sum())
    hits = float(y[inside].sum())
    return hits / total_interest, hits / count, count / n_total


def _find_box(
    x: np.ndarray,
    y: np.ndarray,
    in_play: np.ndarray,
    start: _Box,
    *,
    n_total: int,
    alpha: float,
    min_mass: float,
    min_coverage: float,
    paste_alpha: float,
) -> tuple[_Box, list[TrajectoryStep], int]:
    """Peel, choose, paste one box among the points ``in_play``."""
    total_interest = float(y[in_play].sum())
    inside = in_play.copy()
    box = start.copy()
    boxes = [(inside, box)]
    steps = [TrajectoryStep(0, "start", *_stats(y, inside, total_interest, n_total), 0)]
    while True:
        current_density = float(y[inside].mean())
        if current_density >= 1.0:
            break
        best = None
        for keep, candidate in _peel_candidates(x, inside, box, alpha):
            kept = int(keep.sum())
            if kept == 0 or kept == int(inside.sum()) or kept / n_total < min_mass:
                continue
            mean = float(y[keep].mean())
            if best is None or mean > best[0]:
                best = (mean, keep, candidate)
        if best is None:
            break
        _, inside, box = best
        boxes.append((inside, box))
        coverage, density, mass = _stats(y, inside, total_interest, n_total)
        steps.append(
            TrajectoryStep(len(steps), "peel", coverage, density, mass, len(box.restricted(start)))
        )
    eligible = [i for i, step in enumerate(steps) if step.coverage >= min_coverage] or [0]
    chosen = max(eligible, key=lambda i: (steps[i].density, steps[i].coverage))
    inside, box = boxes[chosen]
    pasted = 0
    while True:
        current, hits = float(y[inside].mean()), float(y[inside].sum())
        best = None
        for keep, candidate in _paste_candidates(x, in_play, inside, box, start, paste_alpha):
            mean, gained = float(y[keep].mean()), float(y[keep].sum())
            # A paste may not lower the mean: it raises it, or keeps it and covers more cases.
            if mean < current or (mean == current and gained <= hits):
                continue
            if best is None or (mean, gained) > best[0]:
                best = ((mean, gained), keep, candidate)
        if best is None:
            break
        _, inside, box = best
        pasted += 1
        coverage, density, mass = _stats(y, inside, total_interest, n_total)
        steps.append(
            TrajectoryStep(len(steps), "paste", coverage, density, mass, len(box.restricted(start)))
        )
    final = len(steps) - 1 if pasted else chosen
    steps[final] = TrajectoryStep(**{**steps[final].__dict__, "chosen": True})
    return box, steps, pasted


def find_boxes(
    x: np.ndarray,
    interest: np.ndarray,
    *,
    min_coverage: float = 0.5,
    max_boxes: int = 2,
    alpha: float = 0.05,
    min_mass: float = 0.05,
    paste_alpha: float | None = None,
    categorical: Sequence[int] = (),
) -> list[PrimBox]:
    """Boxes of ``x`` [n, k] rich in ``interest`` [n] (bool or 0/1); at most ``max_boxes``.

    ``categorical`` lists the inputs whose values are unordered categories. Coverage and
    density reported are over all scenarios (a later box's density over the points outside the
    earlier boxes).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(interest, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be [n, k] and interest [n]; got {x.shape} and {y.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("interest must be boolean (or 0/1)")
    if not np.isfinite(x).all():
        raise ValueError("x must be finite")
    n_total = len(y)
    total_interest = float(y.sum())
    categorical = tuple(sorted(set(categorical)))
    if any(not 0 <= j < x.shape[1] for j in categorical):
        raise ValueError(f"categorical: inputs must lie in 0..{x.shape[1] - 1}")
    start = _Box(
        x.min(axis=0) if n_total else np.zeros(x.shape[1]),
        x.max(axis=0) if n_total else np.zeros(x.shape[1]),
        {j: frozenset(np.unique(x[:, j]).tolist()) for j in categorical},
    )
    boxes: list[PrimBox] = []
    remaining = np.ones(n_total, dtype=bool)
    for _ in range(max_boxes):
        if y[remaining].sum() == 0 or remaining.sum() < 10:
            break
        box, steps, pasted = _find_box(
            x,
            y,
            remaining,
            start,
            n_total=n_total,
            alpha=alpha,
            min_mass=min_mass,
            min_coverage=min_coverage,
            paste_alpha=alpha if paste_alpha is None else paste_alpha,
        )
        in_box = box.contains(x)
        in_remaining = in_box & remaining
        hits = float(y[in_remaining].sum())
        count = int(in_remaining.sum())
        restricted = box.restricted(start)
        boxes.append(
            PrimBox(
                box.low,
                box.high,
                hits / total_interest,
                hits / max(count, 1),
                count / n_total,
                count,
                restricted,
                {j: box.categories[j] for j in box.categories if j in restricted},
                tuple(steps),
                pasted,
            )
        )
        if not restricted:
            break  # the whole space: nothing more to discover
        remaining &= ~in_box
    return boxes
