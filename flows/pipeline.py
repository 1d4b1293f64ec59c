"""The refresh declared once: its steps, and their order in one composition.

``refresh_pipeline`` puts the steps (declared below, each a ``flows.runner.Step``) in order and
decides what to skip; the step runner decides how a step is called: as a Prefect task
(``flows.nightly``, what every entry point runs) or as a plain call (``run_plain``, the bench's
yardstick for the cost of orchestration). Both read this module and nothing else for what runs
when. It does not import Prefect.
"""

from __future__ import annotations

import dataclasses
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
from migsys.flows.runner import PlainSteps, Reporter, Step, StepRunner
from migsys.warehouse.dbt_runner import DbtReport, one_dbt_process
from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.publish import (
    Build,
    cleaned_up_on_disk_full,
    prepare_build,
    refresh_lock,
    write_run_record,
)

# The steps, in the order a full run takes them. The fetch retries as the nightly config's
# [fetch] section says (``Step.with_retries``); the standing studies' steps are named per study.
FETCH = Step("fetch", steps.fetch_step)
CHECK_SOURCES = Step("check sources", steps.preflight_step)
PREPARE_BUILD = Step("prepare build", prepare_build)
INGEST = Step("ingest", steps.ingest_step)
GUARD_SOURCES = Step("guard sources", steps.guard_sources_step)
LOAD_EXTRAS = Step("load study results", steps.load_extras_step)
DBT_BUILD = Step("dbt build", steps.dbt_build_step)  # every model but the forecast marts
FORECASTS = Step("forecasts", steps.forecasts_step)
DBT_BUILD_FORECASTS = Step("dbt build (forecasts)", steps.dbt_build_step)
CALIBRATE = Step("calibrate", steps.calibrations_step)
PLAN_STUDY = Step("plan", plan_standing_study)  # "plan <study>"
RUN_STUDY = Step("study", run_standing_study)  # "study <study>"
GUARD = Step("guard", steps.guard_step)
DOCS = Step("docs", steps.docs_step)
PUBLISH = Step("publish", steps.publish_step)
KEEP_PUBLISHED = Step("keep published warehouse", steps.discard_step)
REPORT = Step("report", steps.report_step)


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
        retries = config.fetch.retries, config.fetch.retry_delay_seconds
        step(FETCH.with_retries(*retries), paths)
    # One dbt process serves the build's dbt commands (build, forecast marts, docs).
    with (
        refresh_lock(paths, settings.lock_wait_seconds),
        cleaned_up_on_disk_full(paths),
        one_dbt_process(),
    ):
        found = step(CHECK_SOURCES, paths, policy, sources_explicit=settings.sources_explicit)
        if found.damage:
            step.note(found.note(paths))
        published = found.profile
        build = step(PREPARE_BUILD, paths, project_dir=settings.dbt_project)
        step.note(step(INGEST, build, paths).origin_line())
        step(GUARD_SOURCES, build, published, policy, paths.sources)
        extras = step(LOAD_EXTRAS, build, paths)
        inputs = steps.warehouse_inputs_fingerprint(build.database)
        rebuild = (
            settings.rebuild
            or found.damage is not None  # never reuse a damaged file, nor read it
            or inputs != steps.published_inputs_fingerprint(paths)
        )
        dbt = build_warehouse(step, build, paths) if rebuild else None
        # Studies read tonight's data: the new build, or the published file it would equal.
        study_inputs = build.database if rebuild else paths.warehouse
        specs = [study.spec for study in config.studies]
        if step(CALIBRATE, study_inputs, paths, specs):
            # New calibrations join the build (the studies read them there).
            extras = step(LOAD_EXTRAS, build, paths)
            inputs = steps.warehouse_inputs_fingerprint(build.database)
            dbt, rebuild, study_inputs = (
                dbt or build_warehouse(step, build, paths),
                True,
                build.database,
            )
        outcomes = [
            _standing_study(step, spec.spec, settings, study_inputs, spec.workers)
            for spec in config.studies
        ]
        if any(outcome.action == "run" for outcome in outcomes):
            # Fresh results replace the ones loaded before; they must reach the warehouse.
            extras = step(LOAD_EXTRAS, build, paths)
            inputs = steps.warehouse_inputs_fingerprint(build.database)
            dbt, rebuild = dbt or build_warehouse(step, build, paths), True
        checks = []
        if rebuild:
            checks = step(GUARD, build, published, policy, paths.sources)
            step(DOCS, build, paths)
            step(PUBLISH, build, paths, policy)
            steps.record_inputs_fingerprint(paths, inputs, build.id)
        else:
            step(KEEP_PUBLISHED, build)
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
        report = step(REPORT, paths, summary, settings.report_date)
    return NightlyResult(
        build.id, paths.warehouse, report, outcomes, summary, step.seconds, rebuild
    )


def _standing_study(
    step: StepRunner, spec: Path, settings: NightlySettings, inputs: Path, workers: int | None
) -> StudyOutcome:
    """Plan one standing study and run it unless it is unchanged (the log says which and why)."""
    plan = step(
        PLAN_STUDY.named(f"plan {study_label(spec)}"), spec, settings.paths.sweeps, inputs,
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
        RUN_STUDY.named(f"study {plan.name}"), plan, settings.paths.sweeps, inputs,
        scheduler=settings.scheduler,
    )  # fmt: skip


def build_warehouse(step: StepRunner, build: Build, paths: MigsysPaths) -> DbtReport:
    """The main dbt build (every model but the forecast marts), the forecasts (rolling-origin
    skill and forecasts, reused when their inputs are unchanged), then the forecast marts; node
    progress throughout, one merged report."""
    on_node = step.reporter.dbt_node
    main = step(DBT_BUILD, build, paths, exclude=steps.FORECAST_SELECTOR, on_node=on_node)
    step.note(step(FORECASTS, build, paths).summary)
    marts = step(DBT_BUILD_FORECASTS, build, paths, select=steps.FORECAST_SELECTOR, on_node=on_node)
    merged = dataclasses.replace(
        main, nodes=[*main.nodes, *marts.nodes], seconds=main.seconds + marts.seconds
    )
    for node in merged.warned:  # plausibility warnings: the rows a reviewer should look at
        step.note(f"dbt warning: {node.describe()}")
    return merged


def study_label(spec: Path) -> str:
    """The study's name as its spec gives it (the step is named before the spec is validated;
    an unreadable spec is named by its file, and the planning step then says what is wrong)."""
    try:
        return str(tomllib.loads(spec.read_text(encoding="utf-8"))["study"]["name"])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return spec.stem


def run_plain(settings: NightlySettings, reporter: Reporter | None = None) -> NightlyResult:
    """The same composition as plain function calls: no Prefect at all."""
    return refresh_pipeline(settings, PlainSteps(reporter))
