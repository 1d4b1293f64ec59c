"""Designs: which parameter values each scenario gets, deterministic from the spec.

Scenario ``i`` always gets the same values whatever the chunking. Sobol studies (the big ones)
are generated chunk by chunk: the Saltelli base rows come from ``scipy.stats.qmc.Sobol`` fast-
forwarded to the chunk, laid out exactly as ``SALib.sample.sobol.sample`` does (a test checks the
two agree bitwise), so a million-scenario design never sits in memory. LHS (scipy.stats.qmc),
Morris (SALib) and grid designs are generated whole once per process and sliced.
"""

from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np
from scipy import stats
from scipy.stats import qmc

from migsys.sweeps.spec import NORMAL_TAIL, ParameterSpec, StudySpec


def unit_problem(spec: StudySpec) -> dict:
    """The SALib problem in the unit cube (designs are transformed to parameter scale after)."""
    names = list(spec.swept_names)
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def _sobol_rows_per_base(spec: StudySpec) -> int:
    k = len(spec.swept_names)
    return 2 * k + 2 if spec.design.second_order else k + 2


def _saltelli_block(base: np.ndarray, k: int, second_order: bool) -> np.ndarray:
    """SALib's Saltelli layout for base rows ``base`` [b, 2k]: A, AB_j..., (BA_j...), B."""
    a, b = base[:, :k], base[:, k:]
    blocks = [a]
    for j in range(k):
        ab = a.copy()
        ab[:, j] = b[:, j]
        blocks.append(ab)
    if second_order:
        for j in range(k):
            ba = b.copy()
            ba[:, j] = a[:, j]
            blocks.append(ba)
    blocks.append(b)
    # [rows_per_base, b, k] -> base-major order, as SALib writes them.
    return np.stack(blocks, axis=1).reshape(-1, k)


def _sobol_unit_rows(spec: StudySpec, start: int, stop: int) -> np.ndarray:
    k = len(spec.swept_names)
    per_base = _sobol_rows_per_base(spec)
    first_base, last_base = start // per_base, (stop - 1) // per_base + 1
    engine = qmc.Sobol(d=2 * k, scramble=True, seed=spec.seed)
    if first_base:
        engine.fast_forward(first_base)
    with warnings.catch_warnings():
        # A chunk is a slice of a power-of-2 sequence: the whole design keeps its balance.
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        base = engine.random(last_base - first_base)
    block = _saltelli_block(base, k, spec.design.second_order)
    offset = first_base * per_base
    return block[start - offset : stop - offset]


def _whole_unit_design(spec: StudySpec) -> np.ndarray:
    """Whole LHS/Morris/grid design, cached per process (a worker runs many chunks of one study)."""
    return _cached_whole_design(spec.model_dump_json(by_alias=True))


@functools.lru_cache(maxsize=4)
def _cached_whole_design(spec_json: str) -> np.ndarray:
    spec = StudySpec.model_validate_json(spec_json)
    k = len(spec.swept_names)
    method = spec.design.method
    if method == "lhs":
        return qmc.LatinHypercube(d=k, seed=spec.seed).random(spec.design.n)
    if method == "morris":
        from SALib.sample import morris as morris_sample  # pandas-heavy: only where needed

        levels = spec.design.levels or 4
        return morris_sample.sample(
            unit_problem(spec), spec.design.n, num_levels=levels, seed=spec.seed
        )
    if method == "grid":
        axis = np.linspace(0.0, 1.0, spec.design.levels)
        return np.array(list(itertools.product(axis, repeat=k)), dtype=np.float64)
    raise ValueError(f"design {method} is generated per chunk")


def unit_rows(spec: StudySpec, start: int, stop: int) -> np.ndarray:
    """Unit-cube design rows of scenarios ``start..stop-1`` [m, k swept]."""
    if not 0 <= start < stop <= spec.n_scenarios:
        raise ValueError(f"scenario range {start}..{stop} outside 0..{spec.n_scenarios}")
    if spec.design.method == "sobol":
        return _sobol_unit_rows(spec, start, stop)
    return _whole_unit_design(spec)[start:stop]


def to_parameter_scale(unit: np.ndarray, parameter: ParameterSpec) -> np.ndarray:
    """Map unit-cube values onto the parameter's bounds or distribution (inverse CDF)."""
    kind = parameter.kind
    if kind == "uniform":
        return parameter.low + unit * (parameter.high - parameter.low)
    if kind == "triangular":
        width = parameter.high - parameter.low
        shape = (parameter.mode - parameter.low) / width
        return stats.triang.ppf(unit, shape, loc=parameter.low, scale=width)
    # The inverse CDF at exactly 0 or 1 is infinite; spec checks rely on this clip (NORMAL_TAIL).
    clipped = np.clip(unit, NORMAL_TAIL, 1.0 - NORMAL_TAIL)
    if parameter.low is None and parameter.high is None:
        return stats.norm.ppf(clipped, loc=parameter.mean, scale=parameter.sd)
    a = -np.inf if parameter.low is None else (parameter.low - parameter.mean) / parameter.sd
    b = np.inf if parameter.high is None else (parameter.high - parameter.mean) / parameter.sd
    return stats.truncnorm.ppf(clipped, a, b, loc=parameter.mean, scale=parameter.sd)


def scenario_values(spec: StudySpec, start: int, stop: int) -> np.ndarray:
    """Swept parameter values of scenarios ``start..stop-1`` [m, k swept], in spec order."""
    unit = unit_rows(spec, start, stop)
    columns = [
        to_parameter_scale(unit[:, j], spec.parameters[name])
        for j, name in enumerate(spec.swept_names)
    ]
    return np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)
