"""The report's municipal section: four maps, the 2010s depopulation question and remittance
dependence, and the remittances that have no municipality.

Maps (``reports.maps``): CONAPO's migration intensity degree 2020; population change between the
2010 and 2020 censuses; remittances per inhabitant in the latest full year (population estimated
on 1 July, from 2020 on with the published forecast: an estimate); the published forecast's
change of population to 2030, hatched where its 90 % interval holds both growth and decline,
with the share of the interval below zero in the hover text.
"""

from __future__ import annotations

import html
from pathlib import Path

import duckdb
import pandas as pd

from migsys.reports import maps
from migsys.reports.labels import DEGREE_LABELS
from migsys.reports.queries import DEGREE_ORDER, Absent, find_relation
from migsys.reports.sections import Section

ANCHOR = "municipalities"
TITLE = "Municipalities: migration, population and remittances on the map"
FORECAST_YEAR = 2030
BOUNDARIES_SOURCE = (
    "boundaries: INEGI, Marco Geoestadístico 2020 (simplified by the mxmaps package)"
)

DEGREE_COLORS = {
    "very_high": "#7f0000",
    "high": "#d7301f",
    "medium": "#fc8d59",
    "low": "#fdcc8a",
    "very_low": "#fef0d9",
    "null": "#969696",
}
# Diverging classes of population change (percent over the period): losses brown, gains teal.
CHANGE_BOUNDS = (-10.0, -5.0, 0.0, 5.0, 10.0, 20.0)
CHANGE_COLORS = ("#8c510a", "#d8b365", "#f6e8c3", "#c7eae5", "#5ab4ac", "#01665e", "#003c30")
PER_INHABITANT_BOUNDS = (100.0, 250.0, 500.0, 1000.0, 2000.0)
PER_INHABITANT_COLORS = ("#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f")


def _frame(con: duckdb.DuckDBPyConnection, model: str, sql: str) -> pd.DataFrame | None:
    """``sql`` with ``{model}`` replaced by the model's relation; None when it is absent."""
    relation = find_relation(con, model)
    if relation is None:
        return None
    return con.execute(sql.format(model=relation)).df()


def _names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    frame = _frame(
        con, "dim_municipality", "select cve_mun, municipality_name, state_name from {model}"
    )
    if frame is None:
        return {}
    return {
        row.cve_mun: f"{row.municipality_name}, {row.state_name}"
        for row in frame.itertuples(index=False)
    }


def _pct(value: float, digits: int = 1) -> str:
    return f"{value:+.{digits}f} %"


# --------------------------------------------------------------------------- the four maps


def intensity_map(con, names: dict[str, str]) -> maps.Choropleth | Absent:
    frame = _frame(
        con,
        "fct_migration_intensity",
        "select cve_mun, intensity_degree, pct_households_remittances from {model} "
        "where index_year = 2020",
    )
    if frame is None or frame.empty:
        return Absent("no CONAPO 2020 index in this warehouse")
    order = list(DEGREE_ORDER)
    class_of, hover = {}, {}
    for row in frame.itertuples(index=False):
        class_of[row.cve_mun] = order.index(row.intensity_degree)
        hover[row.cve_mun] = (
            f"{names.get(row.cve_mun, row.cve_mun)}: {DEGREE_LABELS[row.intensity_degree].lower()}"
            f" ({row.pct_households_remittances:.1f} % of dwellings receive remittances)"
        )
    return maps.Choropleth(
        map_id="map-intensity-2020",
        title="Migration intensity degree, 2020",
        legend_title="Degree of Mexico–US migration intensity (CONAPO 2020 index)",
        classes=tuple(maps.MapClass(DEGREE_COLORS[d], DEGREE_LABELS[d]) for d in order),
        class_of=class_of,
        hover=hover,
        source=f"Source: CONAPO, Índice de intensidad migratoria México–Estados Unidos 2020; "
        f"{BOUNDARIES_SOURCE}.",
        note="'Null': CONAPO found no measurable migration (12 municipalities, no index).",
    )


def population_change_map(con, names: dict[str, str]) -> maps.Choropleth | Absent:
    frame = _frame(
        con,
        "fct_municipal_growth",
        "select cve_mun, population_start, population_end, annual_growth_rate from {model} "
        "where period = '2010-2020'",
    )
    if frame is None or frame.empty:
        return Absent("no growth 2010-2020: the 2010 and 2020 censuses are not both loaded")
    class_of, hover = {}, {}
    for row in frame.itertuples(index=False):
        change = 100.0 * (row.population_end / row.population_start - 1)
        class_of[row.cve_mun] = maps.class_index(change, CHANGE_BOUNDS)
        hover[row.cve_mun] = (
            f"{names.get(row.cve_mun, row.cve_mun)}: {_pct(change)} "
            f"({row.population_start:,} to {row.population_end:,})"
        )
    for key, name in names.items():
        hover.setdefault(key, f"{name}: created after 2010, no 2010 population")
    return maps.Choropleth(
        map_id="map-population-change",
        title="Population change between the 2010 and 2020 censuses",
        legend_title="Change of population, 2010-06-12 to 2020-03-15 (percent)",
        classes=tuple(
            maps.MapClass(color, label)
            for color, label in zip(
                CHANGE_COLORS, maps.bounded_labels(CHANGE_BOUNDS, " %"), strict=True
            )
        ),
        class_of=class_of,
        hover=hover,
        no_data_label="created after 2010 (no 2010 population)",
        source=f"Source: INEGI, Censos de Población y Vivienda 2010 and 2020; {BOUNDARIES_SOURCE}.",
    )


def latest_full_year(con) -> int | None:
    frame = _frame(
        con,
        "fct_municipal_remittances",
        "select max(year) as year from (select year from {model} group by year "
        "having min(quarters_observed) = 4)",
    )
    if frame is None or frame.empty or pd.isna(frame["year"].iloc[0]):
        return None
    return int(frame["year"].iloc[0])


def remittances_map(con, names: dict[str, str]) -> maps.Choropleth | Absent:
    year = latest_full_year(con)
    if year is None:
        return Absent("no full year of municipal remittances in this warehouse")
    frame = _frame(
        con,
        "fct_municipal_remittances",
        "select cve_mun, remittances_usd, population_estimate, usd_per_inhabitant, "
        f"rank_usd_per_inhabitant, population_method from {{model}} where year = {year}",
    )
    class_of, hover = {}, {}
    for row in frame.itertuples(index=False):
        name = names.get(row.cve_mun, row.cve_mun)
        if pd.isna(row.usd_per_inhabitant):
            hover[row.cve_mun] = f"{name}: USD {row.remittances_usd:,.0f} in {year}, no population"
            continue
        class_of[row.cve_mun] = maps.class_index(row.usd_per_inhabitant, PER_INHABITANT_BOUNDS)
        estimate = "" if row.population_method == "census_interpolation" else ", estimate"
        hover[row.cve_mun] = (
            f"{name}: USD {row.usd_per_inhabitant:,.0f} per inhabitant (rank "
            f"{int(row.rank_usd_per_inhabitant):,}; USD {row.remittances_usd / 1e6:,.1f} M, "
            f"pop. {row.population_estimate:,.0f}{estimate})"
        )
    return maps.Choropleth(
        map_id="map-remittances-per-inhabitant",
        title=f"Remittances per inhabitant, {year}",
        legend_title=f"Remittance income per inhabitant in {year}, US dollars",
        classes=tuple(
            maps.MapClass(color, label)
            for color, label in zip(
                PER_INHABITANT_COLORS,
                maps.bounded_labels(PER_INHABITANT_BOUNDS, " USD"),
                strict=True,
            )
        ),
        class_of=class_of,
        hover=hover,
        no_data_label="no Banxico row or no population",
        source=f"Source: Banco de México, remittance income by municipality {year}; population "
        "on 1 July estimated from the 2020 census and the published forecast's median (an "
        f"estimate, fct_municipal_population_estimates); {BOUNDARIES_SOURCE}.",
        note="Banxico places remittances where they are paid out, which can be a neighbouring "
        "municipality's town: small municipalities with a paying agent can show very high values.",
    )


def forecast_map(con, names: dict[str, str]) -> maps.Choropleth | Absent:
    populations = find_relation(con, "fct_municipal_population")
    frame = _frame(
        con,
        "fct_forecasts",
        "select f.unit as cve_mun, f.origin, f.p05, f.p50, f.p95, p.population_total "
        f"from {{model}} as f join {populations} as p "
        "on p.cve_mun = f.unit and p.census_year = f.origin "
        f"where f.kernel = 'depopulation' and f.is_published and f.year = {FORECAST_YEAR}",
    )
    if populations is None or frame is None or frame.empty:
        return Absent(f"no published municipal forecast for {FORECAST_YEAR} in this warehouse")
    origin = int(frame["origin"].iloc[0])
    class_of, hover, hatched = {}, {}, set()
    for row in frame.itertuples(index=False):
        base = row.population_total
        change = 100.0 * (row.p50 / base - 1)
        class_of[row.cve_mun] = maps.class_index(change, CHANGE_BOUNDS)
        text = f"{names.get(row.cve_mun, row.cve_mun)}: {_pct(change)} by {FORECAST_YEAR}"
        if pd.notna(row.p05) and pd.notna(row.p95) and row.p95 > row.p05:
            below = min(max((base - row.p05) / (row.p95 - row.p05), 0.0), 1.0)
            low, high = 100.0 * (row.p05 / base - 1), 100.0 * (row.p95 / base - 1)
            text += (
                f" (90 % interval {_pct(low)} to {_pct(high)}; {100 * below:.0f} % of it below "
                "zero)"
            )
            if 0.0 < below < 1.0:
                hatched.add(row.cve_mun)
        hover[row.cve_mun] = text
    return maps.Choropleth(
        map_id="map-forecast-2030",
        title=f"Published forecast: change of population {origin}–{FORECAST_YEAR}",
        legend_title=f"Median forecast change of population, census {origin} to {FORECAST_YEAR} "
        "(percent)",
        classes=tuple(
            maps.MapClass(color, label)
            for color, label in zip(
                CHANGE_COLORS, maps.bounded_labels(CHANGE_BOUNDS, " %"), strict=True
            )
        ),
        class_of=class_of,
        hover=hover,
        hatched=frozenset(hatched),
        hatch_label="the 90 % interval holds both decline and growth (sign uncertain)",
        no_data_label="no forecast",
        source="Source: migsys's published municipal forecast (fct_forecasts, the median and the "
        f"5-95 % interval) from the INEGI census {origin}; {BOUNDARIES_SOURCE}.",
        note="A forecast, not an observation; hover a municipality for its interval and the share "
        "of it below zero.",
    )


# --------------------------------------------------------------------------- tables


def depopulation_table(con) -> str:
    frame = _frame(
        con,
        "fct_depopulation_by_intensity",
        "select period, index_year, intensity_degree, municipalities, "
        "depopulating_municipalities, depopulating_pct from {model} "
        "where period in ('2000-2005', '2010-2020', '2000-2020')",
    )
    if frame is None or frame.empty:
        return '<p class="absent">No growth by degree in this warehouse.</p>'
    columns = [
        (period, year)
        for period in ("2000-2005", "2010-2020", "2000-2020")
        for year in (2000, 2010, 2020)
        if ((frame["period"] == period) & (frame["index_year"] == year)).any()
    ]
    head = "".join(f"<th scope='col'>{period}<br>by {year} degree</th>" for period, year in columns)
    body = []
    for degree in DEGREE_ORDER:
        cells = [f"<th scope='row'>{DEGREE_LABELS[degree]}</th>"]
        for period, year in columns:
            match = frame[
                (frame["period"] == period)
                & (frame["index_year"] == year)
                & (frame["intensity_degree"] == degree)
            ]
            if match.empty:
                cells.append("<td>—</td>")
                continue
            row = match.iloc[0]
            cells.append(
                f"<td>{row['depopulating_pct']:.0f} % "
                f"({int(row['depopulating_municipalities'])} of {int(row['municipalities'])})</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        "<table class='depopulation-by-intensity'><caption>Municipalities that lost population, "
        "by their degree of migration intensity in each CONAPO edition</caption>"
        f"<thead><tr><th scope='col'>Degree</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def dependence_table(con, names: dict[str, str]) -> str:
    year = latest_full_year(con)
    if year is None:
        return ""
    frame = _frame(
        con,
        "fct_municipal_remittances",
        "select cve_mun, rank_usd_per_inhabitant, usd_per_inhabitant, "
        "usd_per_remittance_dwelling, rank_usd_per_remittance_dwelling, remittances_usd, "
        "pct_dwellings_remittances_2020 from {model} "
        f"where year = {year} and rank_usd_per_inhabitant <= 10 order by rank_usd_per_inhabitant",
    )
    rows = "".join(
        f"<tr><td>{int(r.rank_usd_per_inhabitant)}</td><td class='text'>"
        f"{html.escape(names.get(r.cve_mun, r.cve_mun))} ({r.cve_mun})</td>"
        f"<td>{r.usd_per_inhabitant:,.0f}</td><td>{r.remittances_usd / 1e6:,.1f}</td>"
        f"<td>{_or_dash(r.pct_dwellings_remittances_2020, '{:.1f}')}</td>"
        f"<td>{_or_dash(r.usd_per_remittance_dwelling, '{:,.0f}')}</td>"
        f"<td>{_or_dash(r.rank_usd_per_remittance_dwelling, '{:,.0f}')}</td></tr>"
        for r in frame.itertuples(index=False)
    )
    return (
        f"<table class='dependence'><caption>Most remittance-dependent municipalities, {year} "
        "(USD per inhabitant; population an estimate from the 2020 census and the published "
        "forecast)</caption><thead><tr><th>Rank</th><th>Municipality</th>"
        "<th>USD per inhabitant</th><th>USD million</th><th>% of dwellings receiving "
        "remittances (2020)</th><th>USD per remittance-receiving dwelling</th>"
        "<th>Rank per dwelling</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _or_dash(value: object, fmt: str) -> str:
    return "—" if value is None or pd.isna(value) else fmt.format(value)


def unallocated_tables(con) -> str:
    """'No identificado' and unmatched names: by year, then each one, then by state."""
    frame = _frame(
        con,
        "fct_municipal_remittances_unallocated",
        "select cve_ent, state_name, municipality_name_published, year, match_status, "
        "match_reason, candidate_cve_mun, quarters_observed, remittances_usd, "
        "national_share_pct, file_name, line_number from {model}",
    )
    if frame is None:
        return ""
    quarterly = _frame(
        con,
        "fct_municipal_remittances_quarterly",
        "select year, sum(remittances_usd) filter (where cve_mun is not null) "
        "/ nullif(sum(remittances_usd) filter (where match_status <> 'unidentified'), 0) "
        "as matched_share from {model} group by year order by year",
    )
    unidentified = frame[frame["match_status"] == "unidentified"]
    unmatched = frame[frame["match_status"] != "unidentified"]
    by_year = (
        unidentified.groupby("year")
        .agg(usd=("remittances_usd", "sum"), share=("national_share_pct", "sum"))
        .reset_index()
    )
    unmatched_by_year = unmatched.groupby("year")["remittances_usd"].sum().to_dict()
    matched = (
        {}
        if quarterly is None
        else dict(zip(quarterly["year"], quarterly["matched_share"], strict=True))
    )
    rows = "".join(
        f"<tr><td>{int(r.year)}</td><td>{r.usd / 1e6:,.1f}</td><td>{r.share:.2f}</td>"
        f"<td>{unmatched_by_year.get(r.year, 0.0) / 1e6:,.3f}</td>"
        f"<td>{100 * matched.get(r.year, float('nan')):.2f}</td></tr>"
        for r in by_year.itertuples(index=False)
    )
    parts = [
        "<table class='unallocated'><caption>Remittances Banxico does not place in a "
        "municipality ('No identificado', kept as each state's remainder) and names the "
        "crosswalk could not match</caption><thead><tr><th>Year</th><th>No identificado, USD "
        "million</th><th>% of the nation</th><th>Unmatched names, USD million</th><th>Matched "
        f"share of USD in named rows (%)</th></tr></thead><tbody>{rows}</tbody></table>"
    ]
    if unmatched.empty:
        parts.append(
            "<p>Every municipality Banxico names is matched to exactly one INEGI key (by the "
            "name rule or a reviewed exception): no unmatched or ambiguous name.</p>"
        )
    else:
        listed = (
            unmatched.groupby(
                [
                    "state_name",
                    "municipality_name_published",
                    "match_status",
                    "match_reason",
                    "file_name",
                    "line_number",
                ],
                dropna=False,
            )["remittances_usd"]
            .sum()
            .reset_index()
        )
        items = "".join(
            f"<tr><td class='text'>{html.escape(r.state_name)}</td><td class='text'>"
            f"{html.escape(r.municipality_name_published)}</td><td class='text'>"
            f"{html.escape(r.match_status)}: {html.escape(r.match_reason)}</td>"
            f"<td class='text'>{html.escape(r.file_name)} line {int(r.line_number)}</td>"
            f"<td>{r.remittances_usd / 1e6:,.3f}</td></tr>"
            for r in listed.itertuples(index=False)
        )
        parts.append(
            "<table class='unmatched'><caption>Unmatched Banxico names (no key; their USD counts "
            "in the state and the nation only)</caption><thead><tr><th>State</th><th>Name as "
            "published</th><th>Why</th><th>Where</th><th>USD million, all years</th></tr></thead>"
            f"<tbody>{items}</tbody></table>"
        )
    latest = int(unidentified["year"].max()) if not unidentified.empty else None
    if latest is not None:
        states = unidentified[unidentified["year"] == latest].sort_values("state_name")
        items = "".join(
            f"<tr><td class='text'>{html.escape(r.state_name)}</td>"
            f"<td>{r.remittances_usd / 1e6:,.3f}</td><td>{r.national_share_pct:.3f}</td>"
            f"<td class='text'>{html.escape(r.file_name)} line {int(r.line_number)}</td></tr>"
            for r in states.itertuples(index=False)
        )
        parts.append(
            f"<details><summary>'No identificado' by state, {latest}</summary><table "
            "class='unidentified'><thead><tr><th>State</th><th>USD million</th><th>% of the "
            f"nation</th><th>Where</th></tr></thead><tbody>{items}</tbody></table></details>"
        )
    return "".join(parts)


# --------------------------------------------------------------------------- the section


def municipal_section(con: duckdb.DuckDBPyConnection, out_dir: Path):
    """The section (``reports.sections.Section``): maps, then the tables."""

    names = _names(con)
    if not names:
        return Section(ANCHOR, TITLE, absent="no municipalities: the censuses were not loaded")
    parts = [f"<style>{maps.MAP_STYLE}</style>"]
    topology = maps.read_topology(con)
    if isinstance(topology, Absent):
        parts.append(f'<p class="absent">Maps not drawn: {html.escape(topology.reason)}</p>')
    else:
        geometry = maps.build_geometry(topology)
        parts.append(maps.render_defs(geometry))
        parts.append(
            "<p>Hover a municipality for its name, state and value. State borders are drawn "
            "over every map.</p>"
        )
        for build in (intensity_map, population_change_map, remittances_map, forecast_map):
            spec = build(con, names)
            if isinstance(spec, Absent):
                parts.append(f'<p class="absent">{html.escape(spec.reason)}</p>')
            else:
                parts.append(maps.render_map(spec, geometry))
    parts.append("<h3>Do high-emigration municipalities keep losing people?</h3>")
    parts.append(depopulation_table(con))
    parts.append("<h3>Remittance dependence</h3>")
    parts.append(dependence_table(con, names))
    parts.append(unallocated_tables(con))
    return Section(
        ANCHOR,
        TITLE,
        "\n".join(parts),
        note="Data: INEGI censuses 2010 and 2020, CONAPO 2020, Banco de México remittances by "
        "municipality (2013 onwards), migsys's published forecast. Tables: "
        "fct_depopulation_by_intensity, fct_municipal_remittances, "
        "fct_municipal_remittances_unallocated.",
    )
