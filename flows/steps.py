"""The steps of a refresh as plain functions, with the fingerprints that decide what must run.

Which steps run, under which names and in which order is declared in one place,
``flows.pipeline``; tests call these functions directly.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from migsys.fingerprint import fingerprint
from migsys.reports.dbt_docs import repair_static_docs
from migsys.warehouse.dbt_runner import DbtEvent, DbtReport, run_dbt
from migsys.warehouse.files import atomic_write_text
from migsys.warehouse.guard import (
    GuardCheck,
    GuardPolicy,
    WarehouseProfile,
    check_sources_folder,
    guard_build,
    profile_warehouse,
)
from migsys.warehouse.paths import DBT_PROJECT_DIR, MigsysPaths
from migsys.warehouse.publish import (
    Build,
    RefreshFailed,
    publish_build,
    published_damage,
    published_record,
)
from migsys.warehouse.sql import open_read_only

log = logging.getLogger("migsys.refresh")

# Rejects shown on the console per file and rule when ingest refuses the sources (all are logged).
PROBLEMS_PER_KIND = 5

# dbt models that read the forecasts the refresh computes after the main build.
FORECAST_SELECTOR = "tag:forecast"


# --------------------------------------------------------------------------- sources


def fetch_step(paths: MigsysPaths) -> str:
    """Download the registered source files into ``paths.sources``; returns the fetch report."""
    from migsys.warehouse.fetch import fetch_sources

    return str(fetch_sources(paths.sources))


@dataclass(frozen=True)
class Published:
    """The published warehouse as a refresh finds it: what it holds, and whether it is damaged."""

    profile: WarehouseProfile | None
    damage: str | None = None  # why it cannot be trusted (then it is rebuilt, never reused)

    def note(self, paths: MigsysPaths) -> str:
        held = "what it held when published" if self.profile else "nothing (no record)"
        return (
            f"the published warehouse {paths.warehouse} is damaged: {self.damage}; rebuilding it "
            f"from the sources (the guard compares the build with {held})"
        )


def preflight_step(paths: MigsysPaths, policy: GuardPolicy, *, sources_explicit: bool) -> Published:
    """Check the published warehouse against its publish record (a damaged one is profiled
    from that record, and rebuilt), profile it read-only, and refuse a sources folder that
    would lose data."""
    damage = published_damage(paths)
    if damage is None:
        profile = profile_warehouse(paths.warehouse, policy.source_fed_marts)
    else:
        recorded = (published_record(paths) or {}).get("profile")
        profile = WarehouseProfile.from_json(recorded) if recorded else None
    check_sources_folder(paths.sources, profile, policy, explicitly_set=sources_explicit)
    return Published(profile, damage)


def ingest_step(build: Build, paths: MigsysPaths):
    """Load every registered source file into the build's raw schema; refuse rejected rows."""
    from migsys.warehouse.ingest import ingest_sources

    con = duckdb.connect(str(build.database))
    try:
        report = ingest_sources(con, paths.sources)
    finally:
        con.close()
    if not report.ok:
        if len(report.rejects) > PROBLEMS_PER_KIND:  # every one in the log, the kinds on screen
            log.info("every reject of this ingest:\n%s", report.format_problems())
        raise RefreshFailed(
            "ingest",
            f"{len(report.rejects):,} rows or files in {paths.sources} broke a rule:\n"
            + report.format_problems(per_kind=PROBLEMS_PER_KIND),
        )
    return report


def load_extras_step(build: Build, paths: MigsysPaths):
    """Sweep results, calibrations and backtests kept under MIGSYS_HOME join the new build.

    Studies that do not verify are quarantined (left out, with the reason), never loaded;
    returns ``sweeps.warehouse.SweepsLoad``.
    """
    from migsys.projections.store import load_projection_tables
    from migsys.sweeps.warehouse import load_sweeps

    con = duckdb.connect(str(build.database))
    try:
        studies = load_sweeps(con, paths.sweeps)
        load_projection_tables(con, paths.home)
    finally:
        con.close()
    return studies


def calibrations_step(database: Path, paths: MigsysPaths, specs: list[Path]) -> list[str]:
    """Fit the calibrations the standing studies sweep around, when the warehouse has none.

    A study with ``from = "calibration"`` needs a calibration of its kernel trained until its
    base year (``sweeps.calibration.calibrations_needed``); those missing from ``database`` are
    fitted on it (read-only) and stored under MIGSYS_HOME like `migsys calibrate` does. Returns
    what was fitted, in words (empty: nothing was missing).
    """
    from migsys.projections.calibration import calibrate_kernel
    from migsys.projections.store import save_calibration
    from migsys.sweeps.calibration import calibrations_needed
    from migsys.sweeps.spec import load_spec

    needed = {pair for spec in specs for pair in calibrations_needed(load_spec(spec))}
    if not needed:
        return []
    con = open_read_only(database)
    try:
        has_table = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = 'calibrations'"
        ).fetchall()[0][0]
        present = (
            set(con.execute("select kernel, train_until from main.calibrations").fetchall())
            if has_table
            else set()
        )
        fitted = []
        for kernel, until in sorted(needed - present, key=str):
            calibration = calibrate_kernel(con, kernel, until)
            save_calibration(calibration, paths.home)
            fitted.append(f"calibrated {kernel} on data up to {calibration.train_until}")
    finally:
        con.close()
    return fitted


# --------------------------------------------------------------------------- fingerprints


def source_files(database: Path) -> list[tuple]:
    """The source files that went into a warehouse: ids, names, sha256 and origin."""
    con = open_read_only(database)
    try:
        # The origin counts: the snapshot's rows carry the same sha256 as the files they came from.
        return con.execute(
            "select source_id, file_name, coalesce(file_sha256, status), origin "
            "from raw.source_files order by source_id, file_name"
        ).fetchall()
    finally:
        con.close()


# What ``load_extras_step`` loads: every table of schema sweeps, and these tables of main.
EXTRAS_SCHEMA = "sweeps"
EXTRAS_MAIN_TABLES = ("calibrations", "backtests")


def loaded_extras(database: Path) -> list[str]:
    """Order-independent content of the study results, calibrations and backtests in a build:
    per table, its row count and the sum of DuckDB's row hashes.

    Only the tables ``load_extras_step`` writes are read, so the value is the same before and
    after dbt has built its models into the file.
    """
    con = open_read_only(database)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and (table_schema = ? "
            "or (table_schema = 'main' and list_contains(?, table_name))) order by 1, 2",
            [EXTRAS_SCHEMA, list(EXTRAS_MAIN_TABLES)],
        ).fetchall()
        summaries = []
        for schema, table in tables:
            rows, total = con.execute(
                f'select count(*), coalesce(sum(hash(t)::hugeint), 0) from "{schema}"."{table}" t'
            ).fetchone()
            summaries.append(f"{schema}.{table}:{rows}:{total}")
    finally:
        con.close()
    return summaries


def warehouse_inputs_fingerprint(database: Path, dbt_project: Path = DBT_PROJECT_DIR) -> str:
    """Everything a rebuild would start from: the code that builds the warehouse (ingest and the
    dbt runner, with every module they import, docstrings and comments aside; the dbt project's
    files), the source files, and the study results, calibrations and backtests loaded."""
    from migsys.warehouse.ingest import ingest_sources

    return fingerprint(
        code=[ingest_sources, run_dbt],
        inputs=[dbt_project, source_files(database), loaded_extras(database)],
    )


def published_inputs_fingerprint(paths: MigsysPaths) -> str | None:
    """The inputs fingerprint recorded with the published warehouse, if it is still there."""
    record = paths.state / "nightly_inputs.json"
    if not paths.warehouse.is_file() or not record.is_file():
        return None
    return json.loads(record.read_text(encoding="utf-8")).get("inputs_fingerprint")


def record_inputs_fingerprint(paths: MigsysPaths, fingerprint: str, build_id: str) -> None:
    """Remember what the just-published warehouse was built from (written atomically)."""
    atomic_write_text(
        paths.state / "nightly_inputs.json",
        json.dumps({"inputs_fingerprint": fingerprint, "build_id": build_id}),
    )


# --------------------------------------------------------------------------- dbt


def dbt_build_step(
    build: Build,
    paths: MigsysPaths,
    *,
    select: str | None = None,
    exclude: str | None = None,
    on_node: Callable[[DbtEvent], None] | None = None,
    echo: Callable[[str], None] | None = None,
) -> DbtReport:
    """Seeds, models and tests into the build file. Any failing test stops the refresh."""
    extra = [
        *(["--select", select] if select else []),
        *(["--exclude", exclude] if exclude else []),
    ]
    report = run_dbt(
        "build",
        build.database,
        build.dir,
        *extra,
        project_dir=build.project_dir,
        log_file=paths.logs / "dbt.log",
        on_node=on_node,
        echo=echo,
    )
    if not report.success:
        raise RefreshFailed("dbt build", report.describe_failures())
    return report


def forecasts_step(build: Build, paths: MigsysPaths):
    """Rolling-origin skill and forecasts into the build's ``forecasts`` schema (reused from
    ``paths.forecasts`` when their inputs are unchanged); returns ``ForecastRefresh``."""
    from migsys.projections.forecast_refresh import refresh_forecasts

    return refresh_forecasts(build.database, paths.forecasts)


def docs_step(build: Build, paths: MigsysPaths) -> Path:
    """Static, self-contained dbt docs (one HTML file) for the build."""
    # --no-compile: the build just compiled every node; the manifest in target/ is current.
    report = run_dbt(
        "docs generate",
        build.database,
        build.dir,
        "--static",
        "--no-compile",
        project_dir=build.project_dir,
        log_file=paths.logs / "dbt.log",
    )
    if not report.success or not build.static_docs.is_file():
        raise RefreshFailed("docs", report.describe_failures())
    repair_static_docs(build.static_docs)  # opened from a file: no console errors
    return build.static_docs


# --------------------------------------------------------------------------- guard and publish


def guard_sources_step(
    build: Build, published: WarehouseProfile | None, policy: GuardPolicy, sources: Path
) -> list[GuardCheck]:
    """Right after ingest: refuse a build that lost a source the published warehouse has."""
    profile = profile_warehouse(build.database, ())
    assert profile is not None  # ingest just wrote the build file
    return guard_build(published, profile, policy, sources, marts=False)


def guard_step(
    build: Build, published: WarehouseProfile | None, policy: GuardPolicy, sources: Path
) -> list[GuardCheck]:
    """Refuse a build that would publish less than the warehouse it replaces (unless allowed)."""
    profile = profile_warehouse(build.database, policy.source_fed_marts)
    assert profile is not None  # the build file exists: dbt just built it
    return guard_build(published, profile, policy, sources)


def publish_step(build: Build, paths: MigsysPaths, policy: GuardPolicy) -> Path:
    """Swap the tested build in as the published warehouse, atomically, recording its sha256
    and what it holds (the next refresh checks the file against them)."""
    profile = profile_warehouse(build.database, policy.source_fed_marts)
    return publish_build(build, paths, profile.to_json() if profile else None)


def discard_step(build: Build) -> None:
    """Drop a build that will not be published (its inputs equal the published warehouse's)."""
    shutil.rmtree(build.dir, ignore_errors=True)


# --------------------------------------------------------------------------- after publishing


def source_summary(database: Path) -> list[dict[str, Any]]:
    """Per source: status, files, rows, origin, period covered, release date (read-only)."""
    from migsys.reports.summary import summary_sources

    con = open_read_only(database)
    try:
        return summary_sources(con)
    finally:
        con.close()


def report_step(paths: MigsysPaths, summary: dict[str, Any], report_date) -> Path:
    """Write the static report of the published warehouse (its own folder, swapped in whole)."""
    from migsys.reports.build import build_report

    result = build_report(
        paths.warehouse,
        paths.reports,
        docs_index=paths.docs / "index.html",
        report_date=report_date,
        run_summary=summary,
        standing_studies=[study["name"] for study in summary.get("studies", [])],
    )
    return result.index_html


def run_summary(
    build_id: str,
    settings,
    warehouse: Path,
    dbt: DbtReport | None,
    checks: list[GuardCheck],
    studies: list,
    seconds: dict[str, float],
    published: bool,
    quarantined: list | None = None,
) -> dict[str, Any]:
    """The run record: JSON-ready, written to ``state/runs/`` and rendered by the report."""
    return {
        "build_id": build_id,
        "rebuilt": published,
        "published": published,
        "sources_folder": str(settings.sources),
        "sources": source_summary(warehouse),
        "dbt": dbt.counts_by_type() if dbt else None,
        "dbt_warnings": [node.describe() for node in dbt.warned] if dbt else [],
        "guard": [vars(check) for check in checks],
        "allow_shrink": settings.allow_shrink,
        "use_embedded": settings.use_embedded,
        "studies": [vars(outcome) for outcome in studies],
        "quarantined": [{"name": q.name, "reason": q.reason} for q in quarantined or []],
        "seconds": dict(seconds),
    }


def summary_markdown(summary: dict[str, Any]) -> str:
    """The run summary as Markdown (the Prefect artifact)."""
    lines = [f"# Nightly refresh {summary['build_id']}", ""]
    if summary.get("published_damage"):
        lines += [
            f"The published warehouse was damaged ({summary['published_damage']}): it was "
            "rebuilt from the sources.",
            "",
        ]
    lines += ["## Sources", ""]
    lines += ["| source | status | files | rows loaded | rows rejected | from | period |"]
    lines += ["|---|---|---:|---:|---:|---|---|"]
    for row in summary.get("sources", []):
        lines.append(
            f"| {row['source']} | {row['status']} | {row['files']} "
            f"| {row['rows_loaded']:,} | {row['rows_rejected']:,} "
            f"| {row.get('origin') or ''} | {row.get('period') or ''} |"
        )
    lines += ["", "## dbt", ""]
    dbt = summary.get("dbt")
    if not dbt:
        lines.append("Not run: the warehouse's inputs are unchanged, the published build was kept.")
    else:
        lines += ["| resource | passed | failed | warned | skipped |", "|---|---:|---:|---:|---:|"]
        for resource, counts in dbt.items():
            lines.append(
                f"| {resource} | {counts['passed']} | {counts['failed']} | {counts['warned']} "
                f"| {counts['skipped']} |"
            )
    if summary.get("dbt_warnings"):
        lines += ["", "Warnings (the build passed; a reviewer should look at these rows):", ""]
        lines += [f"    {line}" for w in summary["dbt_warnings"] for line in w.splitlines()]
    if summary.get("guard"):
        lines += ["", "## Publish guard", "", "| check | published | build | outcome |"]
        lines += ["|---|---:|---:|---|"]
        for check in summary["guard"]:
            lines.append(
                f"| {check['check']} | {check['published']} | {check['build']} "
                f"| {check['outcome']} |"
            )
    lines += ["", "## Standing studies", "", "| study | action | why | scenarios run | seconds |"]
    lines += ["|---|---|---|---:|---:|"]
    for study in summary.get("studies", []):
        lines.append(
            f"| {study['name']} | {study['action']} | {study['reason']} "
            f"| {study['scenarios_run']:,} | {study['seconds']:.1f} |"
        )
    if not summary.get("studies"):
        lines.append("| (none configured) | | | | |")
    if summary.get("quarantined"):
        lines += ["", "## Quarantined studies (not loaded)", "", "| study | why |", "|---|---|"]
        lines += [f"| {q['name']} | {q['reason']} |" for q in summary["quarantined"]]
    lines += ["", "## Timings (seconds)", "", "| step | seconds |", "|---|---:|"]
    lines += [f"| {step} | {value:.1f} |" for step, value in summary.get("seconds", {}).items()]
    return "\n".join(lines) + "\n"
