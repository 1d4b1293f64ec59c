"""The refresh as one composition of the plain steps (``flows.steps``).

``refresh_pipeline`` puts the steps in order and decides what to skip; the step runner decides how
a step is called: as a Prefect task (``flows.nightly``, what every entry point runs) or as a plain
call (``run_plain``, the bench's yardstick for the cost of orchestration). This module does not
import Prefect.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migsys.flows import steps
from migsys.flows.config import NightlySettings, load_nightly_config
from migsys.flows.planning import (
    StudyOutcome,
    folder_of_old_name,
    plan_standing_study,
    run_standing_study,
)
from migsys.flows.runner import PlainSteps, StepRunner
from migsys.warehouse.publish import (
    cleaned_up_on_disk_full,
    prepare_build,
    refresh_lock,
    write_run_record,
)


@dataclass
class NightlyResult:
    """What a successful nightly run produced."""

    build_id: str
    warehouse: Path
    report: Path
    studies: list[StudyOutcome]
    summary: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    rebuilt: bool = True  # False when the inputs were unchanged and the warehouse was kept


def refresh_pipeline(settings: NightlySettings, step: StepRunner) -> NightlyResult:
    """Fetch, ingest, build and test, refresh the standing studies, guard, publish, report."""
    config = load_nightly_config(settings.config_file)
    paths, policy = settings.paths, settings.guard_policy(config)
    step.begin(paths)
    if config.fetch.enabled if settings.fetch is None else settings.fetch:
        step("fetch", steps.fetch_step, paths, retries=config.fetch)
    with refresh_lock(paths, settings.lock_wait_seconds), cleaned_up_on_disk_full(paths):
        found = step(
            "check sources", steps.preflight_step, paths, policy,
            sources_explicit=settings.sources_explicit,
        )  # fmt: skip
        if found.damage:
            step.note(found.note(paths))
        published = found.profile
        build = step("prepare build", prepare_build, paths, project_dir=settings.dbt_project)
        step.note(step("ingest", steps.ingest_step, build, paths).origin_line())
        step("guard sources", steps.guard_sources_step, build, published, policy, paths.sources)
        extras = step("load study results", steps.load_extras_step, build, paths)
        inputs = steps.warehouse_inputs_fingerprint(build.database)
        rebuild = (
            settings.rebuild
            or found.damage is not None  # never reuse a damaged file, nor read it
            or inputs != steps.published_inputs_fingerprint(paths)
        )
        dbt = step.dbt(build, paths) if rebuild else None
        # Studies read tonight's data: the new build, or the published file it would equal.
        study_inputs = build.database if rebuild else paths.warehouse
        specs = [study.spec for study in config.studies]
        if step("calibrate", steps.calibrations_step, study_inputs, paths, specs):
            # New calibrations join the build (the studies read them there).
            extras = step("load study results", steps.load_extras_step, build, paths)
            inputs = steps.warehouse_inputs_fingerprint(build.database)
            dbt, rebuild, study_inputs = dbt or step.dbt(build, paths), True, build.database
        outcomes = [
            _standing_study(step, spec.spec, settings, study_inputs, spec.workers)
            for spec in config.studies
        ]
        if any(outcome.action == "run" for outcome in outcomes):
            # Fresh results replace the ones loaded before; they must reach the warehouse.
            extras = step("load study results", steps.load_extras_step, build, paths)
            inputs = steps.warehouse_inputs_fingerprint(build.database)
            dbt, rebuild = dbt or step.dbt(build, paths), True
        checks = []
        if rebuild:
            checks = step("guard", steps.guard_step, build, published, policy, paths.sources)
            step("docs", steps.docs_step, build, paths)
            step("publish", steps.publish_step, build, paths, policy)
            steps.record_inputs_fingerprint(paths, inputs, build.id)
        else:
            step("keep published warehouse", steps.discard_step, build)
        for line in extras.summary_lines():
            step.note(line)
        summary = steps.run_summary(
            build.id,
            settings,
            paths.warehouse,
            dbt,
            checks,
            outcomes,
            step.seconds,
            rebuild,
            extras.quarantined,
        )
        summary["published_damage"] = found.damage
        write_run_record(paths, summary)
        step.artifacts(summary, dbt)
        report = step("report", steps.report_step, paths, summary, settings.report_date)
    return NightlyResult(
        build.id, paths.warehouse, report, outcomes, summary, step.seconds, rebuild
    )


def _standing_study(
    step: StepRunner, spec: Path, settings: NightlySettings, inputs: Path, workers: int | None
) -> StudyOutcome:
    """Plan one standing study and run it unless it is unchanged (the log says which and why)."""
    plan = step(
        f"plan {study_label(spec)}", plan_standing_study, spec, settings.paths.sweeps, inputs,
        rerun=settings.rerun_studies, workers=workers or settings.workers,
    )  # fmt: skip
    old = folder_of_old_name(settings.paths.sweeps, plan.name)
    if old is not None:
        step.note(
            f"study {plan.name}: older results under its former name {old.name} are still "
            f"loaded as an ad-hoc study; remove {old} to drop them"
        )
    if plan.action == "skip":
        step.note(f"study {plan.name} skipped: {plan.reason}")
        return StudyOutcome(plan.name, "skip", plan.reason)
    return step(
        f"study {plan.name}", run_standing_study, plan, settings.paths.sweeps, inputs,
        scheduler=settings.scheduler,
    )  # fmt: skip


def study_label(spec: Path) -> str:
    """The study's name as its spec gives it (the step is named before the spec is validated;
    an unreadable spec is named by its file, and the planning step then says what is wrong)."""
    try:
        return str(tomllib.loads(spec.read_text(encoding="utf-8"))["study"]["name"])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return spec.stem


def run_plain(settings: NightlySettings) -> NightlyResult:
    """The same composition as plain function calls: no Prefect at all."""
    return refresh_pipeline(settings, PlainSteps())
