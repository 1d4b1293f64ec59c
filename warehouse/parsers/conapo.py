"""CONAPO Mexico–US migration intensity index by municipality, 2000 and 2010."""

from __future__ import annotations

from pathlib import Path

from migsys.warehouse.parsers.common import (
    ParseResult,
    Row,
    RowError,
    decode_published,
    parse_csv_table,
    read_bytes,
    repair_mojibake,
    to_choice,
    to_float,
    to_int,
    to_key_int,
    to_optional_int,
    to_pct,
    to_state_key,
)

IIM_2000_COLUMNS = (
    "FE_ID",
    "MUN_ID",
    "MUN_NAME",
    "TOT_HUO",
    "HOU_REM",
    "HOU_REM_LAST_5_YEARS",
    "HOU_CIR",
    "HOU_RET",
    "IIM_2000",
    "GIM_2000",
)
DEGREES_2000 = frozenset({"Very high", "High", "Medium", "Low", "Very low", "Null"})

IIM_2010_COLUMNS = (
    "ENT",
    "NOM_ENT",
    "MUN",
    "NOM_MUN",
    "TOT_VIV",
    "VIV_REM",
    "VIV_EMIG",
    "VIV_CIRC",
    "VIV_RET",
    "IIM_2010",
    "IIM0a100",
    "GIM_2010",
    "LUG_EDO",
    "LUG_NAL",
)
DEGREES_2010 = frozenset({"0 Nulo", "1 Muy Bajo", "2 Bajo", "3 Medio", "4 Alto", "5 Muy Alto"})


def municipality_number(value: str, field: str) -> int:
    """Municipality key within its state: 1..999 (three digits in INEGI's key)."""
    number = to_key_int(value, field)
    if not 1 <= number <= 999:
        raise RowError("key.format", field, f"{field} is {number} (municipality keys are 1..999)")
    return number


def convert_iim_2000(cells: dict[str, str]) -> Row:
    degree = to_choice(cells["GIM_2000"].strip(), "GIM_2000", DEGREES_2000)
    index = to_float(cells["IIM_2000"], "IIM_2000")
    return {
        "fe_id": to_state_key(cells["FE_ID"], "FE_ID"),
        "mun_id": municipality_number(cells["MUN_ID"], "MUN_ID"),
        # The mirror may carry names double-encoded ("CosÃ\xado"); repair keeps good names as they are.
        "mun_name": repair_mojibake(cells["MUN_NAME"].strip()),
        "tot_huo": to_int(cells["TOT_HUO"], "TOT_HUO", non_negative=True),
        "hou_rem": to_pct(cells["HOU_REM"], "HOU_REM"),
        "hou_rem_last_5_years": to_pct(cells["HOU_REM_LAST_5_YEARS"], "HOU_REM_LAST_5_YEARS"),
        "hou_cir": to_pct(cells["HOU_CIR"], "HOU_CIR"),
        "hou_ret": to_pct(cells["HOU_RET"], "HOU_RET"),
        # 'Null' municipalities carry 0.0, which is a placeholder, not an index value.
        "iim_2000": None if degree == "Null" else index,
        "gim_2000": degree,
    }


def convert_iim_2010(cells: dict[str, str]) -> Row:
    return {
        "ent": to_state_key(cells["ENT"], "ENT"),
        "nom_ent": cells["NOM_ENT"].strip(),
        "mun": municipality_number(cells["MUN"], "MUN"),
        "nom_mun": cells["NOM_MUN"].strip(),
        "tot_viv": to_int(cells["TOT_VIV"], "TOT_VIV", non_negative=True),
        "viv_rem": to_pct(cells["VIV_REM"], "VIV_REM"),
        "viv_emig": to_pct(cells["VIV_EMIG"], "VIV_EMIG"),
        "viv_circ": to_pct(cells["VIV_CIRC"], "VIV_CIRC"),
        "viv_ret": to_pct(cells["VIV_RET"], "VIV_RET"),
        "iim_2010": to_float(cells["IIM_2010"], "IIM_2010"),
        "iim0a100": to_pct(cells["IIM0a100"], "IIM0a100"),
        "gim_2010": to_choice(cells["GIM_2010"].strip(), "GIM_2010", DEGREES_2010),
        # Ranks are empty for the 'Nulo' municipalities.
        "lug_edo": to_optional_int(cells["LUG_EDO"], "LUG_EDO", non_negative=True),
        "lug_nal": to_optional_int(cells["LUG_NAL"], "LUG_NAL", non_negative=True),
    }


def parse_iim_2000(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """conapo/iim_2000_municipal.csv: UTF-8, English-relabelled columns."""
    text = decode_published(read_bytes(path_or_bytes), "utf-8")
    if not isinstance(text, str):
        return ParseResult(rejects=[text])
    return parse_csv_table(
        text, IIM_2000_COLUMNS, convert_iim_2000, unique_key=lambda r: (r["fe_id"], r["mun_id"])
    )


def parse_iim_2010(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """conapo/IIM2010_BASEMUN.csv: Latin-1, CONAPO's own column names, keys not zero-padded."""
    text = decode_published(read_bytes(path_or_bytes), "cp1252")
    if not isinstance(text, str):
        return ParseResult(rejects=[text])
    return parse_csv_table(
        text, IIM_2010_COLUMNS, convert_iim_2010, unique_key=lambda r: (r["ent"], r["mun"])
    )


def parse(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """Dispatch on the file name (2000 and 2010 files differ in columns and encoding)."""
    if "2010" in Path(file_name).name:
        return parse_iim_2010(path_or_bytes, file_name)
    return parse_iim_2000(path_or_bytes, file_name)
