"""The nightly report renders from any warehouse: empty (embedded defaults) or with marts."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from migsys.reports.build import ReportError, build_report, remittance_fan, sobol_groups
from migsys.warehouse.raw_schema import create_raw_schema

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
    for target in page_links(index_html):
        assert not target.startswith(("http:", "https:", "//")), f"external link {target}"
        local = target.split("#", 1)[0]
        if local:
            assert (index_html.parent / local).exists(), f"{index_html}: broken link {target}"


def empty_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    create_raw_schema(con)
    con.close()
    return path


def store(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("frame_view", frame)
    con.execute(f"create table {table} as select * from frame_view")
    con.unregister("frame_view")


def small_warehouse(path: Path) -> Path:
    """A warehouse with a few hand-made mart rows in the contract's shapes (not real figures)."""
    con = duckdb.connect(str(path))
    create_raw_schema(con)
    con.execute("create schema marts")
    con.execute("create schema sweeps")
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
            "claim": ["22.6 m households", "USD 20 bn in 2005", "2.3 m legalized"],
            "paper_value": [22_639_808.0, 20e9, 2.3e6],
            "unit": ["households", "USD", "persons"],
            "location": ["Table 1", "p. 7", "p. 3"],
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
    store(con, "sweeps.series_quantiles", quantiles)
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
    store(con, "sweeps.sensitivity", sensitivity)
    con.execute(
        "insert into raw.source_files values ('banxico_remittances_monthly',"
        " 'banxico/remesas_mensuales.csv', 'loaded', 'abc', 10, now(), 36, 36, 0, 1, now())"
    )
    con.close()
    return path


def test_empty_warehouse_renders_with_reasons(tmp_path: Path) -> None:
    warehouse = empty_warehouse(tmp_path / "warehouse.duckdb")
    result = build_report(warehouse, tmp_path / "reports", report_date=date(2026, 1, 2))
    assert result.index_html == tmp_path / "reports" / "2026-01-02" / "index.html"
    assert result.images == ()
    text = result.index_html.read_text(encoding="utf-8")
    assert "no data: table fct_intensity_degree_summary is not in the warehouse" in text
    assert "sweeps.sensitivity absent" in text
    assert set(result.absent_sections) >= {"table1", "remittances", "depopulation", "claims"}
    assert result.latest.resolve() == result.index_html.parent.resolve()
    assert_links_resolve(result.index_html)


def test_empty_marts_name_the_absent_source(tmp_path: Path) -> None:
    warehouse = empty_warehouse(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(warehouse))
    con.execute(
        "create table main.fct_intensity_degree_summary (index_year int, intensity_degree varchar,"
        " municipalities int, municipalities_pct double, population bigint, population_pct double,"
        " households bigint, households_pct double)"
    )
    con.execute(
        "insert into raw.source_files values ('inegi_census', 'inegi/censo_2000.csv', 'loaded',"
        " 'abc', 10, now(), 1, 1, 0, 0, now())"
    )
    con.close()
    result = build_report(warehouse, tmp_path / "reports")
    assert result.absent_sections["table1"] == "no data: source conapo_iim_2000 absent"


def test_full_warehouse_has_images_tables_and_resolving_links(tmp_path: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    docs = tmp_path / "docs" / "index.html"
    docs.parent.mkdir()
    docs.write_text("<html></html>", encoding="utf-8")
    result = build_report(
        warehouse, tmp_path / "reports", docs_index=docs, run_summary_markdown="| a | b |"
    )
    names = sorted(image.name for image in result.images)
    assert names == ["depopulation.png", "remittances.png", "sobol_0.png"]
    for image in result.images:
        data = image.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, image
    text = result.index_html.read_text(encoding="utf-8")
    # Table 1 rows come in the paper's degree order, claims show only the disagreeing one.
    assert text.index("Very high") < text.index("Low") < text.index("Null")
    assert "remittances_2005" in text
    assert "households_2000" not in text and "irca_1987" not in text
    assert "21,700,000,000" in text  # money in full, not 2.17e+10
    # the small warehouse has no forecast marts: only the forecast section says so
    assert set(result.absent_sections) == {"forecast_skill"}
    assert any(link.endswith("docs/index.html") for link in page_links(result.index_html))
    assert_links_resolve(result.index_html)


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
            "index": ["S1"],
            "parameter": ["a"],
            "value": [0.1],
        }
    )
    with pytest.raises(ReportError, match=r"sweeps\.sensitivity: columns \['conf'\] missing"):
        sobol_groups(frame)


def test_sobol_groups_pivot_first_order_and_total() -> None:
    frame = pd.DataFrame(
        [
            ("s", "y", "sobol", "S1", "a", 0.5, 0.1),
            ("s", "y", "sobol", "ST", "a", 0.6, 0.2),
            ("s", "y", "morris", "mu_star", "a", 3.0, 0.3),
        ],
        columns=["study", "outcome", "method", "index", "parameter", "value", "conf"],
    )
    [(title, wide)] = sobol_groups(frame)
    assert title == "Sobol indices — s: y"
    assert wide.to_dict("records") == [
        {"parameter": "a", "s1": 0.5, "s1_conf": 0.1, "st": 0.6, "st_conf": 0.2}
    ]


def test_remittance_fan_pivots_quantiles_by_year() -> None:
    frame = pd.DataFrame(
        {
            "study": ["s"] * 4 + ["t"] * 2,
            "series": ["remittances_usd"] * 4 + ["remittances_pct_gdp"] * 2,
            "year": [2001, 2001, 2000, 2000, 2000, 2000],
            "quantile": [0.1, 0.9, 0.1, 0.9, 0.1, 0.9],
            "value": [2.0, 4.0, 1.0, 3.0, 7.0, 8.0],
        }
    )
    label, fan = remittance_fan(frame)
    assert label == "s / remittances_usd"
    assert list(fan.index) == [2000, 2001]
    assert fan.loc[2001, 0.9] == 4.0
    assert remittance_fan(frame.assign(series="population")) is None
