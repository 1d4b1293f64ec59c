"""Standing studies of the nightly refresh: whether each must run tonight, and running it safely.

A standing study runs only when its identity changed (spec, kernel code, calibration, input
data: the sweep engine's fingerprint). It runs in a staging folder keyed by that fingerprint and
replaces its published results only once complete and analysed, so a killed run resumes next
night and the old results stay loadable meanwhile.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from migsys.warehouse.files import swap_directory


@dataclass(frozen=True)
class StudyPlan:
    """Whether a standing study must run, and why (said in the log and the summary)."""

    name: str
    spec_path: Path
    fingerprint: str
    action: Literal["run", "skip"]
    reason: str
    workers: int | None = None
    forced: bool = False


@dataclass(frozen=True)
class StudyOutcome:
    name: str
    action: Literal["run", "skip"]
    reason: str
    scenarios_run: int = 0
    seconds: float = 0.0


def _staging_root(sweeps_root: Path, key: str) -> Path:
    """Where a study runs before it replaces its published results (outside ``sweeps_root``)."""
    return sweeps_root.parent / "sweeps-staging" / key


def previous_study_record(sweeps_root: Path, name: str) -> dict | None:
    """``study.json`` of the last run of a study, or None if it never finished one."""
    from migsys.sweeps import store

    directory = store.StudyDir(sweeps_root / name)
    if not directory.study_file.exists():
        return None
    return store.read_json(directory.study_file)


def plan_standing_study(
    spec_path: Path, sweeps_root: Path, warehouse: Path, *, rerun: bool, workers: int | None = None
) -> StudyPlan:
    """Run a study only when its spec, kernel code or input-data fingerprint changed.

    ``warehouse`` is the new build: the model's data fingerprint is computed on the inputs the
    study would use tonight.
    """
    from migsys.sweeps.engine import identity_changes, prepare_study
    from migsys.sweeps.models import ModelContext
    from migsys.sweeps.spec import MissingInputs, load_spec
    from migsys.sweeps.store import verify_study

    spec = load_spec(spec_path)
    # The engine's own fingerprint (spec, kernel code, model input data); a changed study is
    # reported here rather than refused as a conflict.
    try:
        prepared = prepare_study(spec, ModelContext(warehouse))
    except MissingInputs as error:
        # A night without the sources a kernel reads (e.g. the embedded default) still publishes;
        # the study waits for its data instead of failing the whole refresh.
        reason = f"inputs absent from tonight's warehouse: {error}"
        return StudyPlan(spec.name, spec_path, "", "skip", reason, workers, rerun)
    fingerprint = prepared.fingerprint
    previous = previous_study_record(sweeps_root, spec.name)

    def plan(action: Literal["run", "skip"], reason: str) -> StudyPlan:
        return StudyPlan(spec.name, spec_path, fingerprint, action, reason, workers, rerun)

    if rerun:
        return plan("run", "forced with --rerun-studies")
    if previous is None:
        return plan("run", "never run before")
    if previous.get("state") != "finished":
        return plan("run", f"last run did not finish (state {previous.get('state')!r})")
    check = verify_study(sweeps_root / spec.name)
    if not check.loadable:
        return plan("run", f"stored results do not verify: {check.reason()}")
    if not analysis_present(sweeps_root / spec.name):
        return plan("run", "last run has no analysis")
    changes = identity_changes(previous, prepared)
    if not changes:
        return plan("skip", "spec, kernel code, calibration and input data unchanged")
    return plan("run", "changed: " + "; ".join(changes))


def folder_of_old_name(sweeps_root: Path, name: str) -> Path | None:
    """Results of this study stored under the name it had before study names took hyphens
    (``remittances_nightly`` for ``remittances-nightly``): still loaded, never refreshed."""
    old = sweeps_root / name.replace("-", "_")
    return old if old.name != name and old.is_dir() else None


def analysis_present(study_dir: Path) -> bool:
    """Whether the study's analysis was written for its current results."""
    from migsys.sweeps import store
    from migsys.sweeps.analysis import read_analysis_meta

    study = store.StudyDir(study_dir)
    meta = read_analysis_meta(study)
    if meta is None or not study.study_file.exists():
        return False
    return meta.get("fingerprint") == store.read_json(study.study_file).get("fingerprint")


def run_standing_study(
    plan: StudyPlan, sweeps_root: Path, warehouse: Path, *, scheduler: str | None = None
) -> StudyOutcome:
    """Run and analyse a study in a staging folder, then swap it in place of the old results.

    Staging is keyed by fingerprint: a run killed half-way resumes there next night, and the old
    results stay whole (and loadable) until the new ones are complete and analysed.
    """
    from migsys.sweeps.analysis import analyze_study
    from migsys.sweeps.engine import run_study
    from migsys.sweeps.models import ModelContext
    from migsys.sweeps.spec import load_spec

    spec = load_spec(plan.spec_path)
    staging_root = _staging_root(sweeps_root, plan.fingerprint[:16])
    # Leftovers of killed runs: other fingerprints of this study can never be resumed.
    for leftover in staging_root.parent.glob(f"*/{spec.name}"):
        if leftover.parent != staging_root or plan.forced:
            shutil.rmtree(leftover, ignore_errors=True)
            with contextlib.suppress(OSError):  # still holds another study's resumable run
                leftover.parent.rmdir()
    context = ModelContext(warehouse=warehouse)
    run = run_study(
        spec,
        staging_root,
        workers=plan.workers,
        scheduler=scheduler,
        progress=False,
        context=context,
    )
    analyze_study(staging_root, spec)
    # Not flushed again: the study's own writes are (its parts are checked by their sha256).
    swap_directory(staging_root / spec.name, sweeps_root / spec.name, durable=False)
    shutil.rmtree(staging_root, ignore_errors=True)
    with contextlib.suppress(OSError):  # other studies may still be staged there
        staging_root.parent.rmdir()
    return StudyOutcome(plan.name, "run", plan.reason, run.scenarios_run, round(run.seconds, 3))
