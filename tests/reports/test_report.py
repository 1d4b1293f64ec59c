"""The nightly report renders from any warehouse: empty (embedded defaults) or with marts."""

from __future__ import annotations

import os
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from municipal_fixture import add_municipal_marts

from migsys.reports.build import (
    ReportError,
    build_report,
    remittance_fan,
    sobol_groups,
    wide_sobol_intervals,
)
from migsys.reports.summary import render_run_summary, summary_sources
from migsys.sweeps.warehouse import create_tables as create_sweep_tables
from migsys.warehouse.paths import DBT_PROJECT_DIR
from migsys.warehouse.raw_schema import SOURCE_FILES_COLUMNS, create_raw_schema

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Links(HTMLParser):
    """Collects every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.targets.append(value)


def page_links(index_html: Path) -> list[str]:
    parser = _Links()
    parser.feed(index_html.read_text(encoding="utf-8"))
    return parser.targets


def assert_links_resolve(index_html: Path) -> None:
    text = index_html.read_text(encoding="utf-8")
    for target in page_links(index_html):
        assert not target.startswith(("http:", "https:", "//")), f"external link {target}"
        if target.startswith("data:"):
            continue
        local, _, anchor = target.partition("#")
        if local:
            assert (index_html.parent / local).exists(), f"{index_html}: broken link {target}"
        elif anchor:
            assert f'id="{anchor}"' in text, f"{index_html}: no element with id {anchor}"


def insert_source_file(con: duckdb.DuckDBPyConnection, **values: object) -> None:
    """One raw.source_files row; unspecified columns get plausible defaults."""
    row = {
        "source_id": "banxico_remittances_monthly",
        "file_name": "banxico/remesas_mensuales.csv",
        "status": "loaded",
        "file_sha256": "abc",
        "file_bytes": 10,
        "file_modified_at": None,
        "rows_read": 36,
        "rows_loaded": 36,
        "rows_rejected": 0,
        "lines_skipped": 1,
        "loaded_at": "2026-01-02 03:04:05",
        "origin": "sources",
        "publisher": "Banco de México (SIE)",
        "source_url": "https://www.banxico.org.mx",
        "licence": "open data",
        "release_date": "unknown",
        "release_basis": "unknown",
        "period_start": "2000-01",
        "period_end": "2002-12",
        "snapshot_created": None,
        **values,
    }
    assert list(row) == list(SOURCE_FILES_COLUMNS)
    con.execute(
        f"insert into raw.source_files values ({', '.join('?' for _ in row)})", list(row.values())
    )


def empty_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    create_raw_schema(con)
    con.close()
    return path


def store(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("frame_view", frame)
    con.execute(f"create table {table} as select * from frame_view")
    con.unregister("frame_view")


def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Rows into an existing table, by column name (the others stay null)."""
    con.register("frame_view", frame)
    names = ", ".join(f'"{name}"' for name in frame.columns)
    con.execute(f"insert into {table} ({names}) select {names} from frame_view")
    con.unregister("frame_view")


SOURCE_CALL = re.compile(r"\{\{\s*source\('sweeps',\s*'(\w+)'\)\s*\}\}")


def create_sweeps_staging(con: duckdb.DuckDBPyConnection) -> None:
    """The study tables a refresh loads (``sweeps.warehouse``) and the dbt staging views over them,
    from the models' own SQL (what the report reads)."""
    create_sweep_tables(con)
    con.execute("create schema if not exists staging")
    for model in sorted((DBT_PROJECT_DIR / "models" / "staging" / "sweeps").glob("*.sql")):
        select = SOURCE_CALL.sub(r"sweeps.\1", model.read_text(encoding="utf-8"))
        con.execute(f"create view staging.{model.stem} as {select}")


def small_warehouse(path: Path) -> Path:
    """A warehouse with a few hand-made mart rows in the contract's shapes (not real figures)."""
    con = duckdb.connect(str(path))
    create_raw_schema(con)
    con.execute("create schema marts")
    create_sweeps_staging(con)
    degrees = pd.DataFrame(
        {
            "index_year": [2000] * 3,
            "intensity_degree": ["low", "very_high", "null"],
            "municipalities": [30, 10, 5],
            "population": [3000, 1000, 500],
            "households": [600, 200, 100],
        }
    )
    degrees["municipalities_pct"] = 100 * degrees["municipalities"] / 45
    degrees["population_pct"] = 100 * degrees["population"] / 4500
    degrees["households_pct"] = 100 * degrees["households"] / 900
    store(con, "marts.fct_intensity_degree_summary", degrees)
    # The paper's own Table 1, as the dbt seed types it.
    con.execute("create schema seeds")
    seed = DBT_PROJECT_DIR / "seeds" / "paper" / "paper_table_1_intensity_2000.csv"
    con.execute(f"create table seeds.paper_table_1_intensity_2000 as from read_csv('{seed}')")
    annual = pd.DataFrame(
        {
            "year": [2000, 2001, 2002],
            "remittances_usd": [6.5e9, 8.9e9, 9.8e9],
            "remittances_pct_gdp": [1.0, 1.2, 1.4],
            "months_observed": [12, 12, 12],
        }
    )
    store(con, "marts.fct_remittances_annual", annual)
    depopulation = pd.DataFrame(
        {
            "period": ["2000-2005", "2000-2005", "2005-2010", "2005-2010"],
            "start_year": [2000, 2000, 2005, 2005],
            "end_year": [2005, 2005, 2010, 2010],
            "intensity_degree_2000": ["very_high", "low", "very_high", "low"],
            "municipalities": [10, 30, 10, 30],
            "depopulating_municipalities": [6, 9, 4, 6],
        }
    )
    depopulation["depopulating_pct"] = (
        100 * depopulation["depopulating_municipalities"] / depopulation["municipalities"]
    )
    store(con, "marts.fct_depopulation_by_degree", depopulation)
    claims = pd.DataFrame(
        {
            "claim_id": ["households_2000", "remittances_2005", "irca_1987"],
            "location": ["Table 1", "p. 7", "p. 3"],
            "claim": ["22.6 m households", "USD 20 bn in 2005", "2.3 m legalized"],
            "paper_value": [22_639_808.0, 20e9, 2.3e6],
            "unit": ["households", "USD", "persons"],
            "recomputed_value": [22_639_808.0, 21.7e9, None],
            "relative_difference": [0.0, 0.085, None],
            "status": ["consistent", "inconsistent", "not_checkable"],
            "explanation": ["", "revised series", "no legalization records"],
        }
    )
    store(con, "marts.fct_paper_claims_check", claims)
    quantiles = pd.DataFrame(
        [
            ("remit_study", "remittances_usd", year, level, value * scale)
            for year, value in [(2003, 10e9), (2004, 11e9)]
            for level, scale in [(0.05, 0.9), (0.5, 1.0), (0.95, 1.1)]
        ],
        columns=["study", "series", "year", "quantile", "value"],
    )
    insert(con, "sweeps.series_quantiles", quantiles)
    sensitivity = pd.DataFrame(
        [
            ("remit_study", "remittances_usd_2030", "sobol", index, parameter, None, value, conf)
            for parameter, s1, st in [("growth", 0.6, 0.65), ("elasticity", 0.3, 0.35)]
            for index, value, conf in [("S1", s1, 0.05), ("ST", st, 0.06)]
        ]
        + [
            (
                "remit_study",
                "remittances_usd_2030",
                "sobol",
                "S2",
                "growth",
                "elasticity",
                0.01,
                0.02,
            )
        ],
        columns=[
            "study",
            "outcome",
            "method",
            "index",
            "parameter",
            "parameter_2",
            "value",
            "conf",
        ],
    )
    insert(con, "sweeps.sensitivity", sensitivity)
    studies = pd.DataFrame(
        {
            "study": ["remit_study", "adhoc_try"],
            "kernel": ["remittances", "remittances"],
            "design": ["sobol", "lhs"],
            "description": ["Remittance fan and its drivers", "A quick look at elasticity"],
            "n_scenarios": [448, 100],
            "finished_at": pd.to_datetime(["2026-01-02", "2026-01-01"]),
            # what the report does not show, but every loaded study has
            "fingerprint": ["f1", "f2"],
            "code_version": ["remittances v1"] * 2,
            "data_fingerprint": ["d1"] * 2,
            "spec": ["{}"] * 2,
            "analyzed": [True] * 2,
            "parts_glob": ["parts/*/part.parquet"] * 2,
        }
    )
    insert(con, "sweeps.studies", studies)
    adhoc = pd.DataFrame(
        [
            ("adhoc_try", "remittances_usd_2030", "sobol", index, "elasticity", None, value, 0.2)
            for index, value in [("S1", 0.1), ("ST", 0.3)]
        ],
        columns=list(sensitivity.columns),
    )
    insert(con, "sweeps.sensitivity", adhoc)
    add_municipal_marts(con)
    insert_source_file(con)
    con.close()
    return path


SUMMARY = {
    "build_id": "20260102T030405-42",
    "rebuilt": True,
    "sources": [
        {
            "source": "banxico_remittances_monthly",
            "status": "loaded",
            "files": 1,
            "rows_loaded": 36,
            "rows_rejected": 0,
            "origin": "embedded",
            "period": "2000-01 to 2002-12",
            "release_date": "unknown",
        }
    ],
    "dbt": {
        "model": {"passed": 40, "failed": 0, "warned": 0, "skipped": 0},
        "test": {"passed": 300, "failed": 0, "warned": 1, "skipped": 0},
    },
    "studies": [
        {
            "name": "remit_study",
            "standing": True,
            "action": "run",
            "reason": "new data",
            "scenarios_run": 448,
            "seconds": 12.5,
        }
    ],
    "quarantined": [{"name": "adhoc_broken", "reason": "spec no longer parses"}],
    "guard": [
        {
            "check": "rows in fct_municipal_population",
            "published": 12000,
            "build": 12000,
            "outcome": "ok",
        }
    ],
    "seconds": {"ingest": 3.2, "dbt_build": 20.0},
}


def test_empty_warehouse_renders_with_reasons(tmp_path: Path) -> None:
    warehouse = empty_warehouse(tmp_path / "warehouse.duckdb")
    result = build_report(warehouse, tmp_path / "reports", report_date=date(2026, 1, 2))
    assert result.index_html == tmp_path / "reports" / "2026-01-02" / "index.html"
    assert result.images == ()
    text = result.index_html.read_text(encoding="utf-8")
    assert "no data: seed paper_table_1_intensity_2000 is not in the warehouse" in text
    assert set(result.absent_sections) >= {
        "table1",
        "remittances",
        "forecast",
        "depopulation",
        "standing",
        "adhoc",
        "claims",
    }
    assert result.latest.resolve() == result.index_html.parent.resolve()
    assert_links_resolve(result.index_html)


def test_empty_marts_name_the_absent_source(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(warehouse))
    con.execute("delete from marts.fct_intensity_degree_summary")
    insert_source_file(con, source_id="inegi_census", file_name="inegi/censo_2000.csv")
    con.close()
    result = build_report(warehouse, tmp_path / "reports")
    assert result.absent_sections["table1"] == "no data: source conapo_iim_2000 absent"


def test_full_warehouse_has_images_tables_and_resolving_links(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    docs = tmp_path / "docs" / "index.html"
    docs.parent.mkdir()
    docs.write_text("<html></html>", encoding="utf-8")
    result = build_report(
        warehouse,
        tmp_path / "reports",
        docs_index=docs,
        run_summary=SUMMARY,
        standing_studies=["remit_study"],
    )
    names = sorted(image.name for image in result.images)
    assert names == [
        "depopulation.png",
        "remittances.png",
        "sobol_adhoc_0.png",
        "sobol_standing_0.png",
    ]
    for image in result.images:
        data = image.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, image
    text = result.index_html.read_text(encoding="utf-8")
    # Table 1 rows come in the paper's degree order, claims show only the disagreeing one.
    table1 = text[text.index('id="table1"') : text.index('id="remittances"')]
    assert table1.index("Very high") < table1.index("Low") < table1.index("Null")
    assert "USD 20 bn in 2005" in text
    assert "22.6 m households" not in text and "2.3 m legalized" not in text
    assert "20,000,000,000 USD" in text  # money in full, not 2e+10
    assert result.absent_sections == {
        "forecast": "no data: the forecast skill evaluation has no results"
    }
    assert any(link.endswith("docs/index.html") for link in page_links(result.index_html))
    assert "<pre>" not in text  # the run summary is tables, not Markdown
    assert_links_resolve(result.index_html)


def test_table_1_shows_the_paper_beside_the_data(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    text = build_report(warehouse, tmp_path / "reports").index_html.read_text(encoding="utf-8")
    table1 = text[text.index('id="table1"') : text.index('id="remittances"')]
    # paper: 162 very-high municipalities, 2,201,710 people; data (hand-made): 10 and 1,000
    row = table1[table1.index("Very high") : table1.index("</tr>", table1.index("Very high"))]
    assert "<td>162</td><td>10</td>" in row
    assert "<td>2,201,710</td><td>1,000</td>" in row
    assert "class='differs'" in table1
    assert "degrees differ from the paper" in table1


def test_standing_and_adhoc_studies_are_separate_sections(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    result = build_report(warehouse, tmp_path / "reports", standing_studies=["remit_study"])
    text = result.index_html.read_text(encoding="utf-8")
    standing = text[text.index('id="standing"') : text.index('id="adhoc"')]
    adhoc = text[text.index('id="adhoc"') : text.index('id="claims"')]
    assert "Remit study" in standing and "Adhoc try" not in standing
    assert "Adhoc try" in adhoc and "Remit study" not in adhoc
    assert "not forecasts" in standing


def test_wide_sobol_intervals_are_flagged(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    result = build_report(warehouse, tmp_path / "reports", standing_studies=["remit_study"])
    text = result.index_html.read_text(encoding="utf-8")
    standing = text[text.index('id="standing"') : text.index('id="adhoc"')]
    adhoc = text[text.index('id="adhoc"') : text.index('id="claims"')]
    # remit_study: S1 0.6 ± 0.05, ST 0.65 ± 0.06 ... intervals narrow: no warning
    assert "class='warning'" not in standing
    # adhoc_try: S1 0.1 ± 0.2 (interval 0.4 > 0.05), ST 0.3 ± 0.2 (0.4 > 0.15)
    assert "class='warning'" in adhoc and "elasticity" in adhoc
    assert adhoc.count("class='wide'") == 2


def test_wide_interval_rule() -> None:
    frame = pd.DataFrame(
        {
            "parameter": ["a", "b", "c", "d"],
            "s1": [0.40, 0.40, 0.0, 0.03],
            "s1_conf": [0.09, 0.11, 0.01, 0.03],
            "st": [0.5, 0.5, 0.0, 0.03],
            "st_conf": [0.1, 0.1, 0.0, 0.01],
        }
    )
    wide = wide_sobol_intervals(frame)
    # a: interval 0.18 < 0.20; b: 0.22 > 0.20; c: 0 ± 0.01 lies wholly under 0.05: negligible,
    # its rank does not matter; d: 0.03 ± 0.03 may reach 0.06 and is not known to any use
    assert wide["s1"].tolist() == [False, True, False, True]
    assert wide["st"].tolist() == [False, False, False, False]


def test_a_standing_study_failing_its_precision_check_says_so_first(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    failing = build_report(warehouse, tmp_path / "a", standing_studies=["adhoc_try"])
    text = failing.index_html.read_text(encoding="utf-8")
    body = text[text.index("</h1>") + len("</h1>") :].lstrip()
    assert body.startswith('<p class="warning" id="precision">The standing study adhoc_try fails')
    passing = build_report(warehouse, tmp_path / "b", standing_studies=["remit_study"])
    assert 'id="precision"' not in passing.index_html.read_text(encoding="utf-8")


def test_figures_and_tables_read_in_words(tmp_path: Path) -> None:
    """Sobol figures titled in words with the interval level; percentages to one decimal."""
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    result = build_report(warehouse, tmp_path / "reports", standing_studies=["remit_study"])
    text = result.index_html.read_text(encoding="utf-8")
    assert "What drives remittances usd 2030? Sobol indices of study remit_study" in text
    assert "half-width of their 95 % intervals" in text
    depopulation = text[text.index('id="depopulation"') : text.index('id="standing"')]
    # 6 of 10 municipalities, 9 of 30, 4 of 10, 6 of 30: 60.0, 30.0, 40.0, 20.0
    for share in ("60.0", "30.0", "40.0", "20.0"):
        assert f"<td class='num'>{share}</td>" in depopulation


def test_freshness_comes_first_and_says_which_sources_are_stale(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(warehouse))
    insert_source_file(
        con,
        source_id="inegi_census",
        file_name="inegi/censo_1990.csv",
        origin="embedded",
        snapshot_created="2026-11-29",
        period_start="1990",
        period_end="1990",
        release_date="1990-03-12",
        release_basis="documented",
        file_modified_at="2026-01-05 00:00:00",
    )
    insert_source_file(
        con,
        source_id="inegi_census",
        file_name="inegi/censo_2020.csv",
        origin="embedded",
        snapshot_created="2026-11-29",
        period_start="2020",
        period_end="2020",
        release_date="2020-03-15",
        release_basis="documented",
    )
    con.close()
    text = build_report(
        warehouse, tmp_path / "reports", report_date=date(2026, 12, 7)
    ).index_html.read_text(encoding="utf-8")
    # The first section of the page, before the docs link, the contents and the run summary.
    assert text.index('id="freshness"') < text.index("<nav>") < text.index('id="table1"')
    freshness = text[text.index('id="freshness"') : text.index("</section>")]
    assert "INEGI censuses and counts" in freshness
    assert "1990 to 2020" in freshness and "2000-01 to 2002-12" in freshness
    # The census's release is its latest file's, from the publisher's documentation.
    assert "2020-03-15 (documented)" in freshness
    assert "embedded snapshot of 2026-11-29" in freshness and "source files" in freshness
    assert "2026-01-05" not in freshness  # the copy time of a file is not freshness
    # Banxico's monthly series ends 2002-12: far older than two quarters on 2026-12-07.
    assert "As of 2026-12-07, 1 of 2 sources are stale" in freshness
    assert "Banxico remittances, monthly (latest 2002-12)." in freshness
    assert "STALE: older than 2 quarters since 2003-06-30" in freshness
    census_row = freshness[freshness.index("INEGI censuses") :].split("</tr>")[0]
    assert "no: fresh until 2030-12-31 (10 years)" in census_row  # stale from 2031


def test_run_summary_renders_what_is_present() -> None:
    rendered = render_run_summary(SUMMARY)
    for caption in ("Sources", "dbt build", "Studies", "Quarantined", "Publish guard"):
        assert f"<caption>{caption}</caption>" in rendered
    assert "Banxico: Ingresos y egresos por remesas, mensual" in rendered
    assert "embedded snapshot" in rendered and "standing" in rendered
    assert "<td class='num'>448</td>" in rendered
    partial = render_run_summary({"build_id": "b1", "sources": [{"source": "x"}], "extra": 1})
    assert "<caption>Sources</caption>" in partial and "dbt build" not in partial
    assert render_run_summary({"dbt": None, "rebuilt": False}).count("unchanged") == 2


def test_report_that_drops_a_section_leaves_no_stale_files(tmp_path: Path) -> None:
    full = small_warehouse(tmp_path / "full.duckdb")
    day = date(2026, 1, 2)
    first = build_report(full, tmp_path / "reports", report_date=day)
    assert (first.index_html.parent / "sobol_standing_0.png").is_file()
    empty = empty_warehouse(tmp_path / "empty.duckdb")
    second = build_report(empty, tmp_path / "reports", report_date=day)
    assert second.index_html == first.index_html
    assert sorted(p.name for p in second.index_html.parent.iterdir()) == ["index.html"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["2026-01-02", "latest"]


def test_second_report_moves_latest(tmp_path: Path) -> None:
    warehouse = empty_warehouse(tmp_path / "warehouse.duckdb")
    build_report(warehouse, tmp_path / "reports", report_date=date(2026, 1, 1))
    second = build_report(warehouse, tmp_path / "reports", report_date=date(2026, 1, 2))
    assert second.latest.resolve().name == "2026-01-02"
    assert (tmp_path / "reports" / "2026-01-01" / "index.html").is_file()


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"warehouse\.duckdb: no published warehouse"):
        build_report(tmp_path / "warehouse.duckdb", tmp_path / "reports")


def test_sensitivity_without_conf_column_is_named() -> None:
    frame = pd.DataFrame(
        {
            "study": ["s"],
            "outcome": ["y"],
            "method": ["sobol"],
            "sensitivity_index": ["S1"],
            "parameter": ["a"],
            "index_value": [0.1],
        }
    )
    with pytest.raises(
        ReportError, match=r"stg_sweeps__sensitivity: columns \['index_conf'\] missing"
    ):
        sobol_groups(frame)


def test_sobol_groups_pivot_first_order_and_total() -> None:
    frame = pd.DataFrame(
        [
            ("s", "y", "sobol", "S1", "a", 0.5, 0.1),
            ("s", "y", "sobol", "ST", "a", 0.6, 0.2),
            ("s", "y", "morris", "mu_star", "a", 3.0, 0.3),
        ],
        columns=[
            "study", "outcome", "method", "sensitivity_index", "parameter", "index_value",
            "index_conf",
        ],
    )  # fmt: skip
    [(study, outcome, wide)] = sobol_groups(frame)
    assert (study, outcome) == ("s", "y")
    assert wide.to_dict("records") == [
        {"parameter": "a", "s1": 0.5, "s1_conf": 0.1, "st": 0.6, "st_conf": 0.2}
    ]


def test_remittance_fan_pivots_quantiles_by_year_with_a_human_label() -> None:
    frame = pd.DataFrame(
        {
            "study": ["s_one"] * 4 + ["t"] * 2,
            "series": ["remittances_usd"] * 4 + ["remittances_pct_gdp"] * 2,
            "year": [2001, 2001, 2000, 2000, 2000, 2000],
            "quantile": [0.1, 0.9, 0.1, 0.9, 0.1, 0.9],
            "series_value": [2.0, 4.0, 1.0, 3.0, 7.0, 8.0],
        }
    )
    label, fan = remittance_fan(frame)
    assert label == "remittance income (USD), study “S one”"
    assert "_" not in label
    assert list(fan.index) == [2000, 2001]
    assert fan.loc[2001, 0.9] == 4.0
    assert remittance_fan(frame.assign(series="population")) is None


def test_summary_sources_read_the_build(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = summary_sources(con)
    finally:
        con.close()
    assert rows == [
        {
            "source": "banxico_remittances_monthly",
            "status": "loaded",
            "files": 1,
            "rows_loaded": 36,
            "rows_rejected": 0,
            "origin": "sources",
            "period": "2000-01 to 2002-12",
            "release_date": "unknown",
        }
    ]
    assert "2000-01 to 2002-12" in render_run_summary({"sources": rows})


def test_latest_link_replaces_a_plain_copy_of_it(tmp_path: Path) -> None:
    from migsys.reports.build import link_latest

    reports = tmp_path / "reports"
    (reports / "2026-11-28").mkdir(parents=True)
    (reports / "latest").mkdir()  # what `cp -r` of a home leaves in place of the link
    (reports / "latest" / "index.html").write_text("old copy")
    latest = link_latest(reports, reports / "2026-11-28")
    assert latest.is_symlink() and os.readlink(latest) == "2026-11-28"
    assert not (reports / "2026-11-28" / "index.html").exists()


def test_the_nightly_standing_study_passes_its_own_precision_check(embedded_home) -> None:
    """Issue 18, finding 5: the study a fresh clone's first refresh runs (the shipped spec, at
    its shipped size) can rank its parameters, and the report does not warn about it."""
    from migsys.reports.build import fails_precision_check, sobol_groups

    con = duckdb.connect(str(embedded_home.warehouse), read_only=True)
    try:
        sensitivity = con.sql("from staging.stg_sweeps__sensitivity").df()
        (scenarios,) = con.execute(
            "select n_scenarios from sweeps.studies where study = 'remittances-nightly'"
        ).fetchone()
    finally:
        con.close()
    groups = [g for g in sobol_groups(sensitivity) if g[0] == "remittances-nightly"]
    assert scenarios == 8192 and len(groups) == 2  # remittances and migrant stock in 2030
    for _, outcome, frame in groups:
        assert fails_precision_check(frame) == [], (outcome, frame)
    report = (embedded_home.reports / "latest" / "index.html").read_text(encoding="utf-8")
    assert 'id="precision"' not in report and "What drives remittances in 2030?" in report


def test_text_from_the_warehouse_is_escaped_everywhere(tmp_path: Path) -> None:
    """Names and descriptions come from files and specs: the templates escape every one."""
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(warehouse))
    con.execute("update sweeps.studies set description = '<script>alert(1)</script> & more'")
    con.execute(
        "update sweeps.sensitivity set parameter = '<b>growth</b>' where parameter = 'growth'"
    )
    con.close()
    summary = {**SUMMARY, "build_id": "<i>build</i>"}
    result = build_report(
        warehouse, tmp_path / "reports", run_summary=summary, standing_studies=["remit_study"]
    )
    text = result.index_html.read_text(encoding="utf-8")
    assert "<script>" not in text and "<b>growth" not in text and "<i>build" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in text
    assert "&lt;b&gt;growth&lt;/b&gt;" in text and "&lt;i&gt;build&lt;/i&gt;" in text
