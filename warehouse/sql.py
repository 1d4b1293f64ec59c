"""Read-only SQL access to the published warehouse for analysts.

Every statement is classified by DuckDB's own parser before it runs; anything but a read is refused
with the statement type named. The connection is also opened ``read_only`` so that even a statement
the classifier lets through cannot change the file. Because the refresh builds into a separate file
and swaps it in with ``os.replace``, readers never meet the writer's lock.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

READ_STATEMENT_TYPES = frozenset(
    {
        duckdb.StatementType.SELECT,
        duckdb.StatementType.EXPLAIN,
        duckdb.StatementType.PRAGMA,
    }
)

OUTPUT_FORMATS = ("table", "csv", "json", "parquet")


class WarehouseMissing(FileNotFoundError):
    """No published warehouse yet."""


class WriteRefused(ValueError):
    """An analyst query tried to change something."""


def open_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not warehouse.is_file():
        raise WarehouseMissing(
            f"no published warehouse at {warehouse}: run `migsys refresh` first "
            "(or point MIGSYS_HOME at a folder that holds warehouse.duckdb)"
        )
    return duckdb.connect(str(warehouse), read_only=True)


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> list[duckdb.Statement]:
    """Parse ``sql`` and refuse any statement that is not a read."""
    statements = con.extract_statements(sql)
    if not statements:
        raise ValueError("empty query: nothing to run")
    for number, statement in enumerate(statements, start=1):
        if statement.type not in READ_STATEMENT_TYPES:
            kind = statement.type.name
            raise WriteRefused(
                f"statement {number} is {kind}: `migsys sql` only runs reads "
                "(SELECT, WITH … SELECT, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, PRAGMA); "
                "the warehouse is rebuilt by `migsys refresh`, never edited in place"
            )
    return statements


def run_query(warehouse: Path, sql: str) -> pa.Table:
    """Run read-only ``sql`` on the published warehouse; the last statement's rows as Arrow."""
    con = open_read_only(warehouse)
    try:
        return query_connection(con, sql)
    finally:
        con.close()


def query_connection(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    statements = check_read_only(con, sql)
    for statement in statements[:-1]:
        con.execute(statement.query).fetchall()
    relation = con.sql(statements[-1].query)
    if relation is None:  # a PRAGMA that returns nothing
        return pa.table({})
    return relation.to_arrow_table()


def write_table(table: pa.Table, output: Path, fmt: str) -> Path:
    """Write ``table`` to ``output`` atomically (temp file + rename) in ``fmt``."""
    if fmt not in ("csv", "json", "parquet"):
        raise ValueError(f"--format must be one of csv, json, parquet (got {fmt!r})")
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "csv":
            pa_csv.write_csv(table, tmp)
        elif fmt == "parquet":
            pq.write_table(table, tmp)
        else:
            tmp.write_text(json.dumps(table.to_pylist(), default=str, ensure_ascii=False, indent=1))
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output
