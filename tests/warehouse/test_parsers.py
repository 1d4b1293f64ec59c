"""Parsers on the real published files reproduce the known facts, and on small inputs their rules."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from migsys.warehouse.parsers import (
    RULES,
    banxico,
    banxico_municipal,
    conapo,
    inegi,
    topojson,
    un,
    worldbank,
)
from migsys.warehouse.parsers.common import RowError, csv_records, decode_published, repair_mojibake
from migsys.warehouse.raw_schema import RAW_TABLES
from migsys.warehouse.sources import SOURCES, ingested_sources, registered_files, source_by_id

pytestmark = pytest.mark.real_data


def _parse(real_sources: Path, file_name: str):
    source = registered_files()[file_name]
    return source.parser(real_sources / file_name, file_name)


# ---- registry ----------------------------------------------------------------------------


def test_registry_has_one_source_per_raw_table() -> None:
    assert [s.id for s in ingested_sources()] == list(RAW_TABLES)
    for source in SOURCES:
        # Every file has a download address, unless it comes with the data (boundaries).
        downloadable = {name for name, _ in source.mirror_files}
        assert downloadable | set(source.supplied_files) == set(source.files)
        assert not downloadable & set(source.supplied_files)
        assert source.url.startswith("https://")


def test_source_by_id_names_the_registered_ids_when_unknown() -> None:
    assert source_by_id("inegi_census").files[0] == "inegi/censo_1990.csv"
    with pytest.raises(KeyError, match="unknown source id 'inegi'.*inegi_census"):
        source_by_id("inegi")


# ---- every real file ---------------------------------------------------------------------


@pytest.mark.parametrize("file_name", sorted(registered_files(ingested_sources())))
def test_real_file_parses_without_rejects(real_sources: Path, file_name: str) -> None:
    result = _parse(real_sources, file_name)
    assert result.rejects == []
    assert result.rows_read == len(result.rows) > 0
    expected_columns = set(RAW_TABLES[registered_files()[file_name].id]) | {"line_number"}
    assert set(result.rows[0]) == expected_columns


# ---- INEGI -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "national"),
    [(2000, 97_483_412), (2005, 103_263_388), (2010, 112_336_538), (2020, 126_014_024)],
)
def test_inegi_national_population(real_sources: Path, year: int, national: int) -> None:
    rows = _parse(real_sources, f"inegi/censo_{year}.csv").rows
    (nation,) = [r for r in rows if r["row_level"] == "national"]
    assert nation["total"] == national
    assert nation["total"] == nation["male"] + nation["female"]
    municipal = [r for r in rows if r["row_level"] == "municipality"]
    assert sum(r["total"] for r in municipal) == national
    assert len({r["cve_ent"] for r in rows if r["row_level"] == "state"}) == 32


def test_inegi_2020_quirks_plural_sex_columns_rows_by_name_and_13_new_municipalities(
    real_sources: Path,
) -> None:
    """censo_2020.csv: Hombres/Mujeres, no age line, rows ordered by name within a state (El
    Llano, 01010, comes before Jesús María, 01005), and 13 municipalities created since 2010."""
    rows = _parse(real_sources, "inegi/censo_2020.csv").rows
    municipal = {r["cve_ent"] + r["cve_mun"]: r for r in rows if r["row_level"] == "municipality"}
    assert len(municipal) == 2469
    aguascalientes = [r["cve_mun"] for r in rows if r["cve_ent"] == "01" and r["cve_mun"]]
    assert aguascalientes[:6] == ["001", "002", "003", "004", "010", "005"]
    assert (municipal["01010"]["line_number"], municipal["01010"]["area_name"]) == (11, "El Llano")
    earlier = {
        r["cve_ent"] + r["cve_mun"]
        for r in _parse(real_sources, "inegi/censo_2010.csv").rows
        if r["row_level"] == "municipality"
    }
    created = sorted(set(municipal) - earlier)
    assert len(created) == 13 and set(earlier) <= set(municipal)
    assert ("02006", "San Quintín") in [(k, municipal[k]["area_name"]) for k in created]
    assert municipal["23011"]["area_name"] == "Puerto Morelos"


def test_inegi_keys_are_zero_padded_and_lines_physical(real_sources: Path) -> None:
    rows = _parse(real_sources, "inegi/censo_2000.csv").rows
    first_municipality = next(r for r in rows if r["row_level"] == "municipality")
    assert (first_municipality["cve_ent"], first_municipality["cve_mun"]) == ("01", "001")
    # Line 7 of censo_2000.csv is Aguascalientes' =CONCATENAR(0,01) row (after 4 title lines).
    state = next(r for r in rows if r["row_level"] == "state")
    assert (state["line_number"], state["cve_ent"], state["total"]) == (7, "01", 944_285)
    guanajuato = next(r for r in rows if r["row_level"] == "state" and r["cve_ent"] == "11")
    assert guanajuato["area_name"] == "Guanajuato"  # key published as =CONCATENAR( ,11)


def test_inegi_series_matches_the_single_year_files(real_sources: Path) -> None:
    series = _parse(real_sources, "inegi/censo_1990-2010.csv")
    assert series.rows_per_record == 5
    national = {
        (r["sex"], r["census_year"]): r["population"]
        for r in series.rows
        if r["row_level"] == "national"
    }
    for year in (1990, 1995, 2000, 2005, 2010):
        single = _parse(real_sources, f"inegi/censo_{year}.csv").rows
        (nation,) = [r for r in single if r["row_level"] == "national"]
        assert national[("Total", year)] == nation["total"]
        assert national[("Hombre", year)] == nation["male"]
        assert national[("Mujer", year)] == nation["female"]
    # Municipalities created after 1990 have an empty 1990 cell: NULL, not 0.
    llano_1990 = [
        r["population"]
        for r in series.rows
        if (r["cve_ent"], r["cve_mun"], r["census_year"]) == ("01", "010", 1990)
    ]
    assert llano_1990 == [None, None, None]


def test_inegi_series_footnote_split_over_two_lines_is_skipped(real_sources: Path) -> None:
    result = _parse(real_sources, "inegi/censo_1990-2010.csv")
    physical = (real_sources / "inegi/censo_1990-2010.csv").read_bytes().count(b"\n")
    data_lines = result.rows_read // result.rows_per_record
    assert data_lines + result.lines_skipped == physical


def test_inegi_missing_national_row_is_reported(real_sources: Path) -> None:
    lines = (real_sources / "inegi/censo_2000.csv").read_bytes().split(b"\r\n")
    assert b"97,483,412" in lines[5]
    damaged = b"\r\n".join(lines[:5] + lines[6:])
    result = inegi.parse_census(damaged, "inegi/censo_2000.csv")
    assert [(r.rule, r.line_number) for r in result.rejects] == [("total.mismatch", None)]
    assert "no national total row" in result.rejects[0].message
    assert result.rows_read == len(result.rows) + result.rows_rejected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (" ", ("national", None, None)),
        ("", ("national", None, None)),
        ("=CONCATENAR(0,01) ", ("state", "01", None)),
        ("=CONCATENAR( ,32)", ("state", "32", None)),
        (" 07 123 ", ("municipality", "07", "123")),
    ],
)
def test_inegi_key_cells(cell: str, expected: tuple) -> None:
    key = inegi.classify_key(cell)
    assert (key.row_level, key.cve_ent, key.cve_mun) == expected


@pytest.mark.parametrize(
    ("cell", "rule"),
    [
        (" 33 001 ", "key.unknown_state"),
        ("=CONCATENAR(0,00) ", "key.unknown_state"),
        ("01001", "key.format"),
    ],
)
def test_inegi_bad_key_cells(cell: str, rule: str) -> None:
    with pytest.raises(RowError) as caught:
        inegi.classify_key(cell)
    assert caught.value.rule == rule


# ---- CONAPO ------------------------------------------------------------------------------


def test_conapo_2000_table_1_degrees_and_households(real_sources: Path) -> None:
    rows = _parse(real_sources, "conapo/iim_2000_municipal.csv").rows
    degrees = Counter(r["gim_2000"] for r in rows)
    assert degrees == {
        "Very high": 162,
        "High": 330,
        "Medium": 392,
        "Low": 593,
        "Very low": 873,
        "Null": 93,
    }
    assert sum(r["tot_huo"] for r in rows) == 22_639_808
    assert all(r["iim_2000"] is None for r in rows if r["gim_2000"] == "Null")
    assert all(r["iim_2000"] is not None for r in rows if r["gim_2000"] != "Null")
    assert {"Cosío", "Jesús María", "Llano, El"} <= {r["mun_name"] for r in rows}


def test_conapo_2010_latin1_names_and_null_ranks(real_sources: Path) -> None:
    rows = _parse(real_sources, "conapo/IIM2010_BASEMUN.csv").rows
    assert len(rows) == 2456
    assert rows[3]["nom_mun"] == "Cosío"
    nulo = [r for r in rows if r["gim_2010"] == "0 Nulo"]
    assert nulo and all(r["lug_nal"] is None for r in nulo)
    ranked = sorted(r["lug_nal"] for r in rows if r["lug_nal"] is not None)
    assert ranked == list(range(1, len(ranked) + 1))


def test_conapo_2020_unpadded_keys_spanish_degrees_and_the_12_nulo_rows(real_sources: Path) -> None:
    """iim_2020_municipio.csv: one integer key state+municipality (1001 = 01001), degrees in
    Spanish, dwellings, ``pos_nal`` published as a float; the 12 'Nulo' rows have no index or
    rank and are kept."""
    rows = _parse(real_sources, "conapo/iim_2020_municipio.csv").rows
    assert len(rows) == 2469
    assert (rows[0]["cve_ent"], rows[0]["cve_mun"]) == (1, 1001)
    assert all(r["cve_mun"] // 1000 == r["cve_ent"] for r in rows)
    assert Counter(r["gim_dp2"] for r in rows) == {
        "Muy alto": 137,
        "Alto": 341,
        "Medio": 432,
        "Bajo": 686,
        "Muy bajo": 861,
        "Nulo": 12,
    }
    nulo = [r for r in rows if r["gim_dp2"] == "Nulo"]
    assert all(r["iim_dp2"] is None and r["pos_nal"] is None for r in nulo)
    assert {r["nom_mun"] for r in nulo} >= {"Seybaplaya", "Chemax", "Santiago Tepetlapa"}
    ranks = [r["pos_nal"] for r in rows if r["pos_nal"] is not None]
    assert all(isinstance(rank, int) for rank in ranks) and (min(ranks), len(ranks)) == (1, 2457)
    assert sum(r["viv_tot"] for r in rows) == 34_987_915
    assert rows[-1]["nom_mun"] == "Santa María de la Paz"  # UTF-8, not mojibake


@pytest.mark.parametrize(
    ("line", "rule", "field"),
    [
        # the key's leading digits must be the state's
        ("2,1001,X,10,1.0,1.0,1.0,1.0,60.1,Bajo,3.0", "key.format", "cve_mun"),
        # an index on a 'Nulo' row, or no index on a ranked row
        ("1,1001,X,10,0.0,0.0,0.0,0.0,60.1,Nulo,", "value.category", "gim_dp2"),
        ("1,1001,X,10,1.0,1.0,1.0,1.0,,Bajo,3.0", "value.category", "gim_dp2"),
        ("1,1001,X,10,1.0,1.0,1.0,1.0,60.1,Bajo,3.5", "value.not_numeric", "pos_nal"),
        ("1,1001,X,10,1.0,1.0,1.0,1.0,60.1,Baja,3.0", "value.category", "gim_dp2"),
    ],
)
def test_conapo_2020_rules(line: str, rule: str, field: str) -> None:
    header = ",".join(conapo.IIM_2020_COLUMNS)
    result = conapo.parse_iim_2020(f"{header}\n{line}\n".encode(), "conapo/iim_2020_municipio.csv")
    (reject,) = result.rejects
    assert (reject.rule, reject.field, reject.line_number) == (rule, field, 2)
    assert result.rows == []


@pytest.mark.parametrize(
    ("mojibake", "repaired"),
    [
        ("CosÃ\xado", "Cosío"),
        ("JesÃºs MarÃ\xada", "Jesús María"),
        ("Cosío", "Cosío"),
        ("Oaxaca", "Oaxaca"),
    ],
)
def test_repair_mojibake(mojibake: str, repaired: str) -> None:
    assert repair_mojibake(mojibake) == repaired


def test_conapo_2000_double_encoded_name_is_repaired() -> None:
    header = ",".join(conapo.IIM_2000_COLUMNS)
    line = "1,4,CosÃ\xado,2668,8.69,8.50,3.78,1.01,0.45,Medium"
    result = conapo.parse_iim_2000(f"{header}\n{line}\n".encode(), "conapo/iim_2000_municipal.csv")
    assert result.rejects == []
    assert result.rows[0]["mun_name"] == "Cosío"


# ---- Banxico, World Bank, UN -------------------------------------------------------------


def test_banxico_remittance_income_2005(real_sources: Path) -> None:
    rows = _parse(real_sources, "banxico/remesas_mensuales.csv").rows
    income_2005 = sum(
        r["valor_usd"] for r in rows if r["id_flujo"] == 1 and r["periodo"].year == 2005
    )
    assert 21.0e9 < income_2005 < 22.5e9  # "about USD 21.7 bn", in dollars not millions


def test_banxico_state_quarters_and_usdmxn_zero_is_null(real_sources: Path) -> None:
    states = _parse(real_sources, "banxico/remesas_entidad.csv").rows
    assert {r["periodo"].month for r in states} == {1, 4, 7, 10}
    assert {r["cve_ent"] for r in states} == set(range(1, 33))
    rates = _parse(real_sources, "banxico/usdmxn_mensual.csv").rows
    first_rate = next(r for r in rates if r["tipo_cambio"] is not None)
    assert first_rate["periodo"] == date(1991, 11, 1)
    assert all(r["tipo_cambio"] is None for r in rates if r["periodo"] < date(1991, 11, 1))


def test_banxico_municipal_wide_file_loads_long_with_names_under_their_state(
    real_sources: Path,
) -> None:
    """remesas_municipio.csv: one column per quarter 2013-Q1..2024-Q2 in USD millions; state rows
    (em space, ●, en space) and municipality rows (two em spaces, ⚬, en space) named, not keyed;
    states in Banxico's order, not INEGI's; one 'No identificado' per state."""
    result = _parse(real_sources, "banxico/remesas_municipio.csv")
    rows = result.rows
    assert result.rows_per_record == 46 and result.rows_read == 2520 * 46 == len(rows)
    quarters = sorted({r["periodo"] for r in rows})
    assert (quarters[0], quarters[-1], len(quarters)) == (date(2013, 1, 1), date(2024, 4, 1), 46)
    lines = {(r["line_number"], r["row_level"], r["entidad"], r["municipio"]) for r in rows}
    states = [state for _, level, state, _ in sorted(lines) if level == "state"]
    assert len(states) == 32
    assert states[:8] == [
        "Aguascalientes",
        "Baja California",
        "Baja California Sur",
        "Campeche",
        "Coahuila",
        "Colima",
        "Chiapas",
        "Chihuahua",
    ]  # Coahuila (INEGI 05) before Colima (06) before Chiapas (07): not INEGI's key order
    assert "Ciudad de México" in states and "Veracruz" in states
    named = [m for _, level, _, m in lines if level == "municipality"]
    assert named.count("No identificado") == 32 and len(named) == 32 + 2456
    assert all(m == m.strip() and "\u2003" not in m for m in named)  # bullets and spaces gone
    income_2023 = sum(
        r["valor_usd_millones"]
        for r in rows
        if r["row_level"] == "state" and r["periodo"].year == 2023
    )
    assert round(income_2023, 1) == 63_319.8  # the README's oracle, USD million


@pytest.mark.parametrize(
    ("label", "start"),
    [("Ene-Mar 2013", date(2013, 1, 1)), ("Oct-Dic 2024", date(2024, 10, 1)), ("Q1 2013", None)],
)
def test_banxico_quarter_labels(label: str, start: date | None) -> None:
    assert banxico_municipal.quarter_start(label) == start


def test_boundaries_topology_kept_as_published(real_sources: Path) -> None:
    """municipios_2020.topojson: one line; 2,469 geometries keyed by the 5-digit code as a string
    (54 MultiPolygons), quantized arcs shared between neighbours, the transform on every row."""
    result = _parse(real_sources, "inegi/municipios_2020.topojson")
    geometries = [r for r in result.rows if r["element"] == "geometry"]
    arcs = [r for r in result.rows if r["element"] == "arc"]
    assert (len(geometries), len(arcs)) == (2469, 8199)
    assert Counter(r["geometry_type"] for r in geometries) == {"Polygon": 2415, "MultiPolygon": 54}
    keys = [r["cve_mun"] for r in geometries]
    assert len(set(keys)) == 2469 and "01001" in keys and all(len(k) == 5 for k in keys)
    census = _parse(real_sources, "inegi/censo_2020.csv").rows
    assert set(keys) == {
        r["cve_ent"] + r["cve_mun"] for r in census if r["row_level"] == "municipality"
    }
    assert {r["line_number"] for r in result.rows} == {1}
    assert {(r["scale_x"], r["translate_y"]) for r in result.rows} == {
        (3.0391589701443175e-05, 14.53209836976555)
    }
    first = json.loads(arcs[0]["positions"])
    assert all(isinstance(c, int) for point in first for c in point)
    # every arc is used by one geometry (an outer border) or two (a shared border)
    uses = Counter(
        ~ref if ref < 0 else ref
        for r in geometries
        for ring in _rings(json.loads(r["arcs"]), r["geometry_type"])
        for ref in ring
    )
    assert set(uses) == set(range(len(arcs))) and set(uses.values()) <= {1, 2}


def _rings(arcs: list, geometry_type: str) -> list[list[int]]:
    polygons = [arcs] if geometry_type == "Polygon" else arcs
    return [ring for polygon in polygons for ring in polygon]


@pytest.mark.parametrize(
    ("text", "rule", "words"),
    [
        ('{"type":"Topology","objects":{"municipios":', "file.truncated", "cut"),
        ('{"type":"FeatureCollection","features":[]}', "file.format", "Topology"),
        (
            '{"type":"Topology","transform":{"scale":[1,1],"translate":[0,0]},"arcs":[[[0,0],[1,1]]],'
            '"objects":{"municipios":{"type":"GeometryCollection","geometries":['
            '{"type":"Polygon","arcs":[[0]],"properties":{"id":1001}}]}}}',
            "file.format",
            "geometry 1 of objects.municipios: properties.id is 1001",
        ),
        (
            '{"type":"Topology","transform":{"scale":[1,1],"translate":[0,0]},"arcs":[[[0,0],[1,1]]],'
            '"objects":{"municipios":{"type":"GeometryCollection","geometries":['
            '{"type":"Polygon","arcs":[[3]],"properties":{"id":"01001"}}]}}}',
            "file.format",
            "arc reference 3 is not one of the 1 arcs",
        ),
    ],
)
def test_boundaries_rules(text: str, rule: str, words: str) -> None:
    result = topojson.parse_boundaries(text.encode(), "inegi/municipios_2020.topojson")
    (reject,) = result.rejects
    assert reject.rule == rule and words in reject.message
    assert result.failed and result.rows == []


def test_worldbank_keeps_aggregates_and_mexico(real_sources: Path) -> None:
    rows = _parse(real_sources, "worldbank/population.csv").rows
    codes = {r["country_code"] for r in rows}
    assert {"MEX", "USA", "WLD"} <= codes  # WLD (World) is an aggregate: staging filters it


def test_un_empty_counts_are_null(real_sources: Path) -> None:
    rows = _parse(real_sources, "un/usa_migration.csv").rows
    assert any(r["count"] is None for r in rows)
    mexico = {
        r["year"]: r["count"] for r in rows if r["area"] == "Mexico" and r["category"] == "Inbound"
    }
    assert mexico[2000] > 9e6


def test_every_rule_used_in_the_code_is_documented() -> None:
    parsers = Path(inegi.__file__).parent
    files = [*parsers.glob("*.py"), parsers.parent / "ingest.py"]
    code = "".join(path.read_text() for path in files)
    used = set(re.findall(r'"((?:file|row|value|key|total|source)\.[a-z_]+)"', code))
    assert used and used <= set(RULES), used - set(RULES)


# ---- building blocks ---------------------------------------------------------------------


def test_decode_rejects_utf16_and_utf8_where_cp1252_is_expected() -> None:
    assert decode_published("Año".encode("utf-16"), "cp1252").rule == "file.encoding"
    assert decode_published("Año".encode(), "cp1252").rule == "file.encoding"
    assert decode_published("Año".encode("cp1252"), "cp1252") == "Año"
    bad = decode_published(b"ok\nA\x81o\n", "cp1252")
    assert (bad.rule, bad.line_number) == ("file.encoding", 2)


def test_csv_records_join_a_quoted_cell_split_over_two_lines() -> None:
    records = list(csv_records('"a","b"\r\n"split \r\ncell"\r\n"c"\r\n'))
    assert [(r.line_number, r.cells) for r in records] == [
        (1, ["a", "b"]),
        (2, ["split \ncell"]),
        (4, ["c"]),
    ]


def test_field_count_and_non_numeric_rows_are_rejected_with_their_line() -> None:
    text = "PERIODO,TIPO_CAMBIO\n2001-01-01,9.7\n2001-02-01\n2001-03-01,n/a\n"
    result = banxico.parse_usdmxn_monthly(text.encode(), "banxico/usdmxn_mensual.csv")
    assert [(r.rule, r.line_number, r.original_line) for r in result.rejects] == [
        ("row.field_count", 3, "2001-02-01"),
        ("value.not_numeric", 4, "2001-03-01,n/a"),
    ]
    assert len(result.rows) == 1 and result.rows_read == 3


def test_worldbank_duplicate_country_year() -> None:
    text = "Country Name,Country Code,Year,Value\nMexico,MEX,2000,1\nMexico,MEX,2000,2\n"
    result = worldbank.parse(text.encode(), "worldbank/gdp.csv")
    assert [(r.rule, r.line_number) for r in result.rejects] == [("key.duplicate", 3)]


def test_un_category_must_be_inbound_or_outbound() -> None:
    text = "year,country,category,area,count\n2000,USA,Sideways,Mexico,1.0\n"
    result = un.parse(text.encode(), "un/usa_migration.csv")
    assert [(r.rule, r.field) for r in result.rejects] == [("value.category", "category")]
