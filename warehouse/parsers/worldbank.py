"""World Bank WDI indicators in long format (datasets/gdp, datasets/population)."""

from __future__ import annotations

from pathlib import Path

from migsys.warehouse.parsers.common import (
    ParseResult,
    Row,
    RowError,
    decode_published,
    parse_csv_table,
    read_bytes,
    to_float,
    to_int,
)

COLUMNS = ("Country Name", "Country Code", "Year", "Value")


def convert(cells: dict[str, str]) -> Row:
    code = cells["Country Code"].strip()
    if not (len(code) == 3 and code.isalnum() and code.isupper()):
        raise RowError(
            "key.format", "Country Code", f"Country Code is {code!r} (ISO alpha-3 expected)"
        )
    return {
        # Aggregates (regions, income groups) are kept: staging decides what a country is.
        "country_name": cells["Country Name"].strip(),
        "country_code": code,
        "year": to_int(cells["Year"], "Year"),
        "value": to_float(cells["Value"], "Value", non_negative=True),
    }


def parse(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """gdp.csv (current USD) or population.csv: one row per country-or-aggregate and year."""
    text = decode_published(read_bytes(path_or_bytes), "utf-8")
    if not isinstance(text, str):
        return ParseResult(rejects=[text])
    return parse_csv_table(
        text, COLUMNS, convert, unique_key=lambda r: (r["country_code"], r["year"])
    )
