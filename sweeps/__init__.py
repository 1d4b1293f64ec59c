"""Sensitivity studies: specs, designs, evaluators, analysis, warehouse loading and export.

A small study in a notebook, in memory, with no cluster and nothing written::

    >>> from migsys import sweeps
    >>> spec = {"study": {"name": "demo", "kernel": "ishigami", "seed": 1},
    ...         "design": {"method": "sobol", "n": 256},
    ...         "parameters": {f"x{i}": {"low": -3.14159, "high": 3.14159} for i in (1, 2, 3)}}
    >>> results = sweeps.run(spec)          # one row per scenario: scenario_id, x1..x3, y

Stored, resumable studies on Dask or Slurm workers are ``migsys sweep run`` (:mod:`.engine`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from migsys.sweeps.evaluators import Evaluator
    from migsys.sweeps.spec import StudySpec


def run(
    spec: StudySpec | Mapping | str | Path,
    *,
    warehouse: str | Path | None = None,
    evaluator: Evaluator | None = None,
) -> pd.DataFrame:
    """Run a study in memory and return its results: one row per scenario, ``scenario_id``, the
    swept parameters, each kept scalar and one ``<series>__<year>`` column per year of each kept
    series (the columns of a stored study's parts, and the same numbers).

    ``spec`` is a :class:`~migsys.sweeps.spec.StudySpec`, the dict of a spec's TOML tables, or
    the path of a spec file. ``warehouse`` is the published ``warehouse.duckdb`` for kernels that
    read data or calibrations (e.g. ``migsys.find_home() / "warehouse.duckdb"``). Chunks run in
    this process unless an ``evaluator`` (:mod:`migsys.sweeps.evaluators`) says otherwise.
    """
    from migsys.sweeps.engine import run_in_memory
    from migsys.sweeps.models import ModelContext
    from migsys.sweeps.spec import StudySpec, load_spec, parse_spec

    if isinstance(spec, Mapping):
        spec = parse_spec(dict(spec), "<spec>")
    elif not isinstance(spec, StudySpec):
        spec = load_spec(spec)
    context = ModelContext(None if warehouse is None else Path(warehouse))
    return run_in_memory(spec, context, evaluator).to_pandas()
