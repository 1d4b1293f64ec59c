"""Fixtures of the sweeps tests: one small local Dask cluster shared by the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from migsys.sweeps.spec import StudySpec, parse_spec


@pytest.fixture(scope="session")
def dask_scheduler() -> str:
    """Address of a 2-worker local process cluster (started once, closed at the end)."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


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
