"""The refresh's forecast step: rolling-origin skill and published forecasts into a new build.

The pipeline calls :func:`refresh_forecasts` after the main ``dbt build`` (which leaves out the
models tagged ``forecast``) and before ``dbt build --select tag:forecast``. It reads the marts of
the build file, runs :func:`projections.evaluation.evaluate_depopulation` and
:func:`~projections.evaluation.evaluate_remittances` — or reuses the stored result when the
fingerprint of everything they read (the input rows and :data:`PROJECTION_CODE_VERSION`) is
unchanged — and writes two tables into the schema ``forecasts`` of the build:

- ``forecasts.skill_scores`` — one row per kernel, origin, target year, method and size class
  (columns :data:`projections.skill.SKILL_COLUMNS`);
- ``forecasts.model_forecasts`` — the model's p05/p25/p50/p75/p95 per kernel, origin, unit
  (``cve_mun`` or ``national``) and year, with the observation where there is one
  (:data:`projections.evaluation.FORECAST_COLUMNS`).

When a kernel's inputs are absent (no municipal censuses: the embedded snapshot of the paper's
tables) its rows are simply absent; the tables always exist with their columns, so dbt builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from migsys.projections.evaluation import (
    FORECAST_COLUMNS,
    empty_forecasts,
    evaluate_depopulation,
    evaluate_remittances,
)
from migsys.projections.skill import SKILL_COLUMNS

# Bump when any forecast or scoring code changes what it computes: it is part of the fingerprint.
PROJECTION_CODE_VERSION = "forecasts-3"
SCHEMA = "forecasts"
SKILL_TABLE = "skill_scores"
FORECASTS_TABLE = "model_forecasts"


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
    """Hash of the input rows and the projection code version."""
    digest = hashlib.sha256(PROJECTION_CODE_VERSION.encode())
    for name in sorted(frames):
        digest.update(name.encode())
        frame = frames[name]
        digest.update(json.dumps(list(map(str, frame.columns))).encode())
        if len(frame):
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:24]


def _evaluate(con) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    from migsys.projections.depopulation import read_depopulation_data
    from migsys.projections.remittance_forecast import read_remittance_data

    skill, forecasts, notes = [], [], []
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
        notes.append(
            f"{kernel}: {result.skill['origin'].nunique()} origins, {len(result.skill)} skill rows"
        )
    skill_frame = (
        pd.concat(skill, ignore_index=True) if skill else pd.DataFrame(columns=list(SKILL_COLUMNS))
    )
    forecast_frame = pd.concat(forecasts, ignore_index=True) if forecasts else empty_forecasts()
    return skill_frame, forecast_frame, notes


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


def _stored(cache_dir: Path, fingerprint: str) -> tuple[pd.DataFrame, pd.DataFrame, str] | None:
    folder = cache_dir / fingerprint
    files = [folder / "skill.parquet", folder / "forecasts.parquet", folder / "summary.txt"]
    if not all(path.is_file() for path in files):
        return None
    return pd.read_parquet(files[0]), pd.read_parquet(files[1]), files[2].read_text()


def _store(
    cache_dir: Path, fingerprint: str, skill: pd.DataFrame, forecasts: pd.DataFrame, summary: str
) -> None:
    folder = cache_dir / fingerprint
    staging = cache_dir / f".{fingerprint}.{os.getpid()}.tmp"
    staging.mkdir(parents=True, exist_ok=True)
    skill.to_parquet(staging / "skill.parquet", index=False)
    forecasts.to_parquet(staging / "forecasts.parquet", index=False)
    (staging / "summary.txt").write_text(summary)
    if folder.exists():  # another run stored the same result meanwhile
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()
        return
    os.replace(staging, folder)


def refresh_forecasts(database: Path, cache_dir: Path) -> ForecastRefresh:
    """Compute (or reuse) the rolling-origin evaluation and forecasts into ``forecasts.*`` of the
    build file ``database`` (opened read-write, closed before returning)."""
    start = time.perf_counter()
    cache_dir = Path(cache_dir)
    con = duckdb.connect(str(database))
    try:
        frames, missing = read_input_frames(con)
        fingerprint = inputs_fingerprint(frames)
        stored = _stored(cache_dir, fingerprint)
        computed = stored is None
        if stored is None:
            skill, forecasts, notes = _evaluate(con)
            summary = "; ".join(notes + [f"absent input {item}" for item in missing])
            _store(cache_dir, fingerprint, skill, forecasts, summary)
        else:
            skill, forecasts, summary = stored
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        _write_table(con, SKILL_TABLE, skill, SKILL_COLUMNS)
        _write_table(con, FORECASTS_TABLE, forecasts, FORECAST_COLUMNS)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    seconds = time.perf_counter() - start
    verb = "computed" if computed else "reused"
    return ForecastRefresh(
        computed=computed,
        seconds=seconds,
        rows=len(skill) + len(forecasts),
        fingerprint=fingerprint,
        summary=f"forecasts {verb} ({fingerprint}) in {seconds:.1f} s: {summary}",
    )
