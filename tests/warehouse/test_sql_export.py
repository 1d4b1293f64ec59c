"""Every table of the warehouse exports in every format (issue 18, finding 2).

``migsys sql … --format csv`` ended in an Arrow traceback on list columns (``calibrations``,
``sweeps.studies``, ``SHOW ALL TABLES``). Lists and structs are JSON text in CSV, native in JSON
and Parquet; the fresh clone's warehouse (embedded data, standing study, calibrations) holds all
of them.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from migsys.warehouse.sql import open_read_only, query_connection, warehouse_tables, write_table
from migsys.warehouse.sql_output import csv_text, is_nested

MIGSYS = Path(sys.executable).parent / "migsys"


def _json_round_trip(value: object) -> object:
    return json.loads(json.dumps(value, default=str))


def _check_csv(path: Path, table: pa.Table) -> None:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0] == table.column_names, path
    assert len(rows) - 1 == table.num_rows, path
    for position, field in enumerate(table.schema):
        if not is_nested(field.type):
            continue
        values = table.column(position).to_pylist()
        for row, value in zip(rows[1:], values, strict=True):
            if value is None:
                assert row[position] == ""
            else:
                assert json.loads(row[position]) == _json_round_trip(value), (path, field.name)


def test_every_table_of_the_warehouse_exports_in_every_format(
    embedded_home, tmp_path: Path
) -> None:
    con = open_read_only(embedded_home.warehouse)
    try:
        tables = warehouse_tables(con)
        nested_tables = []
        for name in tables:
            schema, table_name = name.split(".", 1)
            # a sample is enough: what breaks an export is a column's type, not the row count
            table = query_connection(con, f'from "{schema}"."{table_name}" limit 500')
            if any(is_nested(field.type) for field in table.schema):
                nested_tables.append(name)
            for fmt in ("csv", "json", "parquet"):
                out = write_table(table, tmp_path / f"{name}.{fmt}", fmt)
                if fmt == "csv":
                    _check_csv(out, table)
                elif fmt == "json":
                    rows = json.loads(out.read_text(encoding="utf-8"))
                    assert len(rows) == table.num_rows
                    assert table.num_rows == 0 or list(rows[0]) == table.column_names
                else:
                    assert pq.read_schema(out) == table.schema  # lists and structs stay native
            assert csv_text(table).count("\n") >= table.num_rows + 1
    finally:
        con.close()
    assert len(tables) > 40
    # The tables the issue names hold lists: they were the ones that crashed.
    assert {"main.calibrations", "sweeps.studies"} <= set(nested_tables), nested_tables


@pytest.mark.parametrize(
    "query",
    ["select data_years from calibrations", "select * from sweeps.studies", "show all tables"],
)
def test_csv_of_list_columns_from_the_command_line(
    embedded_home, cli_env: dict[str, str], tmp_path: Path, query: str
) -> None:
    """The issue's commands, as a user types them: on the terminal and into a file."""
    env = {**cli_env, "MIGSYS_HOME": str(embedded_home.home)}
    shown = subprocess.run(
        [str(MIGSYS), "sql", query, "--format", "csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr and "ArrowInvalid" not in shown.stderr
    header, first, *_ = list(csv.reader(io.StringIO(shown.stdout)))
    assert any(cell.startswith("[") and isinstance(json.loads(cell), list) for cell in first), (
        header,
        first,
    )
    out = tmp_path / "x.csv"
    written = subprocess.run(
        [str(MIGSYS), "sql", query, "--output", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert written.returncode == 0, written.stderr
    assert out.read_text(encoding="utf-8") == shown.stdout
