"""Load verified studies into schema ``sweeps`` of a warehouse build (called by the refresh).

The tables are always created, empty when there are no studies, so the dbt models over them
compile. Scenario parameters and scalar outcomes are stored long (study, scenario_id, name,
value) so one query spans studies with different parameters; the same rows are also queryable
straight from the Parquet parts (``sweeps.studies.parts_glob``).

Only studies that verify (:func:`sweeps.store.verify_study`: finished, every part present with
its recorded sha256) are loaded; the others are quarantined with the reason (table
``sweeps.quarantined_studies`` and :attr:`SweepsLoad.quarantined`), and folders that are not
studies (stray folders, ``.bak`` copies, ``.NAME.old-PID`` leftovers of a killed swap) are
ignored. ``sweeps.kernels`` lists the registered kernels (the dbt tests check study kernels
against it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from migsys.sweeps import registry, store

TABLES: dict[str, str] = {
    "studies": """
        study VARCHAR PRIMARY KEY, kernel VARCHAR NOT NULL, design VARCHAR NOT NULL,
        description VARCHAR, fingerprint VARCHAR NOT NULL, code_version VARCHAR NOT NULL,
        data_fingerprint VARCHAR NOT NULL, n_scenarios BIGINT NOT NULL, chunk_size INTEGER,
        seed BIGINT, swept_parameters VARCHAR[], kept_outputs VARCHAR[], years INTEGER[],
        spec JSON NOT NULL, fixed_parameters JSON, started_at TIMESTAMP, finished_at TIMESTAMP,
        run_seconds DOUBLE, scenarios_per_second DOUBLE, analyzed BOOLEAN NOT NULL,
        analysis_warnings VARCHAR[], parts_glob VARCHAR NOT NULL""",
    "scenarios": "study VARCHAR NOT NULL, scenario_id BIGINT NOT NULL, parameter VARCHAR NOT NULL, "
    "value DOUBLE NOT NULL, unit VARCHAR",
    "outcomes": "study VARCHAR NOT NULL, scenario_id BIGINT NOT NULL, outcome VARCHAR NOT NULL, "
    "value DOUBLE, unit VARCHAR",
    "series_quantiles": "study VARCHAR NOT NULL, series VARCHAR NOT NULL, year INTEGER NOT NULL, "
    "quantile DOUBLE NOT NULL, value DOUBLE",
    "sensitivity": "study VARCHAR NOT NULL, outcome VARCHAR NOT NULL, method VARCHAR NOT NULL, "
    '"index" VARCHAR NOT NULL, parameter VARCHAR NOT NULL, parameter_2 VARCHAR, value DOUBLE, conf DOUBLE',
    "prim_boxes": "study VARCHAR NOT NULL, outcome VARCHAR NOT NULL, rule VARCHAR NOT NULL, "
    "box INTEGER NOT NULL, parameter VARCHAR, low DOUBLE, high DOUBLE, coverage DOUBLE, "
    "density DOUBLE, mass DOUBLE, n_scenarios BIGINT",
    "kernels": "kernel VARCHAR PRIMARY KEY, code_fingerprint VARCHAR NOT NULL, description VARCHAR, "
    "parameters VARCHAR[], outputs VARCHAR[], inputs VARCHAR[]",
    "quarantined_studies": "folder VARCHAR NOT NULL, study VARCHAR NOT NULL, reason VARCHAR NOT NULL",
}
ANALYSIS_TABLES = ("series_quantiles", "sensitivity", "prim_boxes")


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create schema ``sweeps`` with its six empty tables."""
    con.execute("CREATE SCHEMA IF NOT EXISTS sweeps")
    for table, columns in TABLES.items():
        con.execute(f"DROP TABLE IF EXISTS sweeps.{table}")
        con.execute(f"CREATE TABLE sweeps.{table} ({columns})")


@dataclass
class SweepsLoad:
    """What :func:`load_sweeps` did: studies loaded, studies quarantined with the reason, and
    entries of the sweeps folder that are not studies."""

    loaded: list[str] = field(default_factory=list)
    quarantined: list[store.Quarantined] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """One line per quarantined study, for the run summary and the report."""
        return [f"study {q.name} quarantined: {q.reason}" for q in self.quarantined]


def _load_kernels(con: duckdb.DuckDBPyConnection) -> None:
    for row in registry.kernel_rows():
        con.execute(
            "INSERT INTO sweeps.kernels VALUES (?, ?, ?, ?, ?, ?)",
            [row.kernel, row.code, row.description, row.parameters, row.outputs, row.inputs],
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _load_study(con: duckdb.DuckDBPyConnection, study: store.StudyDir) -> str:
    record = store.read_json(study.study_file)
    name = record["name"]
    glob = _sql_text(study.parts_glob())
    units = record.get("parameter_units", {})
    analysis = (
        store.read_json(study.analysis / "analysis.json")
        if (study.analysis / "analysis.json").exists()
        else None
    )
    analyzed = analysis is not None and analysis.get("fingerprint") == record["fingerprint"]
    spec = record["spec"]
    seconds = record.get("run_seconds") or None
    con.execute(
        "INSERT INTO sweeps.studies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            name,
            record["kernel"],
            record["design"],
            spec.get("description", ""),
            record["fingerprint"],
            record["code_version"],
            record["data_fingerprint"],
            record["n_scenarios"],
            record.get("chunk_size"),
            spec.get("seed"),
            record["swept_parameters"],
            [o["name"] for o in record["outputs"]],
            record["years"],
            json.dumps(spec),
            json.dumps(record.get("fixed_parameters", {})),
            record.get("started_at"),
            record.get("finished_at"),
            seconds,
            record["n_scenarios"] / seconds if seconds else None,
            analyzed,
            analysis["warnings"] if analyzed else [],
            study.parts_glob(),
        ],
    )
    swept = record["swept_parameters"]
    columns = ", ".join(_quote(p) for p in swept)
    unit_cases = " ".join(f"WHEN {_sql_text(p)} THEN {_sql_text(units.get(p, ''))}" for p in swept)
    con.execute(
        f"""
        INSERT INTO sweeps.scenarios
        SELECT {_sql_text(name)}, scenario_id, parameter, value, CASE parameter {unit_cases} END
        FROM (UNPIVOT (SELECT scenario_id, {columns} FROM read_parquet({glob}))
              ON {columns} INTO NAME parameter VALUE value)
        """
    )
    scalars = [o for o in record["outputs"] if o["kind"] == "scalar"]
    if scalars:
        columns = ", ".join(_quote(o["name"]) for o in scalars)
        unit_cases = " ".join(
            f"WHEN {_sql_text(o['name'])} THEN {_sql_text(o['unit'])}" for o in scalars
        )
        con.execute(
            f"""
            INSERT INTO sweeps.outcomes
            SELECT {_sql_text(name)}, scenario_id, outcome, value, CASE outcome {unit_cases} END
            FROM (UNPIVOT (SELECT scenario_id, {columns} FROM read_parquet({glob}))
                  ON {columns} INTO NAME outcome VALUE value)
            """
        )
    if analyzed:
        for table in ANALYSIS_TABLES:
            path = study.analysis / f"{table}.parquet"
            con.execute(
                f"INSERT INTO sweeps.{table} SELECT * FROM read_parquet({_sql_text(str(path))})"
            )
    return name


def load_sweeps(con: duckdb.DuckDBPyConnection, sweeps_root: Path) -> SweepsLoad:
    """Create schema ``sweeps`` and fill it from every verified study under ``sweeps_root``.

    A study that does not verify, or fails to load, is quarantined with the reason instead of
    failing the refresh. Analysis tables are loaded for a study only when its analysis belongs
    to its current results (same fingerprint).
    """
    create_tables(con)
    _load_kernels(con)
    scan = store.scan_studies(Path(sweeps_root))
    result = SweepsLoad(quarantined=list(scan.quarantined), ignored=list(scan.ignored))
    for check in scan.loadable:
        study = store.StudyDir(check.directory)
        con.execute("BEGIN TRANSACTION")
        try:
            result.loaded.append(_load_study(con, study))
        except (KeyError, TypeError, ValueError, duckdb.Error) as error:
            con.execute("ROLLBACK")
            reason = f"cannot be loaded into the warehouse: {type(error).__name__}: {error}"
            result.quarantined.append(store.Quarantined(check.directory, reason))
        else:
            con.execute("COMMIT")
    for item in result.quarantined:
        con.execute(
            "INSERT INTO sweeps.quarantined_studies VALUES (?, ?, ?)",
            [str(item.directory), item.name, item.reason],
        )
    return result
