"""A study's identity: its resolved spec, fixed values (calibrated ones included), the code of
its kernel and of the design (syntax, not bytes) and its input data.

A docstring edit keeps the fingerprint (no million-scenario rerun), a new calibration or an edit
of the kernel's code changes it, with no version to bump, and a resumed run refuses to mix
chunks of two identities.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from toy_kernel import TOY

from migsys.projections.store import (
    Calibration,
    FitStatistics,
    load_projection_tables,
    save_calibration,
)
from migsys.sweeps import registry, store
from migsys.sweeps.engine import (
    StudyConflict,
    identity_changes,
    prepare_study,
    run_study,
    study_fingerprint,
)
from migsys.sweeps.evaluators import InProcess
from migsys.sweeps.models import ModelContext
from migsys.sweeps.spec import MissingInputs, UnusableCalibration, parse_spec

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
    toy, tmp_path: Path
) -> None:
    warehouse, home = tmp_path / "warehouse.duckdb", tmp_path / "home"
    spec = _toy_spec(capacity={"from": "calibration"}, start={"from": "calibration"})
    with pytest.raises(MissingInputs, match=r"no published warehouse at .*warehouse.duckdb"):
        prepare_study(spec, ModelContext(warehouse))
    _calibrate(
        home,
        warehouse,
        ({"capacity": 120.0, "start": 8.0, "rate": 0.1}, datetime(2026, 1, 1), 2000),
        # A later calibration for another base year is not the one this study takes.
        ({"capacity": 999.0, "start": 1.0, "rate": 0.1}, datetime(2026, 3, 1), 1990),
    )
    context = ModelContext(warehouse)
    first = run_study(
        spec, tmp_path / "sweeps", evaluator=InProcess(), progress=False, context=context
    )
    record = json.loads((first.directory / "study.json").read_text())
    assert record["fixed_parameters"] == {"capacity": 120.0, "start": 8.0}
    assert [c["train_until"] for c in record["calibrations"]] == [2000]
    # Interrupt: lose two chunks. Then a newer calibration arrives.
    for start in (0, 60):
        shutil.rmtree(first.directory / "parts" / f"chunk={start:012d}")
    _calibrate(home, warehouse, ({"capacity": 150.0, "start": 8.0}, datetime(2026, 6, 1), 2000))
    prepared = prepare_study(spec, context)
    assert prepared.fixed == {"capacity": 150.0, "start": 8.0}
    assert prepared.fingerprint != first.fingerprint
    assert identity_changes(record, prepared) == [
        "fixed or calibrated values (capacity 120.0 -> 150.0)"
    ]
    with pytest.raises(StudyConflict, match=r"capacity 120.0 -> 150.0.*cannot be mixed"):
        run_study(spec, tmp_path / "sweeps", evaluator=InProcess(), progress=False, context=context)
    assert store.verify_study(first.directory).scenarios_verified == 30  # nothing was added


def test_chunks_recorded_for_another_fingerprint_are_not_adopted(
    make_spec, sweeps_root: Path
) -> None:
    spec = make_spec(n=64, chunk_size=100)
    run = run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    study = store.StudyDir(run.directory)
    lines = study.manifest.read_text().splitlines()
    foreign = json.loads(lines[1]) | {"fingerprint": "f" * 24}
    study.manifest.write_text("\n".join([lines[0], json.dumps(foreign), *lines[2:]]) + "\n")
    check = store.verify_study(run.directory)
    assert not check.ok and not check.unrecorded
    assert "was run for fingerprint ffffffffffff" in check.describe()
    again = run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    assert again.chunks_run == 1 and store.verify_study(run.directory).loadable


def test_fingerprint_parts(make_spec) -> None:
    spec = make_spec()
    fixed: dict[str, float] = {}
    code = "ishigami-0123456789ab"
    base = study_fingerprint(spec, fixed, code, "none")
    assert base == study_fingerprint(make_spec(chunk_size=77), fixed, code, "none")
    assert base == study_fingerprint(make_spec(description="other words"), fixed, code, "none")
    assert base != study_fingerprint(make_spec(seed=3), fixed, code, "none")
    assert base != study_fingerprint(spec, {"x3": 0.0}, code, "none")
    assert base != study_fingerprint(spec, fixed, "ishigami-ba9876543210", "none")
    assert base != study_fingerprint(spec, fixed, code, "data2")


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


# Run by a Python whose migsys is the copy: the fingerprint of a small Ishigami study, then
# again after docstring edits, then after an edit of a kernel's code.
_EDITS = """
import sys
from pathlib import Path
import migsys.sweeps.engine as e
from migsys.sweeps.spec import load_spec
assert e.__file__.startswith(sys.argv[1]), e.__file__
site = Path(sys.argv[1]) / "migsys"
spec = load_spec(site / "studies" / "ishigami_sobol.toml")
print(e.prepare_study(spec).fingerprint)
for relative in ("kernels/depopulation_step.py", "sweeps/design.py", "sweeps/testfunctions.py"):
    path = site / relative
    path.write_text(path.read_text().replace('\"\"\"', '\"\"\"Edited docstring. ', 1))
print(e.prepare_study(spec).fingerprint)
path = site / "sweeps" / "testfunctions.py"
text = path.read_text()
assert "ISHIGAMI_A = 7.0" in text
path.write_text(text.replace("ISHIGAMI_A = 7.0", "ISHIGAMI_A = 7.5"))
print(e.prepare_study(spec).fingerprint)
"""


def test_docstring_edits_keep_the_fingerprint_a_code_edit_does_not(tmp_path: Path) -> None:
    """In an installed layout (site-packages/migsys/...), with no version constant anywhere."""
    root = _package_copy(tmp_path)
    env = os.environ | {"PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", _EDITS, str(root)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    before, after_docstrings, after_code = done.stdout.split()
    assert after_docstrings == before
    assert after_code != before


@pytest.fixture()
def editable_toy(tmp_path: Path, monkeypatch):
    """The toy kernel as a module of its own in ``tmp_path`` (to be edited), registered."""
    name = f"toy_{uuid.uuid4().hex[:8]}"
    here = Path(__file__).parent
    source = tmp_path / f"{name}.py"
    source.write_text((here / "toy_kernel.py").read_text())
    shutil.copy(here / "toy_kernel.csv", tmp_path / "toy_kernel.csv")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    with registry.registered(module.TOY):
        yield source
    del sys.modules[name]


def test_an_edit_of_the_kernels_code_refuses_to_resume_a_docstring_edit_does_not(
    editable_toy: Path, tmp_path: Path
) -> None:
    spec = _toy_spec()
    root = tmp_path / "sweeps"
    run = run_study(spec, root, evaluator=InProcess(), progress=False)
    # A study interrupted: one chunk lost. A docstring and a comment change: it resumes.
    shutil.rmtree(run.directory / "parts" / "chunk=000000000030")
    text = editable_toy.read_text()
    edited = text.replace('"""Stock of each scenario', '"""The stock of each scenario', 1)
    edited = edited.replace("    n_years = years[1]", "    # the grid\n    n_years = years[1]", 1)
    assert edited != text
    editable_toy.write_text(edited)
    resumed = run_study(spec, root, evaluator=InProcess(), progress=False)
    assert resumed.chunks_run == 1 and resumed.fingerprint == run.fingerprint
    # An edit of what the kernel computes: no version to bump, the study refuses to mix.
    shutil.rmtree(run.directory / "parts" / "chunk=000000000030")
    editable_toy.write_text(
        edited.replace("(1.0 - previous / capacity)", "(1.0 - previous / capacity) ** 1.1")
    )
    with pytest.raises(StudyConflict, match=r"changed: kernel or design code \(toy_logistic-"):
        run_study(spec, root, evaluator=InProcess(), progress=False)
    assert store.verify_study(run.directory).scenarios_verified == 60  # nothing was added


def test_a_spread_around_a_zero_fit_is_skipped_by_the_nightly_with_the_reason(
    toy, tmp_path: Path
) -> None:
    warehouse, home = tmp_path / "warehouse.duckdb", tmp_path / "home"
    _calibrate(home, warehouse, ({"capacity": 120.0, "start": 0.0}, datetime(2026, 1, 1), 2000))
    spec = _toy_spec(start={"from": "calibration", "relative_spread": 0.5})
    with pytest.raises(UnusableCalibration, match=r"relative_spread around a fitted value of 0.0"):
        prepare_study(spec, ModelContext(warehouse))
