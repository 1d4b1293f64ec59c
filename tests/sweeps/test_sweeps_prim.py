"""PRIM by Friedman & Fisher (1999): planted boxes in continuous, discrete and mixed designs,
pasting, covering, and the discrete case that used to return the whole space."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from migsys.sweeps.prim import find_boxes

LEVELS = np.array([0.0, 1 / 3, 2 / 3, 1.0])


def test_continuous_planted_box() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (20_000, 4))
    interest = (x[:, 0] > 0.6) & (x[:, 2] < 0.3)
    box = find_boxes(x, interest, min_coverage=0.8, max_boxes=1)[0]
    assert box.restricted == (0, 2)
    assert box.low[0] == pytest.approx(0.6, abs=0.02) and box.high[2] == pytest.approx(
        0.3, abs=0.02
    )
    assert box.coverage >= 0.9 and box.density >= 0.95
    assert box.low[1] == x[:, 1].min() and box.high[3] == x[:, 3].max()


def test_four_level_grid_with_a_perfect_planted_box() -> None:
    """The case of the issue: on 4-level data the 5 % quantile is the lowest level, so peeling
    by quantile alone removed nothing and PRIM returned the whole space."""
    x = np.array(list(itertools.product(LEVELS, repeat=4)))
    interest = (x[:, 0] >= 2 / 3) & (x[:, 3] <= 1 / 3)
    box = find_boxes(x, interest, min_coverage=0.9, max_boxes=1)[0]
    assert box.restricted == (0, 3)
    assert (box.low[0], box.high[0]) == (2 / 3, 1.0)
    assert (box.low[3], box.high[3]) == (0.0, 1 / 3)
    assert (box.coverage, box.density) == (1.0, 1.0)
    assert box.mass == pytest.approx(0.25)


def test_mixed_design_with_a_categorical_input() -> None:
    rng = np.random.default_rng(1)
    n = 12_000
    x = np.column_stack(
        [
            rng.uniform(size=n),  # continuous
            rng.choice(LEVELS, n),  # ordered, four levels
            rng.choice([0.0, 1.0, 2.0, 3.0, 4.0], n),  # categorical: codes with no order
            rng.uniform(size=n),  # irrelevant
        ]
    )
    interest = (x[:, 0] < 0.5) & (x[:, 1] >= 1 / 3) & np.isin(x[:, 2], [1.0, 3.0])
    box = find_boxes(x, interest, min_coverage=0.9, max_boxes=1, categorical=[2], min_mass=0.02)[0]
    assert box.restricted == (0, 1, 2)
    assert box.high[0] == pytest.approx(0.5, abs=0.02)
    assert box.low[1] == 1 / 3
    assert box.categories == {2: frozenset({1.0, 3.0})}  # not an interval: 2.0 is left out
    assert box.coverage >= 0.95 and box.density >= 0.97


def test_pasting_gives_back_what_a_coarse_peel_took() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(20_000, 3))
    interest = (x[:, 0] > 0.1) & (x[:, 1] > 0.5)
    box = find_boxes(x, interest, max_boxes=1, alpha=0.2, paste_alpha=0.01, min_coverage=0.5)[0]
    peeled = next(step for step in box.trajectory if step.phase == "peel" and step.density == 1.0)
    assert box.pasted > 0 and peeled.coverage < 0.8
    assert box.low[0] == pytest.approx(0.1, abs=0.01)  # peeling alone stopped near 0.2
    assert box.coverage > 0.98 and box.density == 1.0
    phases = [step.phase for step in box.trajectory]
    assert phases[0] == "start" and phases[-1] == "paste" and box.trajectory[-1].chosen


def test_covering_finds_a_second_box() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(20_000, 3))
    first = x[:, 0] > 0.8
    second = (x[:, 0] < 0.5) & (x[:, 1] < 0.2)
    boxes = find_boxes(x, first | second, max_boxes=2, min_coverage=0.3)
    assert [b.restricted for b in boxes] == [(0,), (0, 1)]
    assert boxes[0].low[0] == pytest.approx(0.8, abs=0.01)
    assert boxes[1].high[0] == pytest.approx(0.5, abs=0.03)
    assert boxes[1].high[1] == pytest.approx(0.2, abs=0.01)
    assert sum(b.coverage for b in boxes) > 0.97 and all(b.density == 1.0 for b in boxes)


def test_nothing_to_find_returns_the_whole_space() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(5_000, 2))
    box = find_boxes(x, rng.uniform(size=5_000) < 0.3, min_coverage=0.99, max_boxes=2)
    assert len(box) == 1 and box[0].restricted == ()


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="interest must be boolean"):
        find_boxes(np.zeros((20, 2)), np.full(20, 0.5))
    with pytest.raises(ValueError, match="x must be finite"):
        find_boxes(np.full((20, 2), np.nan), np.zeros(20, dtype=bool))
    with pytest.raises(ValueError, match="categorical: inputs must lie in 0..1"):
        find_boxes(np.zeros((20, 2)), np.zeros(20, dtype=bool), categorical=[2])
