"""Read-only queries the report runs on the published warehouse.

Every query returns either a DataFrame with rows or an ``Absent`` saying which source is missing,
so a warehouse built from the embedded defaults (no source files) still renders a report.
Marts are found by name in whatever schema dbt wrote them to: the report does not depend on the
target schema name.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

# Order in which degrees are shown, as in Table 1 of the paper (CONTRACTS: degrees everywhere).
DEGREE_ORDER: tuple[str, ...] = ("very_high", "high", "medium", "low", "very_low", "null")

# Status values of fct_paper_claims_check that are not disagreements: the data agree, or the
# warehouse holds nothing to check the claim against.
AGREEING_CLAIM_STATUSES: frozenset[str] = frozenset({"consistent"})
UNCHECKABLE_CLAIM_STATUSES: frozenset[str] = frozenset({"not_checkable"})

# Which raw sources each section needs; used to explain an empty section.
SECTION_SOURCES: dict[str, tuple[str, ...]] = {
    "table1": ("conapo_iim_2000", "inegi_census"),
    "remittances": ("banxico_remittances_monthly",),
    "depopulation": ("inegi_census", "conapo_iim_2000"),
    "claims": ("conapo_iim_2000", "inegi_census", "banxico_remittances_monthly"),
    "freshness": (),
}


@dataclass(frozen=True)
class Absent:
    """A section with no data, and why (shown in the report instead of a table or plot)."""

    reason: str


def find_relation(
    con: duckdb.DuckDBPyConnection, name: str, schema: str | None = None
) -> str | None:
    """Qualified ``"schema"."name"`` of a table or view, or None when the warehouse lacks it.

    Without ``schema``, any schema but ``raw`` matches (marts' schema is dbt's choice).
    """
    if schema is None:
        condition, params = "table_schema <> 'raw'", [name]
    else:
        condition, params = "table_schema = ?", [name, schema]
    rows = con.execute(
        "select table_schema from information_schema.tables "
        f"where table_name = ? and {condition} order by table_schema",
        params,
    ).fetchall()
    if not rows:
        return None
    return f'"{rows[0][0]}"."{name}"'


def relation_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """Column names of a qualified relation, in order."""
    return [row[0] for row in con.execute(f"describe {relation}").fetchall()]


def missing_sources_reason(con: duckdb.DuckDBPyConnection, section: str) -> str:
    """Human sentence naming the absent sources behind an empty section."""
    wanted = SECTION_SOURCES.get(section, ())
    relation = find_relation(con, "source_files", schema="raw")
    if relation is None or not wanted:
        return "no data: the warehouse has no rows for this section"
    loaded = {
        row[0]
        for row in con.execute(
            f"select distinct source_id from {relation} where status = 'loaded'"
        ).fetchall()
    }
    absent = [source for source in wanted if source not in loaded]
    if not absent:
        return "no data: the marts for this section are empty although their sources loaded"
    return "no data: source " + ", ".join(absent) + " absent"


def _frame_or_absent(
    con: duckdb.DuckDBPyConnection, mart: str, sql: str, section: str
) -> pd.DataFrame | Absent:
    relation = find_relation(con, mart)
    if relation is None:
        return Absent(f"no data: table {mart} is not in the warehouse")
    frame = con.execute(sql.format(relation=relation)).df()
    if frame.empty:
        return Absent(missing_sources_reason(con, section))
    return frame


def table1(con: duckdb.DuckDBPyConnection, index_year: int = 2000) -> pd.DataFrame | Absent:
    """Table 1 recomputed from the data: municipalities, population and households by degree."""
    order = ", ".join(f"'{degree}'" for degree in DEGREE_ORDER)
    sql = f"""
        select intensity_degree, municipalities, municipalities_pct,
               population, population_pct, households, households_pct
        from {{relation}}
        where index_year = {int(index_year)}
        order by list_position([{order}], intensity_degree)
    """
    return _frame_or_absent(con, "fct_intensity_degree_summary", sql, "table1")


def table1_paper(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """Table 1 as the paper prints it (seed ``paper_table_1_intensity_2000``), degree rows."""
    relation = find_relation(con, "paper_table_1_intensity_2000")
    if relation is None:
        return Absent("no data: seed paper_table_1_intensity_2000 is not in the warehouse")
    frame = con.execute(
        f"""
        select intensity_degree, municipalities, municipalities_pct, population, population_pct,
               households, households_pct
        from {relation} where row_kind = 'degree'
        """
    ).df()
    if frame.empty:
        return Absent("no data: seed paper_table_1_intensity_2000 is empty")
    return frame


def table1_side_by_side(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """Table 1: the paper's values beside those recomputed from the data, one row per degree.

    Columns ``<measure>_paper`` and ``<measure>_data`` for municipalities, population and
    households (counts and % of the national total), in the paper's degree order. Degrees the
    data lack keep the paper's values and NULL data.
    """
    paper = table1_paper(con)
    if isinstance(paper, Absent):
        return paper
    data = table1(con)
    if isinstance(data, Absent):
        return data
    merged = paper.merge(
        data, on="intensity_degree", how="outer", suffixes=("_paper", "_data"), sort=False
    )
    order = {degree: rank for rank, degree in enumerate(DEGREE_ORDER)}
    merged = merged.sort_values(
        "intensity_degree", key=lambda column: column.map(order).fillna(len(order))
    )
    columns = ["intensity_degree"]
    for measure in ("municipalities", "population", "households"):
        for suffix in ("", "_pct"):
            columns += [f"{measure}{suffix}_paper", f"{measure}{suffix}_data"]
    return merged[columns].reset_index(drop=True)


def remittances_annual(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """Annual remittance income in USD, with its share of GDP where known."""
    sql = """
        select year, remittances_usd, remittances_pct_gdp, months_observed
        from {relation} order by year
    """
    return _frame_or_absent(con, "fct_remittances_annual", sql, "remittances")


def depopulation_by_degree(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """Depopulating municipalities by 2000 intensity degree and census period."""
    order = ", ".join(f"'{degree}'" for degree in DEGREE_ORDER)
    sql = f"""
        select period, intensity_degree_2000, municipalities,
               depopulating_municipalities, depopulating_pct
        from {{relation}}
        order by start_year, end_year, list_position([{order}], intensity_degree_2000)
    """
    return _frame_or_absent(con, "fct_depopulation_by_degree", sql, "depopulation")


def disagreeing_claims(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """Claims of the paper the data do not reproduce (every status but an agreeing one)."""
    agreeing = ", ".join(
        f"'{status}'" for status in sorted(AGREEING_CLAIM_STATUSES | UNCHECKABLE_CLAIM_STATUSES)
    )
    relation = find_relation(con, "fct_paper_claims_check")
    if relation is None:
        return Absent("no data: table fct_paper_claims_check is not in the warehouse")
    frame = con.execute(
        f"""
        select claim, location, paper_value, unit, status, explanation
        from {relation}
        where lower(coalesce(status, '')) not in ({agreeing})
        order by location, claim_id
        """
    ).df()
    if frame.empty:
        total = con.execute(f"select count(*) from {relation}").fetchone()[0]
        if total == 0:
            return Absent(missing_sources_reason(con, "claims"))
        return Absent(f"none: every checkable claim of the {total} agrees with the data")
    return frame


def source_freshness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """One row per registered source: the period its rows cover, release date and origin.

    The period comes from the data (``raw.source_files.period_start/end``, which ingest computes
    from the rows loaded), never from the time a file was copied. The release date (and its
    basis, where the warehouse records one) is that of the file holding the latest period.
    """
    relation = find_relation(con, "source_files", schema="raw")
    if relation is None:
        return Absent("no data: raw.source_files is not in the warehouse")
    columns = set(relation_columns(con, relation))
    provenance = {"origin", "period_start", "period_end", "release_date", "snapshot_created"}
    if not provenance <= columns:
        return Absent(
            "no data: this warehouse was built before ingest recorded the period and release "
            "date of each source (refresh it)"
        )
    basis = (
        "arg_max(release_basis, coalesce(period_end, ''))"
        if "release_basis" in columns
        else "null::varchar"
    )
    frame = con.execute(
        f"""
        select source_id,
               min(status) filter (where status <> 'loaded') as problem,
               count(*) as files,
               min(period_start) as period_start,
               max(period_end) as period_end,
               arg_max(coalesce(release_date, 'unknown'), coalesce(period_end, '')) as release_date,
               {basis} as release_basis,
               min(origin) as origin,
               min(snapshot_created) as snapshot_created,
               sum(rows_loaded) as rows_loaded,
               sum(rows_rejected) as rows_rejected
        from {relation}
        group by source_id
        order by source_id
        """
    ).df()
    if frame.empty:
        return Absent("no data: no source file was registered in this build")
    return frame


# The studies reach the report through their staging models (dbt_project/models/staging/sweeps),
# like every other source: the names and units analysts query, one place that renames them.


def studies(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """The studies loaded in the warehouse (``stg_sweeps__studies``): name, kernel, description."""
    relation = find_relation(con, "stg_sweeps__studies")
    if relation is None:
        return Absent("no data: no study has been loaded (stg_sweeps__studies absent)")
    frame = con.execute(
        f"select study, kernel, design, description, n_scenarios, finished_at from {relation} "
        "order by study"
    ).df()
    if frame.empty:
        return Absent("no data: no study has finished")
    return frame


def study_settings(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Per study: its kernel, horizon year and the confidence level of its intervals (from
    ``stg_sweeps__studies``)."""
    relation = find_relation(con, "stg_sweeps__studies")
    if relation is None:
        return {}
    rows = con.execute(
        "select study, kernel, years[-1], "
        "try_cast(json_extract(spec, '$.analysis.conf_level') as double) "
        f"from {relation}"
    ).fetchall()
    return {
        str(study): {"kernel": kernel, "horizon": horizon, "conf_level": conf}
        for study, kernel, horizon, conf in rows
    }


def series_quantiles(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """Projection quantiles of the standing studies (``stg_sweeps__series_quantiles``): study,
    series, year, quantile, quantile_label, series_value."""
    relation = find_relation(con, "stg_sweeps__series_quantiles")
    if relation is None:
        return Absent(
            "no data: no standing study has been loaded (stg_sweeps__series_quantiles absent)"
        )
    frame = con.execute(f"select * from {relation}").df()
    if frame.empty:
        return Absent("no data: sweeps.series_quantiles is empty")
    return frame


def sensitivity(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | Absent:
    """Sensitivity indices of the studies (``stg_sweeps__sensitivity``): study, outcome, method,
    sensitivity_index, parameter, parameter_2, index_value, index_conf…"""
    relation = find_relation(con, "stg_sweeps__sensitivity")
    if relation is None:
        return Absent(
            "no data: no sensitivity analysis has been loaded (stg_sweeps__sensitivity absent)"
        )
    frame = con.execute(f"select * from {relation}").df()
    if frame.empty:
        return Absent("no data: sweeps.sensitivity is empty")
    return frame
