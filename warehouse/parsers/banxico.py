"""Banco de México SIE series: remittances (monthly national, quarterly by state), USD/MXN."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from migsys.warehouse.parsers.common import (
    ParseResult,
    Row,
    RowConverter,
    RowError,
    decode_published,
    parse_csv_table,
    read_bytes,
    to_float,
    to_int,
    to_month_start,
    to_state_key,
)

MONTHLY_COLUMNS = ("PERIODO", "ID_FLUJO", "FLUJO", "OPERACIONES", "VALOR_USD")
STATE_COLUMNS = ("PERIODO", "CVE_ENT", "ENTIDAD", "VALOR_USD")
USDMXN_COLUMNS = ("PERIODO", "TIPO_CAMBIO")
QUARTER_START_MONTHS = (1, 4, 7, 10)


def convert_monthly(cells: dict[str, str]) -> Row:
    flow = to_int(cells["ID_FLUJO"], "ID_FLUJO")
    if flow not in (1, 2):
        raise RowError(
            "value.category", "ID_FLUJO", f"ID_FLUJO is {flow} (1 = income, 2 = outflows)"
        )
    return {
        "periodo": to_month_start(cells["PERIODO"], "PERIODO"),
        "id_flujo": flow,
        "flujo": cells["FLUJO"].strip(),
        "operaciones": to_int(cells["OPERACIONES"], "OPERACIONES", non_negative=True),
        "valor_usd": to_float(cells["VALOR_USD"], "VALOR_USD", non_negative=True),  # dollars
    }


def convert_state(cells: dict[str, str]) -> Row:
    period = to_month_start(cells["PERIODO"], "PERIODO")
    if period.month not in QUARTER_START_MONTHS:
        raise RowError(
            "key.format", "PERIODO", f"PERIODO is {period} (quarters start in Jan/Apr/Jul/Oct)"
        )
    return {
        "periodo": period,
        "cve_ent": to_state_key(cells["CVE_ENT"], "CVE_ENT"),
        "entidad": cells["ENTIDAD"].strip(),
        "valor_usd": to_float(cells["VALOR_USD"], "VALOR_USD", non_negative=True),
    }


def convert_usdmxn(cells: dict[str, str]) -> Row:
    rate = to_float(cells["TIPO_CAMBIO"], "TIPO_CAMBIO", non_negative=True)
    return {
        "periodo": to_month_start(cells["PERIODO"], "PERIODO"),
        # SIE exports months without a FIX observation as 0: no data, not a rate.
        "tipo_cambio": rate if rate > 0 else None,
    }


def _parse(
    path_or_bytes: Path | str | bytes,
    columns: tuple[str, ...],
    convert: RowConverter,
    unique_key: Callable[[Row], tuple[Any, ...]],
) -> ParseResult:
    text = decode_published(read_bytes(path_or_bytes), "utf-8")
    if not isinstance(text, str):
        return ParseResult(rejects=[text])
    return parse_csv_table(text, columns, convert, unique_key=unique_key)


def parse_remittances_monthly(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    return _parse(
        path_or_bytes, MONTHLY_COLUMNS, convert_monthly, lambda r: (r["periodo"], r["id_flujo"])
    )


def parse_remittances_state(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    return _parse(
        path_or_bytes, STATE_COLUMNS, convert_state, lambda r: (r["periodo"], r["cve_ent"])
    )


def parse_usdmxn_monthly(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    return _parse(path_or_bytes, USDMXN_COLUMNS, convert_usdmxn, lambda r: (r["periodo"],))


def parse(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """Dispatch on the file name: remesas_mensuales, remesas_entidad or usdmxn_mensual."""
    name = Path(file_name).name
    if name.startswith("usdmxn"):
        return parse_usdmxn_monthly(path_or_bytes, file_name)
    if "entidad" in name:
        return parse_remittances_state(path_or_bytes, file_name)
    return parse_remittances_monthly(path_or_bytes, file_name)
