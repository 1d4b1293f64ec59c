"""Designs are library designs, deterministic per scenario whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest
from SALib.sample import morris, sobol
from scipy import stats
from scipy.stats import qmc

from migsys.sweeps import design
from migsys.sweeps.spec import parse_spec
from migsys.sweeps.store import missing_ranges


def _spec(method: dict, parameters: dict | None = None, seed: int = 5, kernel: str = "sobol_g"):
    parameters = parameters or {f"x{i}": {"low": 0.0, "high": 1.0} for i in (1, 2, 3)}
    return parse_spec(
        {
            "study": {"name": "d", "kernel": kernel, "seed": seed},
            "design": method,
            "parameters": parameters,
        }
    )


@pytest.mark.parametrize("second_order", [False, True])
@pytest.mark.parametrize("chunk", [1, 37, 1000])
def test_chunked_sobol_design_equals_salib_bitwise(second_order: bool, chunk: int) -> None:
    spec = _spec({"method": "sobol", "n": 128, "second_order": second_order})
    expected = sobol.sample(design.unit_problem(spec), 128, calc_second_order=second_order, seed=5)
    n = spec.n_scenarios
    rows = np.concatenate(
        [design.unit_rows(spec, a, min(a + chunk, n)) for a in range(0, n, chunk)]
    )
    assert np.array_equal(rows, expected)


def test_lhs_and_morris_come_from_the_libraries() -> None:
    lhs = _spec({"method": "lhs", "n": 50})
    assert np.array_equal(design.unit_rows(lhs, 0, 50), qmc.LatinHypercube(d=3, seed=5).random(50))
    mor = _spec({"method": "morris", "n": 6, "levels": 4})
    expected = morris.sample(design.unit_problem(mor), 6, num_levels=4, seed=5)
    assert np.array_equal(design.unit_rows(mor, 0, mor.n_scenarios), expected)


def test_grid_covers_every_combination() -> None:
    spec = _spec({"method": "grid", "levels": 3})
    rows = design.unit_rows(spec, 0, spec.n_scenarios)
    assert rows.shape == (27, 3)
    assert len({tuple(r) for r in rows}) == 27


def test_distributions_map_through_inverse_cdfs() -> None:
    parameters = {
        "x1": {"low": 2.0, "high": 4.0},
        "x2": {"distribution": "normal", "mean": 1.0, "sd": 0.5},
        "x3": {"distribution": "triangular", "low": 0.0, "high": 1.0, "mode": 0.2},
    }
    spec = _spec({"method": "lhs", "n": 4000}, parameters, kernel="ishigami")
    values = design.scenario_values(spec, 0, 4000)
    assert values[:, 0].min() >= 2.0 and values[:, 0].max() <= 4.0
    assert stats.kstest(values[:, 1], "norm", args=(1.0, 0.5)).pvalue > 0.01
    assert stats.kstest(values[:, 2], "triang", args=(0.2, 0.0, 1.0)).pvalue > 0.01


def test_truncated_normal_stays_within_its_bounds() -> None:
    parameters = {"x1": {"distribution": "normal", "mean": 0.5, "sd": 0.3, "low": 0.0, "high": 1.0}}
    spec = _spec({"method": "lhs", "n": 4000}, parameters)
    values = design.scenario_values(spec, 0, 4000)[:, 0]
    assert values.min() >= 0.0 and values.max() <= 1.0
    shape = ((0.0 - 0.5) / 0.3, (1.0 - 0.5) / 0.3)
    assert stats.kstest(values, "truncnorm", args=(*shape, 0.5, 0.3)).pvalue > 0.01


def test_out_of_range_request_is_refused() -> None:
    spec = _spec({"method": "lhs", "n": 10})
    with pytest.raises(ValueError, match="scenario range 5..11 outside 0..10"):
        design.unit_rows(spec, 5, 11)


def test_missing_ranges_fill_gaps_with_new_chunk_size() -> None:
    assert missing_ranges([], 10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert missing_ranges([(0, 3), (6, 9)], 10, 2) == [(3, 5), (5, 6), (9, 10)]
    assert missing_ranges([(0, 10)], 10, 3) == []
