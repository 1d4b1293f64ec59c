"""Read-only analyst access: an allow-list of reads, refusals by name, sandbox, safe outputs."""

from __future__ import annotations

import ast
import json
import os
import stat
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from project_code import REPO_ROOT, project_modules
from typer.testing import CliRunner

import migsys
from migsys.cli.app import app
from migsys.warehouse import sql as sql_module
from migsys.warehouse.sql import (
    OutputError,
    WarehouseMissing,
    WriteRefused,
    check_read_only,
    open_read_only,
    query_connection,
    run_query,
    write_table,
)

RULE = "Rule: `migsys sql` runs only statements that read"


@pytest.fixture()
def small_warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "home" / "warehouse.duckdb"
    path.parent.mkdir()
    con = duckdb.connect(str(path))
    con.execute(
        "create table t as select range as i, range * 2 as j, 'x' || (range % 2) as c from range(5)"
    )
    con.execute("create table fct_remittances_annual as select 2005 as year, 21.7 as usd_bn")
    con.close()
    return path


@pytest.fixture()
def umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# --- the allow-list --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "rows"),
    [
        ("select sum(j) as s from t", [{"s": 20}]),
        ("with a as (select max(i) as m from t) select m from a", [{"m": 4}]),
        ("values (1), (2)", [{"col0": 1}, {"col0": 2}]),
        ("from t select count(*) as n", [{"n": 5}]),
        ("pivot (select c, j from t) on c in ('x0', 'x1') using max(j)", [{"x0": 8, "x1": 6}]),
        # A dynamic PIVOT (no IN list): DuckDB parses it as several statements of its own.
        ("pivot (select c, j from t) on c using max(j)", [{"x0": 8, "x1": 6}]),
        ("select * from (pivot (select c from t) on c using count(*))", [{"x0": 3, "x1": 2}]),
        ("unpivot (select 1 as a, 2 as b) on a, b into name k value v", None),
        ("describe t", None),
        ("show tables", None),
        ("show all tables", None),
        ("summarize t", None),
        ("explain select * from t", None),
        ("explain analyze select * from t", None),
        ("explain (format json) select 1", None),
        ("explain analyze pivot t on c using max(j)", None),
        ("with p as (pivot (select c, j from t) on c using max(j)) select x1 from p", [{"x1": 6}]),
        ("(pivot (select c, j from t) on c using max(j))", [{"x0": 8, "x1": 6}]),
        ("pragma table_info('t')", None),
        ("pragma show_tables", None),
        ("pragma version", None),
        ("/* a comment */ select 1 as one; -- another", [{"one": 1}]),
    ],
)
def test_reads_are_accepted(small_warehouse: Path, statement: str, rows: list | None) -> None:
    table = run_query(small_warehouse, statement)
    if rows is not None:
        assert table.to_pylist() == rows
    else:
        assert table.num_rows > 0


@pytest.mark.parametrize(
    ("statement", "name"),
    [
        ("insert into t values (9, 9, 'x')", "INSERT INTO"),
        ("update t set j = 0", "UPDATE"),
        ("delete from t", "DELETE FROM"),
        ("create table u as select 1", "CREATE TABLE"),
        ("create temp table u as select 1", "CREATE TEMP TABLE"),
        ("drop table t", "DROP TABLE"),
        ("copy t to 'OUT/copied.csv'", "COPY"),
        ("explain analyze copy t to 'OUT/explained.csv'", "EXPLAIN ANALYZE COPY"),
        ("explain copy t to 'OUT/explained.csv'", "EXPLAIN COPY"),
        ("export database 'OUT/exported'", "EXPORT DATABASE"),
        ("attach 'OUT/other.duckdb' as other", "ATTACH"),
        ("detach other", "DETACH"),
        ("install httpfs", "INSTALL"),
        ("force install httpfs", "FORCE INSTALL"),
        ("load httpfs", "LOAD"),
        ("update extensions", "UPDATE EXTENSIONS"),
        ("set enable_external_access = true", "SET"),
        ("reset threads", "RESET"),
        ("set variable x = 1", "SET VARIABLE"),
        ("use memory", "USE"),
        ("pragma enable_profiling", "PRAGMA enable_profiling"),
        ("pragma threads = 1", "PRAGMA threads"),
        ("call pragma_version()", "CALL"),
        ("checkpoint", "CHECKPOINT"),
        ("begin transaction", "BEGIN TRANSACTION"),
        ("prepare p as select 1", "PREPARE"),
        ("create secret (type s3)", "CREATE SECRET"),
        ("with x as (select 1 as i) insert into t select i, i, 'x' from x", "WITH … INSERT"),
        # Also parsed as several statements, like a dynamic PIVOT, but not a query:
        ("with p as (pivot t on c using max(j)) insert into t select 1, 1, 'x'", "WITH … INSERT"),
        ("create temp table p as pivot t on c using max(j)", "CREATE TEMP TABLE"),
        ("insert into t select * from (pivot t on c using max(j))", "INSERT INTO"),
        (
            "explain analyze create temp table p as pivot t on c using max(j)",
            "EXPLAIN ANALYZE CREATE TEMP TABLE",
        ),
    ],
)
def test_everything_else_is_refused_by_name(
    small_warehouse: Path, tmp_path: Path, statement: str, name: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    statement = statement.replace("OUT", str(out))
    before = small_warehouse.read_bytes()
    with pytest.raises(WriteRefused) as refused:
        run_query(small_warehouse, statement)
    message = str(refused.value)
    assert f"statement 1 ({statement}) is {name}: refused" in message
    assert RULE in message
    assert small_warehouse.read_bytes() == before
    assert list(out.iterdir()) == []  # nothing written, not even by EXPLAIN ANALYZE COPY


def test_import_database_is_refused_before_its_schema_file_runs(
    small_warehouse: Path, tmp_path: Path
) -> None:
    """IMPORT DATABASE runs whatever schema.sql holds: an ATTACH … READ_WRITE and a CREATE."""
    dump = tmp_path / "dump"
    dump.mkdir()
    target = tmp_path / "written.duckdb"
    (dump / "schema.sql").write_text(
        f"ATTACH '{target}' AS w (READ_WRITE);\nCREATE TABLE w.stolen AS SELECT 1;\n"
    )
    (dump / "load.sql").write_text("")
    with pytest.raises(WriteRefused, match=r"is IMPORT DATABASE: refused"):
        run_query(small_warehouse, f"import database '{dump}'")
    assert not target.exists()


def test_the_refused_statement_of_several_is_named(small_warehouse: Path) -> None:
    with pytest.raises(WriteRefused, match=r"statement 2 \(drop table t\) is DROP TABLE"):
        run_query(small_warehouse, "pivot t on c using max(j); drop table t")
    assert run_query(small_warehouse, "select count(*) as n from t").to_pylist() == [{"n": 5}]


def test_refusal_happens_before_anything_runs(small_warehouse: Path, tmp_path: Path) -> None:
    con = open_read_only(small_warehouse)
    with pytest.raises(WriteRefused):
        check_read_only(con, f"select 1; copy t to '{tmp_path / 'x.csv'}'")
    assert not (tmp_path / "x.csv").exists()


# --- the connection itself -------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", [False, True])
def test_connection_is_read_only_without_extension_autoinstall(
    small_warehouse: Path, sandbox: bool
) -> None:
    con = open_read_only(small_warehouse, sandbox=sandbox)
    settings = dict(
        con.execute(
            "select name, value from duckdb_settings() where name in "
            "('autoinstall_known_extensions', 'autoload_known_extensions', "
            "'enable_external_access', 'lock_configuration')"
        ).fetchall()
    )
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["enable_external_access"] == ("false" if sandbox else "true")
    assert settings["lock_configuration"] == ("true" if sandbox else "false")
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("create table u as select 1")  # even past the allow-list


def test_a_select_never_downloads_an_extension(
    small_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An https path needs httpfs, st_point needs spatial: both fail, nothing is installed."""
    monkeypatch.setenv("HOME", str(tmp_path))  # DuckDB's extension folder is ~/.duckdb
    for statement in (
        "select * from read_parquet('https://127.0.0.1:9/remote.parquet')",
        "select st_point(1, 2)",
    ):
        with pytest.raises(duckdb.Error) as failed:
            run_query(small_warehouse, statement)
        assert "migsys sql does not install or load extensions" in str(failed.value)
        assert "autoinstall_known_extensions=1" not in str(failed.value)
    assert not (tmp_path / ".duckdb").exists()


@pytest.mark.parametrize(
    "statement",
    [
        "select * from read_csv('{outside}')",
        "select * from read_text('{outside}')",
        "select * from glob('{folder}/*')",
        "attach '{folder}/other.duckdb' as other",
        "copy t to '{folder}/copied.csv'",
        "explain analyze copy t to '{folder}/explained.csv'",
        "set enable_external_access = true",
        "set lock_configuration = false",
        "reset lock_configuration",
        "set autoinstall_known_extensions = true",
        "install httpfs",
    ],
)
def test_sandbox_has_no_file_access_even_past_the_allow_list(
    small_warehouse: Path, tmp_path: Path, statement: str
) -> None:
    """For a served endpoint: the connection itself refuses, whatever reaches it."""
    outside = tmp_path / "secret.csv"
    outside.write_text("a,b\n1,2\n")
    con = open_read_only(small_warehouse, sandbox=True)
    query = statement.format(outside=outside, folder=tmp_path)
    with pytest.raises(duckdb.Error, match=r"disabled by configuration|has been locked"):
        con.execute(query).fetchall()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "secret.csv"]
    # The sandbox still answers reads, dynamic PIVOT included.
    pivoted = query_connection(con, "pivot (select c, j from t) on c using max(j)")
    assert pivoted.to_pylist() == [{"x0": 8, "x1": 6}]


def test_sandbox_flag_of_the_cli(small_warehouse: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MIGSYS_HOME", str(small_warehouse.parent))
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    runner = CliRunner()
    query = f"select * from read_csv('{outside}')"
    assert runner.invoke(app, ["sql", query, "-f", "csv"]).exit_code == 0
    sandboxed = runner.invoke(app, ["sql", query, "--sandbox"])
    assert sandboxed.exit_code == 1
    assert "file system operations are disabled by configuration" in sandboxed.output


def test_missing_warehouse_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(WarehouseMissing, match="migsys refresh"):
        run_query(tmp_path / "nope.duckdb", "select 1")


# --- the Python API --------------------------------------------------------------------------


def test_python_api_connect_is_read_only(small_warehouse: Path) -> None:
    con = migsys.connect(small_warehouse.parent)
    assert con.sql("select count(*) from t").fetchall() == [(5,)]
    assert con.execute("select current_setting('autoinstall_known_extensions')").fetchall() == [
        (False,)
    ]
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("delete from t")
    con.close()


def test_python_api_connect_uses_migsys_home(small_warehouse: Path, monkeypatch) -> None:
    monkeypatch.setenv("MIGSYS_HOME", str(small_warehouse.parent))
    with migsys.connect() as con:
        assert con.sql("select max(j) from t").fetchall() == [(8,)]


def test_python_api_connect_without_warehouse_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(WarehouseMissing) as missing:
        migsys.connect(tmp_path)
    assert str(tmp_path / "warehouse.duckdb") in str(missing.value)
    assert "migsys refresh" in str(missing.value)


def test_every_reader_opens_the_warehouse_through_open_read_only() -> None:
    """One read-only connection function: no other module opens a DuckDB file read-only."""
    elsewhere = [
        f"{module.relative_to(REPO_ROOT)}:{node.lineno}"
        for module in project_modules()
        if module != REPO_ROOT / "warehouse" / "sql.py"
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and any(keyword.arg == "read_only" for keyword in node.keywords)
    ]
    assert elsewhere == [], "use migsys.warehouse.sql.open_read_only:\n" + "\n".join(elsewhere)


# --- errors analysts can act on --------------------------------------------------------------


def test_unknown_table_suggests_the_warehouse_own_tables(small_warehouse: Path) -> None:
    with pytest.raises(duckdb.CatalogException) as failed:
        run_query(small_warehouse, "select * from fct_remitances_anual")
    message = str(failed.value)
    assert "did you mean main.fct_remittances_annual?" in message
    assert "pg_" not in message


# --- outputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_write_table_formats_with_umask_permissions(
    small_warehouse: Path, tmp_path: Path, fmt: str, umask: int
) -> None:
    table = run_query(small_warehouse, "select i, j from t order by i")
    out = write_table(table, tmp_path / f"out.{fmt}", fmt)
    if fmt == "parquet":
        assert pq.read_table(out).num_rows == 5
    elif fmt == "json":
        assert json.loads(out.read_text())[4] == {"i": 4, "j": 8}
    else:
        assert out.read_text().splitlines()[0].replace('"', "") == "i,j"
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # not 0600


def test_write_table_failing_midway_keeps_the_previous_file(
    small_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.parquet"
    out.write_bytes(b"yesterday's export")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sql_module.pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_table(run_query(small_warehouse, "from t"), out, "parquet")
    assert out.read_bytes() == b"yesterday's export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out.parquet"]


@pytest.mark.parametrize("missing", ["missing", "missing/deeper/still"])
def test_output_into_a_missing_folder_is_an_error_naming_it(
    small_warehouse: Path, tmp_path: Path, monkeypatch, missing: str
) -> None:
    monkeypatch.setenv("MIGSYS_HOME", str(small_warehouse.parent))
    out = tmp_path / missing / "rows.csv"
    result = CliRunner().invoke(app, ["sql", "from t", "--output", str(out)])
    assert result.exit_code == 2
    assert f"folder {out.parent} does not exist" in result.output
    assert not (tmp_path / "missing").exists()  # no silent mkdir at any depth
    with pytest.raises(OutputError, match="never creates folders"):
        write_table(run_query(small_warehouse, "from t"), out, "csv")


def test_cli_sql_outputs_and_refuses(small_warehouse: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MIGSYS_HOME", str(small_warehouse.parent))
    runner = CliRunner()
    ok = runner.invoke(app, ["sql", "select count(*) as n from t", "--format", "csv"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[-1] == "5"
    out = tmp_path / "q.parquet"  # format from the suffix
    ok = runner.invoke(app, ["sql", "select * from t", "--output", str(out)])
    assert ok.exit_code == 0 and pq.read_table(out).num_rows == 5
    as_json = runner.invoke(app, ["sql", "select i from t where i < 2 order by i", "-f", "json"])
    assert json.loads(as_json.stdout) == [{"i": 0}, {"i": 1}]
    refused = runner.invoke(app, ["sql", "delete from t"])
    assert refused.exit_code == 1
    assert "statement 1 (delete from t) is DELETE FROM: refused" in refused.output
    no_parquet = runner.invoke(app, ["sql", "from t", "-f", "parquet"])
    assert no_parquet.exit_code == 2 and "needs --output FILE" in no_parquet.output


def test_cli_error_text_keeps_its_brackets(small_warehouse: Path, monkeypatch) -> None:
    """Rich markup must not eat [red]…[/red] or [a-z] from a refused statement."""
    monkeypatch.setenv("MIGSYS_HOME", str(small_warehouse.parent))
    statement = "copy (select '[red]x[/red]' as s, '^[a-z0-9]{0,62}$' as p) to 'f.csv'"
    result = CliRunner().invoke(app, ["sql", statement])
    assert result.exit_code == 1
    assert "'[red]x[/red]'" in result.output and "'^[a-z0-9]{0,62}$'" in result.output


def test_reader_is_not_blocked_by_a_writer_on_another_file(
    small_warehouse: Path, tmp_path: Path
) -> None:
    # The refresh writes a separate build file; an analyst connection stays usable meanwhile.
    writer = duckdb.connect(str(tmp_path / "build.duckdb"))
    writer.execute("create table big as select * from range(1000)")
    reader_a = open_read_only(small_warehouse)
    table = run_query(small_warehouse, "select count(*) as n from t")
    assert table.to_pylist() == [{"n": 5}]
    reader_a.close()
    writer.close()
