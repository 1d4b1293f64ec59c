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


# Tables whose data cannot reach 2020: the UN file ends with the 2017 revision (stale, and the
# report says so); the claims are the paper's own years.
# Marts whose rows are not about the latest years: the UN stock ends in 2017, the paper's claims
# are its own years, and the forecast method was chosen on pairs up to 2010/2012 by design.
BEFORE_2020 = frozenset(
    {"main.fct_migrant_stock", "main.fct_paper_claims_check", "main.fct_forecast_method_choice"}
)
LATEST_YEARS = ("2020", "2024")


def examples() -> list[str]:
    return [m.group("sql").strip() for m in SQL_BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def examples_by_table() -> list[tuple[str, str]]:
    """(table of the heading above it, query) for every example."""
    text = DOC.read_text(encoding="utf-8")
    headings = [(m.start(), m.group("table")) for m in HEADING.finditer(text)]
    return [
        (next(table for start, table in reversed(headings) if start < m.start()), m.group("sql"))
        for m in SQL_BLOCK.finditer(text)
    ]


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


@pytest.mark.parametrize(
    ("table", "sql"),
    [pair for pair in examples_by_table() if pair[0] not in BEFORE_2020],
    ids=lambda value: value if value.startswith(("main.", "raw.")) else "",
)
def test_example_query_shows_the_latest_data(published_home, table: str, sql: str) -> None:
    """Every example reaches the latest data: the 2020 census or remittances to 2024."""
    con = open_read_only(published_home.warehouse)
    try:
        answer = query_connection(con, sql)
    finally:
        con.close()
    cells = {str(value) for column in answer.columns for value in column.to_pylist()}
    assert any(year in cell for cell in cells for year in LATEST_YEARS), f"{table}:\n{sql}"
