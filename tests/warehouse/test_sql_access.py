"""Read-only analyst access: reads work, writes are refused, outputs are written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from migsys.flows.cli import app
from migsys.warehouse.sql import WarehouseMissing, WriteRefused, run_query, write_table


@pytest.fixture()
def small_warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select range as i, range * 2 as j from range(5)")
    con.close()
    return path


def test_select_returns_rows(small_warehouse: Path) -> None:
    table = run_query(small_warehouse, "select sum(j) as s from t")
    assert table.to_pylist() == [{"s": 20}]


@pytest.mark.parametrize(
    "statement",
    [
        "insert into t values (9, 9)",
        "create table u as select 1",
        "drop table t",
        "copy t to '/tmp/migsys-should-not-exist.csv'",
        "attach ':memory:' as other",
        "update t set j = 0",
        "select 1; delete from t",
    ],
)
def test_writes_are_refused_and_nothing_changes(small_warehouse: Path, statement: str) -> None:
    before = small_warehouse.read_bytes()
    with pytest.raises(WriteRefused, match="only runs reads"):
        run_query(small_warehouse, statement)
    assert small_warehouse.read_bytes() == before
    assert not Path("/tmp/migsys-should-not-exist.csv").exists()


def test_missing_warehouse_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(WarehouseMissing, match="migsys refresh"):
        run_query(tmp_path / "nope.duckdb", "select 1")


def test_reader_is_not_blocked_by_a_writer_on_another_file(
    small_warehouse: Path, tmp_path: Path
) -> None:
    # The refresh writes a separate build file; an analyst connection stays usable meanwhile.
    writer = duckdb.connect(str(tmp_path / "build.duckdb"))
    writer.execute("create table big as select * from range(1000)")
    reader_a = duckdb.connect(str(small_warehouse), read_only=True)
    table = run_query(small_warehouse, "select count(*) as n from t")
    assert table.to_pylist() == [{"n": 5}]
    reader_a.close()
    writer.close()


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_write_table_formats(small_warehouse: Path, tmp_path: Path, fmt: str) -> None:
    table = run_query(small_warehouse, "select * from t order by i")
    out = write_table(table, tmp_path / f"out.{fmt}", fmt)
    if fmt == "parquet":
        assert pq.read_table(out).num_rows == 5
    elif fmt == "json":
        assert json.loads(out.read_text())[4] == {"i": 4, "j": 8}
    else:
        assert out.read_text().splitlines()[0].replace('"', "") == "i,j"
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_cli_sql_outputs_and_refuses(small_warehouse: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MIGSYS_HOME", str(small_warehouse.parent))
    runner = CliRunner()
    ok = runner.invoke(app, ["sql", "select count(*) as n from t", "--format", "csv"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[-1] == "5"
    out = tmp_path / "q.parquet"
    ok = runner.invoke(app, ["sql", "select * from t", "--format", "parquet", "--output", str(out)])
    assert ok.exit_code == 0 and pq.read_table(out).num_rows == 5
    refused = runner.invoke(app, ["sql", "delete from t"])
    assert refused.exit_code == 1
    assert "DELETE" in refused.output


def test_cli_sql_interactive_prompt(small_warehouse: Path, monkeypatch) -> None:
    monkeypatch.setenv("MIGSYS_HOME", str(small_warehouse.parent))
    result = CliRunner().invoke(
        app, ["sql"], input="select max(j)\n as m from t;\ndrop table t;\n.exit\n"
    )
    assert result.exit_code == 0, result.output
    assert "8" in result.output
    assert "only runs reads" in result.output
