"""The nightly refresh as a Prefect flow: fetch → ingest → dbt build → standing studies → analysis →
publish → report, under the one-refresh-at-a-time lock.

The flow only puts tasks in order. Every task calls a plain function (here or in
``warehouse.refresh``, ``sweeps``, ``reports``) that tests call directly. dbt runs through
``prefect_dbt.PrefectDbtRunner`` so that each model, seed and test is its own Prefect task.

Nothing is published until every step before ``publish`` has succeeded; ``publish`` is one
``os.replace`` (see ``warehouse.refresh``), so a failure or a SIGKILL at any point leaves
``MIGSYS_HOME/warehouse.duckdb`` byte-for-byte as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import hashlib
import json
import os
import shutil
import time
import tomllib
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from migsys.warehouse.paths import PACKAGE_ROOT, STUDIES_DIR, MigsysPaths
from migsys.warehouse.refresh import (
    Build,
    RefreshFailed,
    RefreshResult,
    absent_sources,
    data_fingerprint,
    docs_step,
    ingest_step,
    load_extras_step,
    prepare_build,
    publish_step,
    refresh_lock,
    write_last_refresh,
)

DEFAULT_NIGHTLY_CONFIG = STUDIES_DIR / "nightly.toml"
SUMMARY_ARTIFACT_KEY = "nightly-refresh-summary"
T = TypeVar("T")


# --------------------------------------------------------------------------- configuration


class NightlyConfigError(ValueError):
    """``studies/nightly.toml`` breaks a rule; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleConfig(_Strict):
    """When the served deployment runs: a cron expression in a named time zone."""

    cron: str = "0 2 * * *"
    timezone: str = "America/Mexico_City"

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(
                f"{value!r}: a cron expression has 5 fields (minute hour day month weekday)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (e.g. America/Mexico_City)"
            ) from None
        return value


class FetchConfig(_Strict):
    """Whether to download new releases first, and how hard to retry a flaky publisher."""

    enabled: bool = False
    retries: int = Field(default=3, ge=0, le=10)
    retry_delay_seconds: tuple[float, ...] = (30.0, 120.0, 600.0)


class StandingStudy(_Strict):
    """One study the nightly refresh keeps up to date (spec path relative to the config file)."""

    spec: Path
    workers: int | None = Field(default=None, ge=1)


class NightlyConfig(_Strict):
    """The parsed ``studies/nightly.toml``."""

    schedule: ScheduleConfig = ScheduleConfig()
    fetch: FetchConfig = FetchConfig()
    studies: tuple[StandingStudy, ...] = ()


def load_nightly_config(path: Path) -> NightlyConfig:
    """Read and validate the nightly config; study spec paths come back absolute and existing."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise NightlyConfigError(f"{path}: cannot read nightly config ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise NightlyConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        config = NightlyConfig.model_validate(data)
    except ValidationError as error:
        problems = [
            f"  {'.'.join(str(part) for part in item['loc']) or '(top level)'}: "
            + (
                "unknown key"
                if item["type"] == "extra_forbidden"
                else item["msg"].removeprefix("Value error, ")
            )
            for item in error.errors()
        ]
        raise NightlyConfigError(
            f"{path}: invalid nightly config\n" + "\n".join(problems)
        ) from None
    studies = []
    for index, study in enumerate(config.studies):
        spec = study.spec if study.spec.is_absolute() else (path.parent / study.spec).resolve()
        if not spec.is_file():
            raise NightlyConfigError(f"{path}: studies[{index}].spec: {spec} does not exist")
        studies.append(study.model_copy(update={"spec": spec}))
    names = [study.spec.name for study in studies]
    if len(set(names)) != len(names):
        raise NightlyConfigError(f"{path}: studies: the same spec file is listed twice")
    return config.model_copy(update={"studies": tuple(studies)})


class NightlySettings(BaseModel):
    """Typed parameters of one nightly run (JSON-ready: they travel with the deployment)."""

    model_config = ConfigDict(frozen=True)

    home: Path
    sources: Path
    config_file: Path = DEFAULT_NIGHTLY_CONFIG
    rerun_studies: bool = False
    fetch: bool | None = None  # None: as the config file says
    lock_wait_seconds: float = Field(default=0.0, ge=0.0)
    workers: int | None = Field(default=None, ge=1)
    scheduler: str | None = None  # tcp://host:8786 of an existing Dask cluster
    report_date: dt.date | None = None
    rebuild: bool = False  # rebuild even when every input of the warehouse is unchanged

    @classmethod
    def from_paths(cls, paths: MigsysPaths, **overrides: Any) -> NightlySettings:
        return cls(home=paths.home, sources=paths.sources, **overrides)

    @property
    def paths(self) -> MigsysPaths:
        return MigsysPaths(home=self.home, sources=self.sources)


# --------------------------------------------------------------------------- plain steps


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


@dataclass
class NightlyResult:
    """What a successful nightly run produced."""

    refresh: RefreshResult
    report: Path
    studies: list[StudyOutcome]
    summary_markdown: str
    seconds: dict[str, float] = field(default_factory=dict)
    rebuilt: bool = True  # False when the inputs were unchanged and the warehouse was kept


def fetch_step(paths: MigsysPaths) -> str:
    """Download the registered source files into ``paths.sources``; returns the fetch report."""
    from migsys.warehouse.fetch import fetch_sources

    return str(fetch_sources(paths.sources))


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
    """Run a study only when its spec, kernel code version or input-data fingerprint changed.

    ``warehouse`` is the new build: the model's data fingerprint is computed on the inputs the
    study would use tonight.
    """
    from migsys.sweeps.engine import prepare_study
    from migsys.sweeps.models import ModelContext
    from migsys.sweeps.spec import MissingInputs, load_spec

    spec = load_spec(spec_path)
    # The engine's own fingerprint (spec, kernel code, model input data), computed against an
    # empty root so that a changed study is reported here rather than refused as a conflict.
    try:
        prepared = prepare_study(spec, _staging_root(sweeps_root, "plan"), ModelContext(warehouse))
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
    if not analysis_present(sweeps_root / spec.name):
        return plan("run", "last run has no analysis")
    if previous.get("fingerprint") == fingerprint:
        return plan("skip", "spec, kernel code and input data unchanged since the last run")
    changed = [
        label
        for label, key, now in (
            ("kernel code", "code_version", prepared.code),
            ("input data", "data_fingerprint", prepared.data),
        )
        if previous.get(key) != now
    ]
    return plan("run", ("changed: " + ", ".join(changed)) if changed else "spec changed")


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
    swap_directory(staging_root / spec.name, sweeps_root / spec.name)
    shutil.rmtree(staging_root, ignore_errors=True)
    with contextlib.suppress(OSError):  # other studies may still be staged there
        staging_root.parent.rmdir()
    return StudyOutcome(plan.name, "run", plan.reason, run.scenarios_run, round(run.seconds, 3))


def swap_directory(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``; the old folder is moved aside first and removed after."""
    target.parent.mkdir(parents=True, exist_ok=True)
    retired = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, retired)
    os.replace(new, target)
    shutil.rmtree(retired, ignore_errors=True)


def source_freshness(database: Path) -> list[dict[str, Any]]:
    """Per source: status, newest file date, rows loaded and rejected (from raw.source_files)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.execute(
            """
            select source_id,
                   min(status) filter (where status <> 'loaded') as problem,
                   count(*) as files,
                   max(file_modified_at) as newest_file,
                   sum(rows_loaded) as rows_loaded,
                   sum(rows_rejected) as rows_rejected
            from raw.source_files group by source_id order by source_id
            """
        ).fetchall()
    finally:
        con.close()
    return [
        {
            "source": source,
            "status": problem or "loaded",
            "files": files,
            "newest_file": newest.date().isoformat() if newest else "—",
            "rows_loaded": int(loaded or 0),
            "rows_rejected": int(rejected or 0),
        }
        for source, problem, files, newest, loaded, rejected in rows
    ]


def dbt_build_and_forecasts(build: Build, paths: MigsysPaths):
    """The main ``dbt build`` without the forecast models, the forecast step, then the forecast
    models; one merged report."""
    from migsys.warehouse.refresh import FORECAST_SELECTOR, forecasts_step

    report = dbt_build_with_prefect(build, "--exclude", FORECAST_SELECTOR)
    forecasts = forecasts_step(build, paths)
    print(forecasts.summary)
    tagged = dbt_build_with_prefect(build, "--select", FORECAST_SELECTOR)
    return dataclasses.replace(
        report,
        nodes=[*report.nodes, *tagged.nodes],
        seconds=report.seconds + forecasts.seconds + tagged.seconds,
    )


def dbt_build_with_prefect(build: Build, *selection: str):
    """``dbt build`` on the build file via PrefectDbtRunner: inside a flow each node is a task.

    Returns ``warehouse.dbt_runner.DbtReport``; raises ``RefreshFailed`` when a model or test fails.
    """
    from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

    from migsys.warehouse.dbt_runner import (
        DbtReport,
        dbt_command_args,
        dbt_environment,
        node_results,
        patched_environ,
    )
    from migsys.warehouse.paths import DBT_PROJECT_DIR

    settings = PrefectDbtSettings(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target_path=build.dir / "target",
    )
    runner = PrefectDbtRunner(settings=settings, raise_on_failure=False, disable_assets=True)
    start = time.perf_counter()
    try:
        with patched_environ(dbt_environment(build.database)):
            outcome = runner.invoke(dbt_command_args("build", build.dir, *selection))
    except Exception as error:  # the runner raises when dbt cannot even start (parse errors)
        raise RefreshFailed("dbt build", str(error)) from error
    finally:
        release_dbt_duckdb()
    error = (
        None
        if outcome.exception is None
        else f"{type(outcome.exception).__name__}: {outcome.exception}"
    )
    report = DbtReport(
        command="build",
        success=bool(outcome.success),
        seconds=time.perf_counter() - start,
        nodes=node_results(outcome.result),
        error=error,
    )
    if not report.success:
        raise RefreshFailed("dbt build", report.describe_failures())
    return report


# Code whose change must rebuild the warehouse even when the data did not change.
WAREHOUSE_CODE_DIRS = ("warehouse", "dbt_project")
IGNORED_CODE_PARTS = frozenset({"target", "logs", "dbt_packages", "__pycache__"})


def code_fingerprint(root: Path = PACKAGE_ROOT) -> str:
    """Hash of the ingest code and the dbt project (file names and bytes)."""
    digest = hashlib.sha256()
    for folder in WAREHOUSE_CODE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not IGNORED_CODE_PARTS & set(relative.parts):
                digest.update(str(relative).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# What ``load_extras_step`` loads: every table of schema sweeps, and these tables of main.
EXTRAS_SCHEMA = "sweeps"
EXTRAS_MAIN_TABLES = ("calibrations", "backtests")


def loaded_extras_fingerprint(database: Path) -> str:
    """Order-independent hash of the study results, calibrations and backtests in a build.

    Only the tables ``load_extras_step`` writes are read, so the value is the same before and
    after dbt has built its models into the file.
    """
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and (table_schema = ? "
            "or (table_schema = 'main' and list_contains(?, table_name))) order by 1, 2",
            [EXTRAS_SCHEMA, list(EXTRAS_MAIN_TABLES)],
        ).fetchall()
        digest = hashlib.sha256()
        for schema, table in tables:
            rows, total = con.execute(
                f'select count(*), coalesce(sum(hash(t)::hugeint), 0) from "{schema}"."{table}" t'
            ).fetchone()
            digest.update(f"{schema}.{table}:{rows}:{total};".encode())
    finally:
        con.close()
    return digest.hexdigest()[:16]


def warehouse_inputs_fingerprint(database: Path) -> str:
    """Everything a rebuild would start from: source files, study results, calibrations, code."""
    parts = [data_fingerprint(database), loaded_extras_fingerprint(database), code_fingerprint()]
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:24]


def published_inputs_fingerprint(paths: MigsysPaths) -> str | None:
    """The inputs fingerprint recorded with the published warehouse, if it is still there."""
    record = paths.state / "nightly_inputs.json"
    if not paths.warehouse.is_file() or not record.is_file():
        return None
    return json.loads(record.read_text(encoding="utf-8")).get("inputs_fingerprint")


def record_inputs_fingerprint(paths: MigsysPaths, fingerprint: str, build_id: str) -> None:
    """Remember what the just-published warehouse was built from (written atomically)."""
    paths.state.mkdir(parents=True, exist_ok=True)
    staged = paths.state / ".nightly_inputs.json.tmp"
    staged.write_text(
        json.dumps({"inputs_fingerprint": fingerprint, "build_id": build_id}), encoding="utf-8"
    )
    os.replace(staged, paths.state / "nightly_inputs.json")


def discard_build(build: Build) -> None:
    """Drop a build that will not be published (its inputs equal the published warehouse's)."""
    shutil.rmtree(build.dir, ignore_errors=True)


def release_dbt_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a dbt command.

    PrefectDbtRunner keeps references that hold dbt-duckdb's cached environment alive; while it
    lives, opening the same file read-only (studies, freshness) fails with "different
    configuration than existing connections".
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            environment.close()
        DuckDBConnectionManager.close_all_connections()
    gc.collect()


def summary_markdown(
    *,
    freshness: list[dict[str, Any]],
    dbt,
    studies: list[StudyOutcome],
    seconds: dict[str, float],
    build_id: str,
) -> str:
    """The run summary posted as a Prefect artifact and shown in the report."""
    lines = [f"# Nightly refresh {build_id}", "", "## Sources", ""]
    lines += ["| source | status | files | newest file | rows loaded | rows rejected |"]
    lines += ["|---|---|---:|---|---:|---:|"]
    for row in freshness:
        lines.append(
            f"| {row['source']} | {row['status']} | {row['files']} | {row['newest_file']} "
            f"| {row['rows_loaded']:,} | {row['rows_rejected']:,} |"
        )
    lines += ["", "## dbt", ""]
    if dbt is None:
        lines.append("Not run: the warehouse's inputs are unchanged, the published build was kept.")
    else:
        lines += ["| resource | passed | failed | warned | skipped |", "|---|---:|---:|---:|---:|"]
        for resource in ("seed", "model", "test", "unit_test"):
            if not dbt.count(resource):
                continue
            passed = dbt.count(resource, "success") + dbt.count(resource, "pass")
            failed = sum(
                dbt.count(resource, status) for status in ("error", "fail", "runtime error")
            )
            lines.append(
                f"| {resource} | {passed} | {failed} | {dbt.count(resource, 'warn')} "
                f"| {dbt.count(resource, 'skipped')} |"
            )
    lines += ["", "## Standing studies", "", "| study | action | why | scenarios run | seconds |"]
    lines += ["|---|---|---|---:|---:|"]
    for study in studies:
        lines.append(
            f"| {study.name} | {study.action} | {study.reason} | {study.scenarios_run:,} "
            f"| {study.seconds:.1f} |"
        )
    if not studies:
        lines.append("| (none configured) | | | | |")
    lines += ["", "## Timings (seconds)", "", "| step | seconds |", "|---|---:|"]
    lines += [f"| {step} | {value:.1f} |" for step, value in seconds.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- tasks (thin)


@task(name="fetch sources", cache_policy=NO_CACHE)
def fetch_task(paths: MigsysPaths) -> str:
    """Download new releases (retries set from the config)."""
    return fetch_step(paths)


def fetch_with_retries(config: FetchConfig):
    """The fetch task with the config's retries and back-off (publishers' sites are flaky)."""
    return fetch_task.with_options(
        retries=config.retries, retry_delay_seconds=list(config.retry_delay_seconds)
    )


@task(name="prepare build", cache_policy=NO_CACHE)
def prepare_task(paths: MigsysPaths) -> Build:
    """Clean leftovers of dead runs and open a fresh build folder."""
    return prepare_build(paths)


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(build: Build, paths: MigsysPaths):
    """Load the source files into the build's raw schema."""
    return ingest_step(build, paths)


@task(name="load sweeps and projections", cache_policy=NO_CACHE)
def load_extras_task(build: Build, paths: MigsysPaths) -> list[str]:
    """Copy study results and calibrations from MIGSYS_HOME into the build."""
    return load_extras_step(build, paths)


@task(name="plan study", cache_policy=NO_CACHE)
def plan_study_task(
    spec: Path, paths: MigsysPaths, warehouse: Path, rerun: bool, workers: int | None
) -> StudyPlan:
    """Decide whether a standing study must run tonight."""
    return plan_standing_study(spec, paths.sweeps, warehouse, rerun=rerun, workers=workers)


@task(name="run and analyse study", cache_policy=NO_CACHE)
def run_study_task(
    plan: StudyPlan, paths: MigsysPaths, warehouse: Path, scheduler: str | None
) -> StudyOutcome:
    """Run a standing study on tonight's data and analyse it."""
    return run_standing_study(plan, paths.sweeps, warehouse, scheduler=scheduler)


@task(name="dbt docs", cache_policy=NO_CACHE)
def docs_task(build: Build) -> Path:
    """Static dbt docs for the build."""
    try:
        return docs_step(build)
    finally:
        release_dbt_duckdb()


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(build: Build, paths: MigsysPaths) -> Path:
    """Swap the tested build in as the published warehouse."""
    return publish_step(build, paths)


@task(name="report", cache_policy=NO_CACHE)
def report_task(paths: MigsysPaths, summary: str, report_date: dt.date | None) -> Path:
    """Write the static report of the published warehouse."""
    from migsys.reports.build import build_report

    result = build_report(
        paths.warehouse,
        paths.reports,
        docs_index=paths.docs / "index.html",
        report_date=report_date,
        run_summary_markdown=summary,
    )
    return result.index_html


# --------------------------------------------------------------------------- the flow


def _timed(
    seconds: dict[str, float], step: str, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Run one step, record its wall time, and name the step in any failure."""
    start = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    except RefreshFailed:
        raise
    except Exception as error:
        raise RefreshFailed(step.replace("_", " "), f"{type(error).__name__}: {error}") from error
    finally:
        seconds[step] = round(time.perf_counter() - start, 3)


@flow(name="nightly-refresh", log_prints=True)
def nightly_refresh(settings: NightlySettings) -> NightlyResult:
    """Fetch, ingest, build and test, refresh the standing studies, publish, report."""
    logger = get_run_logger()
    config = load_nightly_config(settings.config_file)
    paths = settings.paths
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    if config.fetch.enabled if settings.fetch is None else settings.fetch:
        _timed(seconds, "fetch", fetch_with_retries(config.fetch), paths)
    else:
        logger.info("fetch skipped (offline run: enable with --fetch or [fetch] enabled = true)")

    with refresh_lock(paths, settings.lock_wait_seconds):
        build = _timed(seconds, "prepare", prepare_task, paths)
        _timed(seconds, "ingest", ingest_task, build, paths)
        _timed(seconds, "load_extras", load_extras_task, build, paths)
        inputs = _timed(seconds, "fingerprint", warehouse_inputs_fingerprint, build.database)
        up_to_date = not settings.rebuild and inputs == published_inputs_fingerprint(paths)
        dbt = None
        if up_to_date:
            logger.info(
                "warehouse up to date: source files, study results, calibrations and warehouse "
                "code are unchanged since the published build; dbt build skipped"
            )
        else:
            dbt = _timed(seconds, "dbt_build", dbt_build_and_forecasts, build, paths)
            seconds["tests"] = round(dbt.seconds_by_type("test"), 3)

        # Studies read tonight's data: the new build, or the published file it would equal.
        study_inputs = paths.warehouse if up_to_date else build.database
        outcomes = [
            _standing_study(seconds, logger, study, paths, study_inputs, settings)
            for study in config.studies
        ]
        if any(outcome.action == "run" for outcome in outcomes):
            # Fresh results replace the ones loaded before; they must reach the warehouse.
            _timed(seconds, "load_studies", load_extras_task, build, paths)
            inputs = warehouse_inputs_fingerprint(build.database)
            if up_to_date:
                up_to_date = False
                dbt = _timed(seconds, "dbt_build", dbt_build_and_forecasts, build, paths)
                seconds["tests"] = round(dbt.seconds_by_type("test"), 3)

        if up_to_date:
            discard_build(build)
            build_id = f"{build.id} (unchanged: warehouse kept)"
        else:
            _timed(seconds, "docs", docs_task, build)
            _timed(seconds, "publish", publish_task, build, paths)
            record_inputs_fingerprint(paths, inputs, build.id)
            build_id = build.id
        freshness = _timed(seconds, "freshness", source_freshness, paths.warehouse)
        refresh = RefreshResult(
            build_id=build_id,
            warehouse=paths.warehouse,
            docs=paths.docs / "index.html",
            absent_sources=absent_sources(paths.warehouse),
            data_fingerprint=data_fingerprint(paths.warehouse),
            seconds=seconds,
            dbt=dbt,
        )
        if not up_to_date:
            write_last_refresh(paths, refresh)
        seconds["total_before_report"] = round(time.perf_counter() - start, 3)
        summary = summary_markdown(
            freshness=freshness, dbt=dbt, studies=outcomes, seconds=seconds, build_id=build_id
        )
        # Posted before the report so that a failing report still leaves the run's summary.
        create_markdown_artifact(
            markdown=summary, key=SUMMARY_ARTIFACT_KEY, description="Nightly refresh summary"
        )
        report = _timed(seconds, "report", report_task, paths, summary, settings.report_date)
        seconds["total"] = round(time.perf_counter() - start, 3)
    return NightlyResult(refresh, report, outcomes, summary, seconds, rebuilt=not up_to_date)


def _standing_study(
    seconds: dict[str, float],
    logger: Any,
    study: StandingStudy,
    paths: MigsysPaths,
    warehouse: Path,
    settings: NightlySettings,
) -> StudyOutcome:
    """Plan one standing study and run it unless it is unchanged (the log says which and why)."""
    plan = _timed(
        seconds,
        f"plan {study.spec.stem}",
        plan_study_task,
        study.spec,
        paths,
        warehouse,
        settings.rerun_studies,
        study.workers or settings.workers,
    )
    if plan.action == "skip":
        logger.info("study %s skipped: %s", plan.name, plan.reason)
        return StudyOutcome(plan.name, "skip", plan.reason)
    logger.info("study %s runs: %s", plan.name, plan.reason)
    return _timed(
        seconds, f"study {plan.name}", run_study_task, plan, paths, warehouse, settings.scheduler
    )


def run_nightly(settings: NightlySettings) -> NightlyResult:
    """Run the nightly flow in this process (ephemeral Prefect API when no server is configured).

    Raises ``RefreshFailed`` (step and reason), ``RefreshInProgress`` or ``NightlyConfigError``.
    """
    return nightly_refresh(settings)


def nightly_deployment(
    settings: NightlySettings, *, cron: str, timezone: str, name: str = "nightly"
):
    """The served deployment of ``nightly_refresh`` on a cron schedule (one run at a time)."""
    from prefect.schedules import Cron

    try:
        schedule = ScheduleConfig(cron=cron, timezone=timezone)
    except ValidationError as error:
        problems = "; ".join(
            f"{item['loc'][0]}: {item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        )
        raise NightlyConfigError(f"invalid schedule: {problems}") from None
    return nightly_refresh.to_deployment(
        name=name,
        schedule=Cron(schedule.cron, timezone=schedule.timezone),
        parameters={"settings": settings.model_dump(mode="json")},
        concurrency_limit=1,
        description="Fetch, rebuild and test the warehouse, refresh standing studies, publish, report.",
        tags=["migsys", "nightly"],
    )
