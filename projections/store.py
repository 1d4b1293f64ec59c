"""Where calibrations and backtests live, and how they reach the published warehouse.

The published ``warehouse.duckdb`` is replaced atomically by every refresh, so results written into
it would vanish at the next refresh. They are therefore kept as files under ``MIGSYS_HOME``:

- ``calibrations/<calibration_id>.json`` — one calibrated parameter set with its fit statistics;
  ``calibrations/<calibration_id>_units.parquet`` — its municipality-level component, if any;
- ``backtests/<backtest_id>.parquet`` — the score rows of one backtest run.

The refresh calls :func:`load_projection_tables` on each new build, which (re)creates
``main.calibrations`` and ``main.backtests`` from those files — always, empty when there is
nothing yet — so they land in the published warehouse and survive refreshes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from migsys.warehouse.files import atomic_path, atomic_write_text

CALIBRATIONS_DIR = "calibrations"
BACKTESTS_DIR = "backtests"

CALIBRATIONS_COLUMNS: dict[str, str] = {
    "calibration_id": "VARCHAR NOT NULL",
    "kernel": "VARCHAR NOT NULL",  # depopulation | remittances
    "train_until": "INTEGER NOT NULL",  # last data year the fit was allowed to see
    "data_years": "INTEGER[] NOT NULL",  # the years of data actually used
    "method": "VARCHAR NOT NULL",
    "fit_target": "VARCHAR NOT NULL",  # what the fit statistics measure
    "parameters": "JSON NOT NULL",  # {name: value}, every kernel parameter
    "parameter_sd": "JSON NOT NULL",  # {name: standard error} of the fitted ones
    "rmse": "DOUBLE",
    "mape": "DOUBLE",  # fraction, not percent
    "r2": "DOUBLE",
    "n_obs": "INTEGER NOT NULL",
    "n_unit_components": "INTEGER NOT NULL",  # municipalities with their own component
    "created_at": "TIMESTAMP NOT NULL",
    "code_version": "VARCHAR NOT NULL",
}

BACKTESTS_COLUMNS: dict[str, str] = {
    "backtest_id": "VARCHAR NOT NULL",
    "kernel": "VARCHAR NOT NULL",
    "origin": "INTEGER NOT NULL",  # last census/count (or year) of data the forecast used
    "target_year": "INTEGER NOT NULL",
    "horizon_years": "DOUBLE",
    "method": "VARCHAR NOT NULL",  # model | a baseline (projections.baselines / remittance_forecast)
    "size_class": "VARCHAR NOT NULL",  # all | q1..q5 (quintile of population at the origin)
    "n_units": "INTEGER NOT NULL",
    "mdape": "DOUBLE",  # fractions
    "mape": "DOUBLE",
    "median_log_error": "DOUBLE",
    "direction_accuracy": "DOUBLE",  # share of units whose growth direction is right
    "crps": "DOUBLE",  # of ln(level), NULL without intervals
    "coverage_90": "DOUBLE",  # share of units observed within p05-p95
    "coverage_50": "DOUBLE",  # share within p25-p75
    "created_at": "TIMESTAMP NOT NULL",
    "code_version": "VARCHAR NOT NULL",
}

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "TIMESTAMP": pa.timestamp("us"),
}
_BACKTEST_ARROW_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[kind.split()[0]]) for name, kind in BACKTESTS_COLUMNS.items()]
)
# Files written before the rolling-origin evaluation (one row per pair and method, no size class)
_OLD_BACKTEST_NAMES = {
    "train_until": "origin",
    "median_ape": "mdape",
    "mean_ape": "mape",
    "sign_share": "direction_accuracy",
    "interval_coverage": "coverage_90",
}


def _read_backtest_file(path: Path) -> pa.Table:
    """One stored backtest file in the current schema (older files' columns renamed)."""
    table = pq.read_table(path)
    names = [_OLD_BACKTEST_NAMES.get(name, name) for name in table.column_names]
    table = table.rename_columns(names)
    columns = []
    for field_ in _BACKTEST_ARROW_SCHEMA:
        if field_.name in table.column_names:
            columns.append(table[field_.name].cast(field_.type))
        elif field_.name == "size_class":
            columns.append(pa.array(["all"] * table.num_rows, pa.string()))
        else:
            columns.append(pa.nulls(table.num_rows, field_.type))
    return pa.Table.from_arrays(columns, schema=_BACKTEST_ARROW_SCHEMA)


@dataclass(frozen=True)
class FitStatistics:
    """Goodness of fit of a calibration on the observations it was fitted to."""

    target: str  # e.g. "municipal annual growth rate 1990-2000"
    rmse: float
    mape: float  # fraction
    r2: float
    n_obs: int


@dataclass(frozen=True)
class Calibration:
    """A calibrated parameter set for one kernel, with how and on what it was fitted."""

    kernel: str
    parameters: dict[str, float]
    parameter_sd: dict[str, float]
    fit: FitStatistics
    data_years: tuple[int, ...]
    train_until: int
    method: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    # Fingerprint of the code that fitted it (migsys.fingerprint), set by
    # projections.calibration.calibrate_kernel; empty for a fit never stored.
    code_version: str = ""
    calibration_id: str = field(default_factory=lambda: _new_id("cal"))
    unit_components: pa.Table | None = None  # e.g. cve_mun, residual_rate, residual_sd

    def to_record(self) -> dict:
        """The JSON-able record stored on disk and loaded into ``main.calibrations``."""
        record = asdict(self.fit)
        fit_target = record.pop("target")
        return {
            "calibration_id": self.calibration_id,
            "kernel": self.kernel,
            "train_until": self.train_until,
            "data_years": list(self.data_years),
            "method": self.method,
            "fit_target": fit_target,
            "parameters": dict(self.parameters),
            "parameter_sd": dict(self.parameter_sd),
            **record,
            "n_unit_components": 0
            if self.unit_components is None
            else self.unit_components.num_rows,
            "created_at": self.created_at.isoformat(),
            "code_version": self.code_version,
        }


def _new_id(prefix: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:6]}"


def new_backtest_id() -> str:
    """A fresh, sortable id for one backtest run."""
    return _new_id("bt")


def save_calibration(calibration: Calibration, home: Path) -> Path:
    """Write a calibration (JSON plus its unit components as Parquet); return the JSON path."""
    folder = Path(home) / CALIBRATIONS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    if calibration.unit_components is not None:
        units = folder / f"{calibration.calibration_id}_units.parquet"
        with atomic_path(units) as staged:
            pq.write_table(calibration.unit_components, staged)
    path = folder / f"{calibration.calibration_id}.json"
    # The record last: readers never see it without its units, nor either half written.
    atomic_write_text(path, json.dumps(calibration.to_record(), indent=2, sort_keys=True))
    return path


def read_calibration_records(home: Path) -> list[dict]:
    """Every stored calibration record, oldest first; a broken file is an error naming it."""
    folder = Path(home) / CALIBRATIONS_DIR
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from error
        missing = set(CALIBRATIONS_COLUMNS) - set(record)
        if missing:
            raise ValueError(f"{path}: calibration record lacks fields {sorted(missing)}")
        records.append(record)
    return sorted(records, key=lambda record: record["created_at"])


def read_unit_components(home: Path, calibration_id: str) -> pa.Table | None:
    """The municipality-level component stored with a calibration, or None."""
    path = Path(home) / CALIBRATIONS_DIR / f"{calibration_id}_units.parquet"
    return pq.read_table(path) if path.is_file() else None


def save_backtest_rows(rows: list[dict], home: Path) -> Path:
    """Write the score rows of one backtest run (all sharing one ``backtest_id``)."""
    if not rows:
        raise ValueError("rows: a backtest run has at least one score row")
    folder = Path(home) / BACKTESTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=_BACKTEST_ARROW_SCHEMA)
    path = folder / f"{rows[0]['backtest_id']}.parquet"
    with atomic_path(path) as staged:
        pq.write_table(table, staged)
    return path


def _create_table_sql(name: str, columns: dict[str, str]) -> str:
    cols = ", ".join(f"{col} {typ}" for col, typ in columns.items())
    return f"CREATE OR REPLACE TABLE main.{name} ({cols})"


def load_projection_tables(con, home: Path) -> dict[str, int]:  # con: duckdb connection
    """(Re)create ``main.calibrations`` and ``main.backtests`` from the files under ``home``.

    Always creates both tables (empty if nothing is stored yet). Returns the row count of each.
    """
    con.execute(_create_table_sql("calibrations", CALIBRATIONS_COLUMNS))
    con.execute(_create_table_sql("backtests", BACKTESTS_COLUMNS))
    records = read_calibration_records(home)
    columns = list(CALIBRATIONS_COLUMNS)
    placeholders = ", ".join("?" for _ in columns)
    for record in records:
        values = [
            json.dumps(record[col]) if col in ("parameters", "parameter_sd") else record[col]
            for col in columns
        ]
        con.execute(f"INSERT INTO main.calibrations VALUES ({placeholders})", values)
    backtest_files = sorted((Path(home) / BACKTESTS_DIR).glob("*.parquet"))
    if backtest_files:
        tables = [_read_backtest_file(path) for path in backtest_files]
        con.register("_stored_backtests", pa.concat_tables(tables))
        try:
            selected = ", ".join(BACKTESTS_COLUMNS)
            con.execute(f"INSERT INTO main.backtests SELECT {selected} FROM _stored_backtests")
        finally:
            con.unregister("_stored_backtests")
    return {
        "calibrations": con.execute("SELECT count(*) FROM main.calibrations").fetchone()[0],
        "backtests": con.execute("SELECT count(*) FROM main.backtests").fetchone()[0],
    }
