"""A study's identity: its resolved spec, fixed values (calibrated ones included), the kernel's
version constant and its input data -- not the bytes of source files.

A docstring edit keeps the fingerprint (no million-scenario rerun), a new calibration or a
version bump changes it, and a resumed run refuses to mix chunks of two identities.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from toy_kernel import TOY

from migsys.kernels import registry
from migsys.projections.store import (
    Calibration,
    FitStatistics,
    load_projection_tables,
    save_calibration,
)
from migsys.sweeps import store
from migsys.sweeps.engine import (
    StudyConflict,
    identity_changes,
    prepare_study,
    run_study,
    study_fingerprint,
)
from migsys.sweeps.models import ModelContext
from migsys.sweeps.spec import MissingInputs, UnusableCalibration, parse_spec

pytestmark = pytest.mark.filterwarnings("ignore:.*(Port|port).*:UserWarning")

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def toy():
    with registry.registered(TOY):
        yield TOY


def _toy_spec(**parameters: dict):
    return parse_spec(
        {
            "study": {
                "name": "toy-cal",
                "kernel": "toy_logistic",
                "seed": 5,
                "chunk_size": 30,
                "years": [2000, 2010],
            },
            "design": {"method": "lhs", "n": 90},
            "parameters": {"rate": {"low": 0.05, "high": 0.2}, **parameters},
        }
    )


def _calibrate(home: Path, warehouse: Path, *fits: tuple[dict, datetime, int]) -> None:
    """Store toy calibrations as `migsys calibrate` does and load them like a refresh."""
    for values, stamp, train_until in fits:
        save_calibration(
            Calibration(
                "toy_logistic",
                values,
                {name: 1.0 for name in values},
                FitStatistics("test", 0.1, 0.05, 0.9, 20),
                (1990, train_until),
                train_until,
                "test fit",
                created_at=stamp,
            ),
            home,
        )
    with duckdb.connect(str(warehouse)) as con:
        load_projection_tables(con, home)


def test_a_new_calibration_changes_the_identity_and_a_resume_refuses_to_mix(
    toy, tmp_path: Path, dask_scheduler: str
) -> None:
    warehouse, home = tmp_path / "warehouse.duckdb", tmp_path / "home"
    spec = _toy_spec(capacity={"from": "calibration"}, start={"from": "calibration"})
    with pytest.raises(MissingInputs, match=r"no published warehouse at .*warehouse.duckdb"):
        prepare_study(spec, tmp_path / "sweeps", ModelContext(warehouse))
    _calibrate(
        home,
        warehouse,
        ({"capacity": 120.0, "start": 8.0, "rate": 0.1}, datetime(2026, 1, 1), 2000),
        # A later calibration for another base year is not the one this study takes.
        ({"capacity": 999.0, "start": 1.0, "rate": 0.1}, datetime(2026, 3, 1), 1990),
    )
    context = ModelContext(warehouse)
    first = run_study(
        spec, tmp_path / "sweeps", scheduler=dask_scheduler, progress=False, context=context
    )
    record = json.loads((first.directory / "study.json").read_text())
    assert record["fixed_parameters"] == {"capacity": 120.0, "start": 8.0}
    assert [c["train_until"] for c in record["calibrations"]] == [2000]
    # Interrupt: lose two chunks. Then a newer calibration arrives.
    for start in (0, 60):
        shutil.rmtree(first.directory / "parts" / f"chunk={start:012d}")
    _calibrate(home, warehouse, ({"capacity": 150.0, "start": 8.0}, datetime(2026, 6, 1), 2000))
    prepared = prepare_study(spec, tmp_path / "elsewhere", context)
    assert prepared.fixed == {"capacity": 150.0, "start": 8.0}
    assert prepared.fingerprint != first.fingerprint
    assert identity_changes(record, prepared) == [
        "fixed or calibrated values (capacity 120.0 -> 150.0)"
    ]
    with pytest.raises(StudyConflict, match=r"capacity 120.0 -> 150.0.*cannot be mixed"):
        run_study(
            spec, tmp_path / "sweeps", scheduler=dask_scheduler, progress=False, context=context
        )
    assert store.verify_study(first.directory).scenarios_verified == 30  # nothing was added


def test_chunks_recorded_for_another_fingerprint_are_not_adopted(
    make_spec, sweeps_root: Path, dask_scheduler: str
) -> None:
    spec = make_spec(n=64, chunk_size=100)
    run = run_study(spec, sweeps_root, scheduler=dask_scheduler, progress=False)
    study = store.StudyDir(run.directory)
    lines = study.manifest.read_text().splitlines()
    foreign = json.loads(lines[1]) | {"fingerprint": "f" * 24}
    study.manifest.write_text("\n".join([lines[0], json.dumps(foreign), *lines[2:]]) + "\n")
    check = store.verify_study(run.directory)
    assert not check.ok and not check.unrecorded
    assert "was run for fingerprint ffffffffffff" in check.describe()
    again = run_study(spec, sweeps_root, scheduler=dask_scheduler, progress=False)
    assert again.chunks_run == 1 and store.verify_study(run.directory).loadable


def test_fingerprint_parts(make_spec) -> None:
    spec = make_spec()
    fixed: dict[str, float] = {}
    base = study_fingerprint(spec, fixed, "ishigami-v1", "none")
    assert base == study_fingerprint(make_spec(chunk_size=77), fixed, "ishigami-v1", "none")
    assert base == study_fingerprint(
        make_spec(description="other words"), fixed, "ishigami-v1", "none"
    )
    assert base != study_fingerprint(make_spec(seed=3), fixed, "ishigami-v1", "none")
    assert base != study_fingerprint(spec, {"x3": 0.0}, "ishigami-v1", "none")
    assert base != study_fingerprint(spec, fixed, "ishigami-v2", "none")
    assert base != study_fingerprint(spec, fixed, "ishigami-v1", "data2")


def _fingerprint_from(package_root: Path, tmp_path: Path, env_extra: dict) -> str:
    """Fingerprint of a small Ishigami study computed by the package in ``package_root``."""
    code = (
        "import migsys.sweeps.engine as e, sys; "
        "from migsys.sweeps.spec import load_spec; "
        f"spec = load_spec({str(REPO_ROOT / 'studies' / 'ishigami_sobol.toml')!r}); "
        f"print(e.prepare_study(spec, {str(tmp_path / 'sweeps')!r}).fingerprint); "
        "print(e.__file__, file=sys.stderr)"
    )
    env = os.environ | {"PYTHONPATH": str(package_root)} | env_extra
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().startswith(str(package_root)), done.stderr
    return done.stdout.strip()


def _package_copy(tmp_path: Path) -> Path:
    """The migsys package laid out as an installed wheel would be, from this checkout."""
    root = tmp_path / "site"
    package = root / "migsys"
    shutil.copytree(REPO_ROOT / "migsys", package)
    for folder in ("kernels", "sweeps", "warehouse", "projections", "flows", "studies"):
        shutil.copytree(
            REPO_ROOT / folder, package / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


def test_docstring_edits_keep_the_fingerprint_a_version_bump_does_not(tmp_path: Path) -> None:
    root = _package_copy(tmp_path)
    before = _fingerprint_from(root, tmp_path, {})
    for relative in ("kernels/remittances.py", "sweeps/engine.py", "sweeps/testfunctions.py"):
        path = root / "migsys" / relative
        text = path.read_text()
        path.write_text(text.replace('"""', '"""Edited docstring. ', 1))
    assert _fingerprint_from(root, tmp_path, {}) == before
    registry_file = root / "migsys" / "kernels" / "registry.py"
    text = registry_file.read_text()
    bumped = text.replace(
        'name="ishigami",\n        version=1,', 'name="ishigami",\n        version=2,'
    )
    assert bumped != text
    registry_file.write_text(bumped)
    assert _fingerprint_from(root, tmp_path, {}) != before


def test_a_kernel_version_bump_refuses_to_resume(toy, tmp_path: Path, dask_scheduler: str) -> None:
    spec = _toy_spec()
    run = run_study(spec, tmp_path / "sweeps", scheduler=dask_scheduler, progress=False)
    registry.unregister(TOY.name)
    registry.register(dataclasses.replace(TOY, version=2))
    try:
        with pytest.raises(
            StudyConflict, match=r"kernel version \(toy_logistic-v1 -> toy_logistic-v2\)"
        ):
            run_study(spec, tmp_path / "sweeps", scheduler=dask_scheduler, progress=False)
    finally:
        registry.unregister(TOY.name)
        registry.register(TOY)
    assert store.verify_study(run.directory).loadable


def test_a_spread_around_a_zero_fit_is_skipped_by_the_nightly_with_the_reason(
    toy, tmp_path: Path
) -> None:
    warehouse, home = tmp_path / "warehouse.duckdb", tmp_path / "home"
    _calibrate(home, warehouse, ({"capacity": 120.0, "start": 0.0}, datetime(2026, 1, 1), 2000))
    spec = _toy_spec(start={"from": "calibration", "relative_spread": 0.5})
    with pytest.raises(UnusableCalibration, match=r"relative_spread around a fitted value of 0.0"):
        prepare_study(spec, tmp_path / "sweeps", ModelContext(warehouse))
