"""docs/tables.md: every mart is there, and every example query returns real rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migsys.warehouse.sql import open_read_only, query_connection

DOC = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
SQL_BLOCK = re.compile(r"```sql\n(?P<sql>.*?)```", re.DOTALL)
HEADING = re.compile(r"^## (?:.*: )?(?P<table>\w+\.\w+) — one row per", re.MULTILINE)

pytestmark = pytest.mark.real_data


def examples() -> list[str]:
    return [m.group("sql").strip() for m in SQL_BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_the_page_has_an_example_per_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert len(HEADING.findall(text)) == len(examples()) >= 13


@pytest.mark.parametrize("sql", examples(), ids=lambda sql: sql.splitlines()[0][:60])
def test_example_query_returns_real_rows(published_home, sql: str) -> None:
    """Through the same allow-list as `migsys sql`; no column of the answer is all empty."""
    con = open_read_only(published_home.warehouse)
    try:
        table = query_connection(con, sql)
    finally:
        con.close()
    assert table.num_rows > 0, sql
    for name in table.column_names:
        assert table.column(name).null_count < table.num_rows, f"{name} is all NULL in:\n{sql}"


def test_every_mart_of_the_published_warehouse_is_documented(published_home) -> None:
    con = open_read_only(published_home.warehouse)
    try:
        marts = {
            f"main.{name}"
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'main' "
                "and (table_name like 'fct\\_%' escape '\\' or table_name like 'dim\\_%' escape '\\')"
            ).fetchall()
        }
    finally:
        con.close()
    documented = set(HEADING.findall(DOC.read_text(encoding="utf-8")))
    assert marts and marts <= documented, f"undocumented marts: {sorted(marts - documented)}"
