"""Fixtures of the sweeps tests: small study specs and a folder for their results.

Studies run in this process (``sweeps.evaluators.InProcess``) unless a test is about Dask or
Slurm itself: the results are the same on every evaluator (``test_sweeps_engine``,
``test_sweeps_slurm``), and no cluster is started for the others.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migsys.sweeps.spec import StudySpec, parse_spec


def small_ishigami_spec(**overrides: object) -> StudySpec:
    """A small Ishigami Sobol study; keyword overrides replace [study]/[design] keys."""
    pi = 3.141592653589793
    study = {"name": "ishigami-test", "kernel": "ishigami", "seed": 11, "chunk_size": 1000}
    design = {"method": "sobol", "n": 2048}
    for key, value in overrides.items():
        (design if key in ("method", "n", "levels", "second_order") else study)[key] = value
    parameters = {f"x{i}": {"low": -pi, "high": pi} for i in (1, 2, 3)}
    return parse_spec({"study": study, "design": design, "parameters": parameters})


@pytest.fixture()
def sweeps_root(tmp_path: Path) -> Path:
    root = tmp_path / "sweeps"
    root.mkdir()
    return root


@pytest.fixture()
def make_spec():
    """Factory of small Ishigami Sobol specs (see ``small_ishigami_spec``)."""
    return small_ishigami_spec
