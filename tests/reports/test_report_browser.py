"""The report and the dbt docs opened in a real browser: no console error, image or link broken.

Screenshots of every page go to ``$MIGSYS_HOME/screenshots/`` (or the test's tmp folder) for a
person to look at. The report of a fresh clone (the embedded snapshot, no source files) is the
one a newcomer sees first; the hand-made warehouse exercises the sections a fresh clone has no
data for (studies, Sobol warnings).
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from report_browser import check_page, require_browser, save_full_page, start_chromium
from test_report import SUMMARY, small_warehouse

from migsys.reports import freshness
from migsys.reports.build import build_report
from migsys.reports.labels import DEGREE_LABELS

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = os.environ.get("MIGSYS_HOME")
    folder = Path(home) / "screenshots" if home else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    require_browser()
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def _assert_clean(check) -> None:
    assert check.problems == [], f"{check.url}:\n" + "\n".join(check.problems)


MAP_IDS = (
    "map-intensity-2020",
    "map-population-change",
    "map-remittances-per-inhabitant",
    "map-forecast-2030",
)
HOVER_MUNICIPALITY = "32022"  # Juan Aldama, Zacatecas


def assert_maps_render(browser, screenshots: Path, label: str) -> None:
    """The four maps are drawn at full width with one shape per municipality on each."""
    for map_id in MAP_IDS:
        svg = browser.find_element("id", map_id)
        assert svg.size["width"] > 600 and svg.size["height"] > 300, map_id
        shapes = browser.execute_script(
            "return arguments[0].querySelectorAll('g.municipalities use').length", svg
        )
        drawn = browser.execute_script(
            "const b = arguments[0].querySelector('g.municipalities').getBBox();"
            "return b.width * b.height;",
            svg,
        )
        assert shapes >= 3 and drawn > 0, map_id
        browser.execute_script("arguments[0].scrollIntoView()", svg)
        svg.screenshot(str(screenshots / f"map-{label}-{map_id}.png"))


def hover_text(browser, map_id: str, cve_mun: str) -> str:
    """The hover text (the SVG <title>) of one municipality on one map."""
    return browser.execute_script(
        "return document.querySelector(`#${arguments[0]} use[href='#m${arguments[1]}'] > title`)"
        ".textContent;",
        map_id,
        cve_mun,
    )


def test_fresh_clone_report_and_dbt_docs_open_cleanly(
    browser, embedded_home, tmp_path: Path, screenshots: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(
        embedded_home.home, home, symlinks=True, ignore=shutil.ignore_patterns("*.lock")
    )
    report = build_report(
        home / "warehouse.duckdb",
        home / "reports",
        docs_index=home / "docs" / "index.html",
        run_summary=None,
        standing_studies=[],
    )
    check = check_page(
        browser, report.latest / "index.html", screenshots / "report-fresh-clone.png"
    )
    _assert_clean(check)
    assert check.title.startswith("migsys nightly report")
    # Real data in every data section of a fresh clone.
    for anchor in ("table1", "remittances", "depopulation", "claims", "freshness"):
        assert anchor not in report.absent_sections, report.absent_sections[anchor]
    assert_maps_render(browser, screenshots, "fresh-clone")
    # A named municipality's hover text shows its values from the warehouse.
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        ((degree, pct_remittances),) = con.execute(
            "select intensity_degree, pct_households_remittances from fct_migration_intensity "
            "where cve_mun = ? and index_year = 2020",
            [HOVER_MUNICIPALITY],
        ).fetchall()
        ((per_inhabitant, rank),) = con.execute(
            "select usd_per_inhabitant, rank_usd_per_inhabitant from fct_municipal_remittances "
            "where cve_mun = ? and year = 2023",
            [HOVER_MUNICIPALITY],
        ).fetchall()
    finally:
        con.close()
    assert hover_text(browser, "map-intensity-2020", HOVER_MUNICIPALITY) == (
        f"Juan Aldama, Zacatecas: {DEGREE_LABELS[degree].lower()} ({pct_remittances:.1f} % of "
        "dwellings receive remittances)"
    )
    assert hover_text(browser, "map-remittances-per-inhabitant", HOVER_MUNICIPALITY).startswith(
        f"Juan Aldama, Zacatecas: USD {per_inhabitant:,.0f} per inhabitant (rank {rank:,};"
    )
    # The local pages it links to are the dbt docs and the forecast method (copied beside the
    # report), which must open cleanly too.
    assert sorted(p.name for p in check.local_pages) == ["forecast_method.md", "index.html"]
    docs = check_page(browser, check.local_pages[0], screenshots / "dbt-docs-overview.png")
    _assert_clean(docs)
    assert docs.title == "dbt Docs"
    # The docs open on the warehouse's own overview, not dbt's generic "Welcome!" page.
    overview = browser.find_element("tag name", "body").text
    assert "The migsys warehouse" in overview and "Where to start" in overview, overview[:500]
    assert "Welcome!" not in overview
    # A model page of the docs (a hash route of the single-page app) renders its columns.
    browser.get(docs.url + "#!/model/model.migsys.fct_paper_claims_check")
    browser.implicitly_wait(5)
    body = browser.find_element("tag name", "body").text
    assert "fct_paper_claims_check" in body and "printed_step" in body
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    save_full_page(browser, screenshots / "dbt-docs-fct_paper_claims_check.png")


def test_every_section_renders_in_the_browser(browser, tmp_path: Path, screenshots: Path) -> None:
    warehouse = small_warehouse(tmp_path / "warehouse.duckdb")
    docs = tmp_path / "docs" / "index.html"
    docs.parent.mkdir()
    docs.write_text("<!doctype html><title>docs</title><link rel='icon' href='data:,'>")
    report = build_report(
        warehouse,
        tmp_path / "reports",
        docs_index=docs,
        report_date=date(2026, 1, 2),
        run_summary=SUMMARY,
        standing_studies=["remit_study"],
    )
    check = check_page(browser, report.index_html, screenshots / "report-all-sections.png")
    _assert_clean(check)
    headings = [h.text for h in browser.find_elements("css selector", "section > h2")]
    # Data freshness first (which sources are stale), then what the refresh did.
    assert headings[:2] == [freshness.TITLE, "What tonight's refresh did"]
    assert "How good are these projections?" in headings
    assert len(browser.find_elements("css selector", "table")) >= 9
    assert browser.find_elements("css selector", "p.warning")  # the wide Sobol interval
    images = browser.find_elements("css selector", "img")
    assert len(images) == 4 and all(img.size["width"] > 300 for img in images)
    assert_maps_render(browser, screenshots, "hand-made")
    assert hover_text(browser, "map-population-change", "01001") == (
        "Alpha, Aguascalientes: -10.0 % (1,000 to 900)"
    )


def test_study_figures_render_with_observed_data_and_units(
    browser, embedded_home, tmp_path: Path, screenshots: Path
) -> None:
    """The figures `migsys sweep analyze --plots` draws for the fresh clone's standing study,
    on one page, screenshot for a person to look at (issue 18, finding 6): the envelope carries
    the observed series, the Sobol plots say what drives what by when."""
    from PIL import Image

    from migsys.sweeps.analysis import analyze_study, stored_spec, verified_study
    from migsys.sweeps.plots import write_plots

    root = tmp_path / "sweeps"
    shutil.copytree(embedded_home.sweeps / "remittances-nightly", root / "remittances-nightly")
    spec = stored_spec(verified_study(root, "remittances-nightly"))
    analysis = analyze_study(root, spec, write=False)
    written = write_plots(root, spec.name, analysis, embedded_home.warehouse)
    names = sorted(path.name for path in written)
    assert "envelope_remittances_usd.png" in names
    assert "sensitivity_remittances_usd_horizon.png" in names
    for path in written:
        width, height = Image.open(path).size
        assert width > 500 and height > 300, path
    page = written[0].parent / "index.html"
    page.write_text(
        "<!doctype html><title>study figures</title><link rel='icon' href='data:,'>"
        + "".join(f"<p><img src='{p.name}' alt='{p.stem}'></p>" for p in written),
        encoding="utf-8",
    )
    check = check_page(browser, page, screenshots / "study-figures.png")
    _assert_clean(check)
    for path in written:
        shutil.copy2(path, screenshots / f"study-{path.name}")
