"""Hand-made municipal marts and a three-municipality topology for the report's map section.

Three municipalities (not real places): Alpha (01001) and Beta (01002) share a border inside
state 01; Gamma (02001), in state 02, was created after 2010. The topology (quantized, like the
published TopoJSON) has four arcs: 0 between Alpha and Beta, 1 and 2 their outer borders, 3
Gamma's outline; so arcs 1, 2 and 3 are state borders and arc 0 is not.
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd

TRANSFORM = (0.01, 0.01, -102.0, 20.0)  # scale x, scale y, translate x, translate y
ARCS = [
    [[10, 0], [0, 10]],  # 0: Alpha | Beta, (10,0) -> (10,10)
    [[10, 10], [-10, 0], [0, -10], [10, 0]],  # 1: Alpha's outer border
    [[10, 0], [10, 0], [0, 10], [-10, 0]],  # 2: Beta's outer border
    [[0, 20], [10, 0], [0, 10], [-10, 0], [0, -10]],  # 3: Gamma, closed
]
GEOMETRIES = [
    ("01001", "Polygon", [[1, 0]]),
    ("01002", "Polygon", [[2, -1]]),
    ("02001", "Polygon", [[3]]),
]
NAMES = {"01001": "Alpha", "01002": "Beta", "02001": "Gamma"}
STATES = {"01": "Aguascalientes", "02": "Baja California"}


def _store(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("frame_view", frame)
    con.execute(f"create table {table} as select * from frame_view")
    con.unregister("frame_view")


def boundary_rows() -> pd.DataFrame:
    scale_x, scale_y, translate_x, translate_y = TRANSFORM
    rows = [
        ("geometry", i, key, kind, json.dumps(arcs), None)
        for i, (key, kind, arcs) in enumerate(GEOMETRIES)
    ]
    rows += [("arc", i, None, None, None, json.dumps(arc)) for i, arc in enumerate(ARCS)]
    frame = pd.DataFrame(
        rows,
        columns=[
            "element",
            "element_index",
            "cve_mun",
            "geometry_type",
            "arc_references",
            "arc_positions",
        ],
    )
    frame["cve_ent"] = frame["cve_mun"].str[:2]
    frame["scale_x"], frame["scale_y"] = scale_x, scale_y
    frame["translate_x"], frame["translate_y"] = translate_x, translate_y
    return frame


def add_municipal_marts(con: duckdb.DuckDBPyConnection) -> None:
    """The marts ``reports.municipal_section`` reads, with values a test can check by hand."""
    con.execute("create schema if not exists staging")
    _store(con, "staging.stg_inegi__municipal_boundaries", boundary_rows())
    _store(
        con,
        "marts.dim_municipality",
        pd.DataFrame(
            {
                "cve_mun": list(NAMES),
                "cve_ent": [k[:2] for k in NAMES],
                "state_name": [STATES[k[:2]] for k in NAMES],
                "municipality_name": list(NAMES.values()),
                "first_census_year": [1990, 1990, 2020],
                "last_census_year": [2020, 2020, 2020],
            }
        ),
    )
    _store(
        con,
        "marts.fct_migration_intensity",
        pd.DataFrame(
            {
                "cve_mun": list(NAMES),
                "index_year": [2020] * 3,
                "intensity_degree": ["very_high", "low", "null"],
                "pct_households_remittances": [25.0, 4.0, 0.0],
            }
        ),
    )
    _store(
        con,
        "marts.fct_municipal_growth",
        pd.DataFrame(
            {
                "cve_mun": ["01001", "01002"],
                "period": ["2010-2020"] * 2,
                "population_start": [1000, 2000],
                "population_end": [900, 2300],
                "annual_growth_rate": [-0.011, 0.0145],
            }
        ),
    )
    _store(
        con,
        "marts.fct_municipal_population",
        pd.DataFrame(
            {
                "cve_mun": list(NAMES),
                "census_year": [2020] * 3,
                "population_total": [900, 2300, 500],
            }
        ),
    )
    _store(
        con,
        "marts.fct_forecasts",
        pd.DataFrame(
            {
                "kernel": ["depopulation"] * 3,
                "origin": [2020] * 3,
                "unit": list(NAMES),
                "year": [2030] * 3,
                "p05": [700.0, 2200.0, 450.0],
                "p50": [810.0, 2530.0, 520.0],
                "p95": [950.0, 2800.0, 600.0],
                "is_published": [True] * 3,
            }
        ),
    )
    remittances = pd.DataFrame(
        {
            "cve_mun": ["01001", "01002", "01001", "01002"],
            "year": [2023, 2023, 2024, 2024],
            "quarters_observed": [4, 4, 2, 2],
            "remittances_usd": [2_500_000.0, 300_000.0, 1_300_000.0, 150_000.0],
            "population_estimate": [880.0, 2400.0, 875.0, 2420.0],
            "population_method": ["census_and_forecast"] * 4,
        }
    )
    remittances["usd_per_inhabitant"] = (
        remittances["remittances_usd"] / remittances["population_estimate"]
    )
    remittances["rank_usd_per_inhabitant"] = [1, 2, 1, 2]
    remittances["usd_per_remittance_dwelling"] = [25_000.0, 3_000.0, 13_000.0, 1_500.0]
    remittances["rank_usd_per_remittance_dwelling"] = [1, 2, 1, 2]
    remittances["pct_dwellings_remittances_2020"] = [25.0, 4.0, 25.0, 4.0]
    _store(con, "marts.fct_municipal_remittances", remittances)
    _store(
        con,
        "marts.fct_municipal_remittances_quarterly",
        pd.DataFrame(
            {
                "year": [2023] * 4,
                "cve_mun": ["01001", "01002", None, None],
                "match_status": ["name_rule", "exception", "unidentified", "unmatched"],
                "remittances_usd": [2_500_000.0, 300_000.0, 40_000.0, 10_000.0],
            }
        ),
    )
    _store(
        con,
        "marts.fct_municipal_remittances_unallocated",
        pd.DataFrame(
            {
                "cve_ent": ["01", "01"],
                "state_name": ["Aguascalientes"] * 2,
                "municipality_name_published": ["No identificado", "Delta"],
                "year": [2023, 2023],
                "match_status": ["unidentified", "unmatched"],
                "match_reason": ["No identificado: not placed", "no municipality has this name"],
                "candidate_cve_mun": [None, None],
                "quarters_observed": [4, 4],
                "remittances_usd": [40_000.0, 10_000.0],
                "national_share_pct": [1.4, 0.35],
                "file_name": ["banxico/remesas_municipio.csv"] * 2,
                "line_number": [14, 9],
            }
        ),
    )
    _store(
        con,
        "marts.fct_depopulation_by_intensity",
        pd.DataFrame(
            {
                "period": ["2010-2020", "2010-2020"],
                "index_year": [2010, 2010],
                "intensity_degree": ["very_high", "low"],
                "municipalities": [1, 1],
                "depopulating_municipalities": [1, 0],
                "depopulating_pct": [100.0, 0.0],
            }
        ),
    )
