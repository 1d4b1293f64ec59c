"""The ``raw`` schema: one table per registered source, typed as published, plus lineage.

This is the contract between ingest (which fills these tables) and dbt staging (which reads them
with ``source('raw', ...)``). Every table exists in every build, empty when its files are absent,
so the dbt project compiles and runs on the paper's seeds alone.

Column names are the publisher's own, snake-cased; staging renames them to the warehouse's
vocabulary. Values are typed (thousands separators removed, keys parsed), never re-interpreted,
except where the publisher's own convention says a value means "missing" (documented per column).
"""

from __future__ import annotations

LINEAGE_COLUMNS: dict[str, str] = {
    "source_id": "VARCHAR NOT NULL",
    "file_name": "VARCHAR NOT NULL",  # path relative to MIGSYS_SOURCES, e.g. inegi/censo_2000.csv
    "file_sha256": "VARCHAR NOT NULL",
    "line_number": "INTEGER NOT NULL",  # 1-based physical line in the published file
    "loaded_at": "TIMESTAMP NOT NULL",
}

RAW_TABLES: dict[str, dict[str, str]] = {
    # CONAPO 2000 index, English-relabelled columns (see ../shared/data/README.md).
    "conapo_iim_2000": {
        "fe_id": "INTEGER",  # state key
        "mun_id": "INTEGER",  # 3-digit municipality key within the state
        "mun_name": "VARCHAR",  # mojibake repaired to proper UTF-8
        "tot_huo": "BIGINT",  # households
        "hou_rem": "DOUBLE",  # % households receiving remittances
        "hou_rem_last_5_years": "DOUBLE",  # % households with emigrants 1995-2000 (mislabelled)
        "hou_cir": "DOUBLE",  # % households with circular migrants
        "hou_ret": "DOUBLE",  # % households with return migrants
        "iim_2000": "DOUBLE",  # index; NULL where the degree is 'Null' (file carries 0.0)
        "gim_2000": "VARCHAR",  # degree as published: Very high, High, Medium, Low, Very low, Null
    },
    # CONAPO 2010 index, original column names.
    "conapo_iim_2010": {
        "ent": "INTEGER",
        "nom_ent": "VARCHAR",
        "mun": "INTEGER",
        "nom_mun": "VARCHAR",
        "tot_viv": "BIGINT",  # occupied dwellings
        "viv_rem": "DOUBLE",
        "viv_emig": "DOUBLE",
        "viv_circ": "DOUBLE",
        "viv_ret": "DOUBLE",
        "iim_2010": "DOUBLE",
        "iim0a100": "DOUBLE",
        "gim_2010": "VARCHAR",  # as published: '0 Nulo' ... '5 Muy Alto'
        "lug_edo": "INTEGER",
        "lug_nal": "INTEGER",
    },
    # INEGI census/count totals by municipality and sex: censo_1990/1995/2000/2005/2010.csv.
    "inegi_census": {
        "census_year": "SMALLINT",
        "row_level": "VARCHAR",  # national | state | municipality
        "cve_ent": "VARCHAR",  # '01'..'32', NULL for the national row
        "cve_mun": "VARCHAR",  # '001'.., NULL unless row_level = municipality
        "area_name": "VARCHAR",
        "total": "BIGINT",
        "male": "BIGINT",
        "female": "BIGINT",
    },
    # INEGI censo_1990-2010.csv: the same five years side by side, long format here.
    "inegi_census_series": {
        "row_level": "VARCHAR",
        "cve_ent": "VARCHAR",
        "cve_mun": "VARCHAR",
        "area_name": "VARCHAR",
        "sex": "VARCHAR",  # Total | Hombre | Mujer, as published
        "census_year": "SMALLINT",
        "population": "BIGINT",  # NULL where the cell is empty (municipality did not exist)
    },
    "banxico_remittances_monthly": {
        "periodo": "DATE",
        "id_flujo": "INTEGER",  # 1 = income (Ingresos), 2 = outflows (Egresos)
        "flujo": "VARCHAR",
        "operaciones": "BIGINT",
        "valor_usd": "DOUBLE",  # dollars, not millions
    },
    "banxico_remittances_state": {
        "periodo": "DATE",  # first day of the quarter
        "cve_ent": "INTEGER",
        "entidad": "VARCHAR",
        "valor_usd": "DOUBLE",
    },
    "banxico_usdmxn_monthly": {
        "periodo": "DATE",
        "tipo_cambio": "DOUBLE",  # NULL where the file carries 0 (no data, not a rate)
    },
    "worldbank_gdp": {
        "country_name": "VARCHAR",
        "country_code": "VARCHAR",
        "year": "SMALLINT",
        "value": "DOUBLE",  # current USD
    },
    "worldbank_population": {
        "country_name": "VARCHAR",
        "country_code": "VARCHAR",
        "year": "SMALLINT",
        "value": "DOUBLE",
    },
    "un_migrant_stock": {
        "year": "SMALLINT",
        "country": "VARCHAR",
        "category": "VARCHAR",  # Inbound | Outbound
        "area": "VARCHAR",
        "count": "DOUBLE",  # NULL where the published cell is empty
    },
    # CONAPO 2020 index (conapo/iim_2020_municipio.csv), CONAPO's own lower-case column names.
    "conapo_iim_2020": {
        "cve_ent": "INTEGER",
        "cve_mun": "INTEGER",  # state and municipality key as one integer, unpadded: 1001 = 01001
        "nom_mun": "VARCHAR",
        "viv_tot": "BIGINT",  # inhabited private dwellings
        "viv_rem": "DOUBLE",  # % of dwellings receiving remittances
        "viv_emig": "DOUBLE",  # % of dwellings with emigrants to the US 2015-2020
        "viv_circ": "DOUBLE",  # % of dwellings with circular migrants
        "viv_ret": "DOUBLE",  # % of dwellings with return migrants
        "iim_dp2": "DOUBLE",  # index (DP2 distance: LOWER means MORE intense); NULL for 'Nulo'
        "gim_dp2": "VARCHAR",  # degree as published: Muy alto, Alto, Medio, Bajo, Muy bajo, Nulo
        "pos_nal": "INTEGER",  # national rank (published as a float, '1020.0'); NULL for 'Nulo'
    },
    # Banxico remittance income by municipality (banxico/remesas_municipio.csv), published wide
    # (one column per quarter), loaded long: one row per line and quarter.
    "banxico_remittances_municipal": {
        "row_level": "VARCHAR",  # state (a ● row) | municipality (a ⚬ row, 'No identificado' too)
        "entidad": "VARCHAR",  # state name as published (the ● row above a municipality row)
        "municipio": "VARCHAR",  # municipality name as published; NULL on state rows
        "periodo": "DATE",  # first day of the quarter the column header names ('Ene-Mar 2013')
        "valor_usd_millones": "DOUBLE",  # USD millions, six decimals (whole dollars), as published
    },
    # INEGI municipal boundaries (inegi/municipios_2020.topojson): the TopoJSON topology as
    # published, one row per geometry and one per shared arc. The file is one line: line_number
    # is 1 for every row, element_index says which geometry or arc it is.
    "inegi_municipal_boundaries": {
        "element": "VARCHAR",  # geometry | arc
        "element_index": "INTEGER",  # 0-based position in objects.municipios.geometries / arcs
        "cve_mun": "VARCHAR",  # properties.id, the 5-digit key as published; geometry rows only
        "geometry_type": "VARCHAR",  # Polygon | MultiPolygon; geometry rows only
        "arcs": "VARCHAR",  # JSON: the rings' arc references as published (~i = arc i reversed)
        "positions": "VARCHAR",  # JSON: an arc's quantized, delta-encoded [x, y] positions
        "scale_x": "DOUBLE",  # the file's transform: longitude = x * scale_x + translate_x
        "scale_y": "DOUBLE",  # latitude = y * scale_y + translate_y (x, y: cumulative sums)
        "translate_x": "DOUBLE",
        "translate_y": "DOUBLE",
    },
}

# Rows that broke a rule, with the rule and the original line, so nothing is silently dropped.
REJECTS_COLUMNS: dict[str, str] = {
    "source_id": "VARCHAR NOT NULL",
    "file_name": "VARCHAR NOT NULL",
    "file_sha256": "VARCHAR",
    "line_number": "INTEGER",  # NULL only for file-level problems with no line (e.g. stray file)
    "rule": "VARCHAR NOT NULL",  # stable rule id, e.g. 'value.non_negative'
    "field": "VARCHAR",
    "message": "VARCHAR NOT NULL",
    "original_line": "VARCHAR",
    "loaded_at": "TIMESTAMP NOT NULL",
}

# One row per registered file per build: what was read, loaded and rejected.
SOURCE_FILES_COLUMNS: dict[str, str] = {
    "source_id": "VARCHAR NOT NULL",
    "file_name": "VARCHAR NOT NULL",
    "status": "VARCHAR NOT NULL",  # loaded | absent | failed | known (registered, not parsed)
    "file_sha256": "VARCHAR",
    "file_bytes": "BIGINT",
    "file_modified_at": "TIMESTAMP",
    "rows_read": "BIGINT NOT NULL",  # data rows; always rows_loaded + rows_rejected
    "rows_loaded": "BIGINT NOT NULL",
    "rows_rejected": "BIGINT NOT NULL",
    "lines_skipped": "BIGINT NOT NULL",  # title, header, blank and footnote lines
    "loaded_at": "TIMESTAMP NOT NULL",
    # Provenance. ``origin`` tells a build made from the files in MIGSYS_SOURCES ('sources') from
    # one made from the snapshot the package ships ('embedded', see warehouse/snapshot.py).
    "origin": "VARCHAR NOT NULL",  # sources | embedded
    "publisher": "VARCHAR NOT NULL",
    "source_url": "VARCHAR NOT NULL",  # the publisher's official page
    "licence": "VARCHAR NOT NULL",  # licence and attribution as the publisher states them
    # The edition's release: ISO date (or edition year) and where it comes from: 'file' (the file
    # states it), 'documented' (the publisher's documentation, in the registry), 'estimated' (the
    # publisher's usual lag after the latest period) or 'unknown' (warehouse.freshness).
    "release_date": "VARCHAR",
    "release_basis": "VARCHAR",
    "period_start": "VARCHAR",  # first year ('1990'), month ('1995-01') or quarter ('2003-Q1')
    "period_end": "VARCHAR",  # ... and last one the loaded rows cover
    "snapshot_created": "DATE",  # date of the embedded snapshot (origin = 'embedded' only)
}

# What period a raw table's rows cover: a sortable text key per row (year, 'YYYY-MM' or
# 'YYYY-Qn') and the condition a row must meet to count (a value is present). Conapo's files are
# the index of one year, which no column repeats.
PERIOD_KEYS: dict[str, tuple[str, str]] = {
    "conapo_iim_2000": ("'2000'", "true"),
    "conapo_iim_2010": ("'2010'", "true"),
    "inegi_census": ("cast(census_year as varchar)", "total is not null"),
    "inegi_census_series": ("cast(census_year as varchar)", "population is not null"),
    "banxico_remittances_monthly": ("strftime(periodo, '%Y-%m')", "valor_usd is not null"),
    "banxico_remittances_state": (
        "cast(year(periodo) as varchar) || '-Q' || cast(quarter(periodo) as varchar)",
        "valor_usd is not null",
    ),
    "banxico_usdmxn_monthly": ("strftime(periodo, '%Y-%m')", "tipo_cambio is not null"),
    "worldbank_gdp": ("cast(year as varchar)", "value is not null"),
    "worldbank_population": ("cast(year as varchar)", "value is not null"),
    "un_migrant_stock": ("cast(year as varchar)", "count is not null"),
    "conapo_iim_2020": ("'2020'", "true"),
    "banxico_remittances_municipal": (
        "cast(year(periodo) as varchar) || '-Q' || cast(quarter(periodo) as varchar)",
        "valor_usd_millones is not null",
    ),
    # The boundaries of the 2020 Marco Geoestadístico (the census they draw): no column says so.
    "inegi_municipal_boundaries": ("'2020'", "element = 'geometry'"),
}

# Keys a raw table must share with another source of the same build, checked by ingest once
# every file is loaded (a file keyed to another vintage is refused whole: rule
# ``key.unknown_municipality``). ``key`` and ``where`` select the keys to check and ``position``
# names each one in the message; the keys must be among ``referenced_key`` of the rows of
# ``references`` that meet ``referenced_where`` (``referenced_what``, an aggregate over the
# rows of ``references``, says which in words).
KEY_REFERENCES: dict[str, dict[str, str]] = {
    "inegi_municipal_boundaries": {
        "key": "cve_mun",
        "where": "element = 'geometry'",
        "position": "'geometry ' || (element_index + 1) || ' of objects.municipios'",
        "field": "properties.id",
        "references": "inegi_census",
        "referenced_key": "cve_ent || cve_mun",
        "referenced_where": "row_level = 'municipality' "
        "and census_year = (select max(census_year) from raw.inegi_census)",
        # SQL text naming what the keys must be, for the message
        "referenced_what": "'a municipality of the ' || max(census_year) || ' census (' "
        "|| arg_max(file_name, census_year) || ')'",
    },
}


def create_table_sql(name: str, columns: dict[str, str], schema: str = "raw") -> str:
    cols = ",\n    ".join(f"{col} {typ}" for col, typ in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {schema}.{name} (\n    {cols}\n)"


def raw_schema_ddl() -> list[str]:
    """Statements that create the whole raw schema, empty."""
    statements = ["CREATE SCHEMA IF NOT EXISTS raw"]
    for name, columns in RAW_TABLES.items():
        statements.append(create_table_sql(name, {**columns, **LINEAGE_COLUMNS}))
    statements.append(create_table_sql("rejects", REJECTS_COLUMNS))
    statements.append(create_table_sql("source_files", SOURCE_FILES_COLUMNS))
    return statements


def create_raw_schema(con) -> None:  # con: duckdb.DuckDBPyConnection
    for statement in raw_schema_ddl():
        con.execute(statement)
