"""CONAPO Mexico–US migration intensity index by municipality, 2000, 2010 and 2020."""

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
    to_optional_float,
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

IIM_2020_COLUMNS = (
    "cve_ent",
    "cve_mun",
    "nom_mun",
    "viv_tot",
    "viv_rem",
    "viv_emig",
    "viv_circ",
    "viv_ret",
    "iim_dp2",
    "gim_dp2",
    "pos_nal",
)
DEGREES_2020 = frozenset({"Muy alto", "Alto", "Medio", "Bajo", "Muy bajo", "Nulo"})
NULL_DEGREE_2020 = "Nulo"


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


def municipality_key_2020(cells: dict[str, str], state: int) -> int:
    """CONAPO 2020's ``cve_mun``: the state and municipality keys as one unpadded integer
    (``1001`` for 01001). Its leading digits must be the row's ``cve_ent``."""
    key = to_key_int(cells["cve_mun"], "cve_mun")
    if key // 1000 != state or not 1 <= key % 1000 <= 999:
        raise RowError(
            "key.format",
            "cve_mun",
            f"cve_mun is {key} (expected cve_ent {state} followed by a 3-digit municipality key)",
        )
    return key


def national_rank(value: str, field: str) -> int | None:
    """``pos_nal`` is exported as a float ('1020.0'): a whole rank, or empty for 'Nulo'."""
    number = to_optional_float(value, field, non_negative=True)
    if number is None:
        return None
    if not number.is_integer() or number < 1:
        raise RowError("value.not_numeric", field, f"{field} is {value!r} (expected a whole rank)")
    return int(number)


def convert_iim_2020(cells: dict[str, str]) -> Row:
    state = to_state_key(cells["cve_ent"], "cve_ent")
    degree = to_choice(cells["gim_dp2"].strip(), "gim_dp2", DEGREES_2020)
    index = to_optional_float(cells["iim_dp2"], "iim_dp2")
    rank = national_rank(cells["pos_nal"], "pos_nal")
    # CONAPO leaves the index and the rank empty exactly for the 'Nulo' municipalities.
    if (degree == NULL_DEGREE_2020) != (index is None) or (index is None) != (rank is None):
        raise RowError(
            "value.category",
            "gim_dp2",
            f"gim_dp2 is {degree!r} with iim_dp2 {cells['iim_dp2']!r} and pos_nal "
            f"{cells['pos_nal']!r} (index and rank are empty exactly when the degree is 'Nulo')",
        )
    return {
        "cve_ent": state,
        "cve_mun": municipality_key_2020(cells, state),
        "nom_mun": cells["nom_mun"].strip(),
        "viv_tot": to_int(cells["viv_tot"], "viv_tot", non_negative=True),
        "viv_rem": to_pct(cells["viv_rem"], "viv_rem"),
        "viv_emig": to_pct(cells["viv_emig"], "viv_emig"),
        "viv_circ": to_pct(cells["viv_circ"], "viv_circ"),
        "viv_ret": to_pct(cells["viv_ret"], "viv_ret"),
        "iim_dp2": index,
        "gim_dp2": degree,
        "pos_nal": rank,
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


def parse_iim_2020(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """conapo/iim_2020_municipio.csv: UTF-8, lower-case columns, one integer key state+municipality
    without padding, degrees in Spanish, ``pos_nal`` as a float; 'Nulo' rows have no index/rank."""
    text = decode_published(read_bytes(path_or_bytes), "utf-8")
    if not isinstance(text, str):
        return ParseResult(rejects=[text])
    return parse_csv_table(
        text, IIM_2020_COLUMNS, convert_iim_2020, unique_key=lambda r: (r["cve_mun"],)
    )


def parse(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """Dispatch on the file name (the three editions differ in columns and encoding)."""
    name = Path(file_name).name
    if "2020" in name:
        return parse_iim_2020(path_or_bytes, file_name)
    if "2010" in name:
        return parse_iim_2010(path_or_bytes, file_name)
    return parse_iim_2000(path_or_bytes, file_name)
