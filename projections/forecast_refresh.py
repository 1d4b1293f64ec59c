"""The refresh's forecast step: rolling-origin skill and published forecasts into a new build.

The pipeline calls :func:`refresh_forecasts` after the main ``dbt build`` (which leaves out the
models tagged ``forecast``) and before ``dbt build --select tag:forecast``. It reads the marts of
the build file, runs :func:`projections.evaluation.evaluate_depopulation` and
:func:`~projections.evaluation.evaluate_remittances` — or reuses the stored result when the
fingerprint of the code (this module and every module it imports, docstrings and comments aside)
and of the input rows is unchanged (:func:`inputs_fingerprint`; refreshes sharing a cache compute
each fingerprint once, the later ones wait for it) — and writes three tables into
the schema ``forecasts`` of the build:

- ``forecasts.skill_scores`` — one row per kernel, origin, target year, method and size class
  (columns :data:`projections.skill.SKILL_COLUMNS`);
- ``forecasts.published_forecasts`` — the published method's p05/p25/p50/p75/p95 per kernel,
  origin, unit (``cve_mun`` or ``national``) and year, with the observation where there is one
  (:data:`projections.evaluation.FORECAST_COLUMNS`);
- ``forecasts.method_choice`` — how the published method was chosen: every candidate's record
  on the early pairs and the rule's pick (:data:`projections.selection.CHOICE_COLUMNS`).

When a kernel's inputs are absent (no municipal censuses: the embedded snapshot of the paper's
tables) its rows are simply absent; the tables always exist with their columns, so dbt builds.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from migsys.fingerprint import fingerprint
from migsys.projections.evaluation import (
    FORECAST_COLUMNS,
    empty_forecasts,
    evaluate_depopulation,
    evaluate_remittances,
)
from migsys.projections.selection import CHOICE_COLUMNS
from migsys.projections.skill import SKILL_COLUMNS
from migsys.warehouse.files import LockHeld, held_lock, staged_path, swap_directory

SCHEMA = "forecasts"
SKILL_TABLE = "skill_scores"
FORECASTS_TABLE = "published_forecasts"
CHOICE_TABLE = "method_choice"
RESULT_FILES = ("skill.parquet", "forecasts.parquet", "choice.parquet")
# How long a refresh waits for another that is computing the same evaluation into a shared cache
# (MIGSYS_FORECAST_CACHE) before computing it too: the evaluation takes ~15 s on 2 cores.
COMPUTING_WAIT_SECONDS = 600.0


@dataclass(frozen=True)
class ForecastRefresh:
    """What :func:`refresh_forecasts` did."""

    computed: bool  # False when the stored result was reused
    seconds: float
    rows: int  # skill rows + forecast rows written
    fingerprint: str
    summary: str  # one line for the run log


def read_input_frames(con) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The rows the evaluation reads (for the fingerprint), and why a kernel cannot run."""
    queries = {
        "populations": "SELECT cve_mun, cve_ent, census_year, population_total, population_male,"
        " population_female FROM fct_municipal_population ORDER BY cve_mun, census_year",
        "census_dates": "SELECT census_year, census_name, reference_date "
        "FROM seeds.inegi_census_dates ORDER BY census_year",
        "intensity": "SELECT index_year, cve_mun, households, pct_households_emigrants, "
        "pct_households_return, pct_households_remittances, intensity_degree "
        "FROM fct_migration_intensity ORDER BY index_year, cve_mun",
        "remittances": "SELECT * FROM fct_remittances_annual ORDER BY year",
        "monthly_fx": "SELECT month, usdmxn_rate FROM fct_remittances_monthly ORDER BY month",
        "asymmetry": "SELECT year, indicator, source, mexico_value, us_value "
        "FROM fct_binational_asymmetry ORDER BY year, indicator, source",
        "stock": "SELECT year, mexican_born_in_us FROM fct_migrant_stock ORDER BY year",
    }
    frames, missing = {}, []
    for name, sql in queries.items():
        try:
            frames[name] = con.execute(sql).df()
        except duckdb.Error as error:
            missing.append(f"{name}: {str(error).splitlines()[0]}")
            frames[name] = pd.DataFrame()
    return frames, missing


def inputs_fingerprint(frames: dict[str, pd.DataFrame]) -> str:
    """Fingerprint of the code that computes the forecasts and of the input rows.

    A hand-bumped version would let a changed method reuse results the old code computed; the
    code itself cannot be forgotten.
    """
    return fingerprint(code=[refresh_forecasts], inputs=[frames])


@dataclass(frozen=True)
class ForecastTables:
    """The three tables the forecast step writes."""

    skill: pd.DataFrame
    forecasts: pd.DataFrame
    choice: pd.DataFrame

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return self.skill, self.forecasts, self.choice


def _evaluate(con) -> tuple[ForecastTables, list[str]]:
    from migsys.projections.depopulation import read_depopulation_data
    from migsys.projections.remittance_forecast import read_remittance_data

    skill, forecasts, choices, notes = [], [], [], []
    for kernel, read, evaluate in (
        ("depopulation", read_depopulation_data, evaluate_depopulation),
        ("remittances", read_remittance_data, evaluate_remittances),
    ):
        try:
            data = read(con)
        except ValueError as error:
            notes.append(f"{kernel}: not evaluated ({error})")
            continue
        try:
            result = evaluate(data)
        except ValueError as error:
            notes.append(f"{kernel}: not evaluated ({error})")
            continue
        skill.append(result.skill)
        forecasts.append(result.forecasts)
        choices.append(result.choice.record)
        notes.append(
            f"{kernel}: {result.skill['origin'].nunique()} origins, {len(result.skill)} skill "
            f"rows, published method {result.choice.method}"
        )
    skill_frame = (
        pd.concat(skill, ignore_index=True) if skill else pd.DataFrame(columns=list(SKILL_COLUMNS))
    )
    forecast_frame = pd.concat(forecasts, ignore_index=True) if forecasts else empty_forecasts()
    choice_frame = (
        pd.concat(choices, ignore_index=True)
        if choices
        else pd.DataFrame(columns=list(CHOICE_COLUMNS))
    )
    return ForecastTables(skill_frame, forecast_frame, choice_frame), notes


def _write_table(con, name: str, frame: pd.DataFrame, columns: dict[str, str]) -> None:
    definition = ", ".join(f"{column} {kind}" for column, kind in columns.items())
    con.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.{name} ({definition})")
    if len(frame):
        con.register("_forecast_rows", frame[list(columns)])
        try:
            con.execute(
                f"INSERT INTO {SCHEMA}.{name} SELECT {', '.join(columns)} FROM _forecast_rows"
            )
        finally:
            con.unregister("_forecast_rows")


def _stored(cache_dir: Path, fingerprint: str) -> tuple[ForecastTables, str] | None:
    folder = cache_dir / fingerprint
    files = [folder / name for name in RESULT_FILES]
    summary = folder / "summary.txt"
    if not all(path.is_file() for path in [*files, summary]):
        return None
    return ForecastTables(*(pd.read_parquet(path) for path in files)), summary.read_text()


def _store(cache_dir: Path, fingerprint: str, tables: ForecastTables, summary: str) -> None:
    folder = cache_dir / fingerprint
    staging = staged_path(folder)
    staging.mkdir(parents=True)
    try:
        for name, frame in zip(RESULT_FILES, tables.frames(), strict=True):
            frame.to_parquet(staging / name, index=False)
        (staging / "summary.txt").write_text(summary)
        if not folder.exists():  # else another run stored the same result meanwhile
            swap_directory(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _computing(cache_dir: Path, fingerprint: str):
    """Held while this process computes ``fingerprint``: refreshes sharing the cache compute it
    once, the others wait and reuse it. After ``COMPUTING_WAIT_SECONDS`` (a holder that hangs)
    this one computes it too; storing is atomic, so both results are whole."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as held:
        with contextlib.suppress(LockHeld):
            lock = cache_dir / f"{fingerprint}.lock"
            held.enter_context(held_lock(lock, wait_seconds=COMPUTING_WAIT_SECONDS))
        yield


def _evaluated(con, cache_dir: Path, fingerprint: str, missing) -> tuple[ForecastTables, str, bool]:
    """The stored evaluation of ``fingerprint``, or the one computed now and stored; and
    whether it was computed here."""
    stored = _stored(cache_dir, fingerprint)
    if stored is not None:
        return *stored, False
    with _computing(cache_dir, fingerprint):
        stored = _stored(cache_dir, fingerprint)  # another refresh stored it while we waited
        if stored is not None:
            return *stored, False
        tables, notes = _evaluate(con)
        summary = "; ".join(notes + [f"absent input {item}" for item in missing])
        _store(cache_dir, fingerprint, tables, summary)
    return tables, summary, True


def refresh_forecasts(database: Path, cache_dir: Path) -> ForecastRefresh:
    """Compute (or reuse) the rolling-origin evaluation and forecasts into ``forecasts.*`` of the
    build file ``database`` (opened read-write, closed before returning)."""
    start = time.perf_counter()
    cache_dir = Path(cache_dir)
    con = duckdb.connect(str(database))
    try:
        frames, missing = read_input_frames(con)
        fingerprint = inputs_fingerprint(frames)
        tables, summary, computed = _evaluated(con, cache_dir, fingerprint, missing)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        _write_table(con, SKILL_TABLE, tables.skill, SKILL_COLUMNS)
        _write_table(con, FORECASTS_TABLE, tables.forecasts, FORECAST_COLUMNS)
        _write_table(con, CHOICE_TABLE, tables.choice, CHOICE_COLUMNS)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    seconds = time.perf_counter() - start
    verb = "computed" if computed else "reused"
    return ForecastRefresh(
        computed=computed,
        seconds=seconds,
        rows=len(tables.skill) + len(tables.forecasts),
        fingerprint=fingerprint,
        summary=f"forecasts {verb} ({fingerprint}) in {seconds:.1f} s: {summary}",
    )
