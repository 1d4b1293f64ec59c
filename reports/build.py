"""Build the static nightly report from the published warehouse.

``build_report`` opens the warehouse read-only, runs ``reports.queries``, draws
``reports.figures`` and writes ``<reports_root>/<date>/index.html`` beside its PNGs, then points
``<reports_root>/latest`` at that folder. The page has no external assets: it opens offline.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from migsys.reports import figures, queries
from migsys.reports.forecast_section import forecast_section
from migsys.reports.queries import Absent

LATEST_LINK = "latest"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
.absent { color: #8a5a00; font-style: italic; }
img { max-width: 100%; border: 1px solid #ddd; }
footer { color: #777; font-size: 0.8rem; margin-top: 2rem; }
"""


class ReportError(RuntimeError):
    """The report could not be built (the message names the file and what is wrong)."""


@dataclass(frozen=True)
class ReportResult:
    """Where the report went and what it contains."""

    index_html: Path
    latest: Path
    images: tuple[Path, ...]
    absent_sections: dict[str, str] = field(default_factory=dict)


def build_report(
    warehouse: Path,
    reports_root: Path,
    *,
    docs_index: Path | None = None,
    report_date: date | None = None,
    run_summary_markdown: str | None = None,
) -> ReportResult:
    """Write the report of ``warehouse`` under ``reports_root/<date>/`` and link it as latest.

    ``docs_index`` is the published dbt docs page to link to; ``run_summary_markdown`` (the
    flow's summary table) is shown verbatim in a preformatted block when given.
    """
    if not warehouse.is_file():
        raise ReportError(
            f"{warehouse}: no published warehouse to report on (run `migsys refresh`)"
        )
    day = report_date or datetime.now(UTC).date()
    out_dir = reports_root / day.isoformat()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as error:
        raise ReportError(f"{warehouse}: cannot open the warehouse read-only: {error}") from error
    try:
        sections, images, absent = _render_sections(con, out_dir)
    finally:
        con.close()
    page = _page(
        day=day,
        warehouse=warehouse,
        sections=sections,
        docs_link=_docs_link(out_dir, docs_index),
        run_summary_markdown=run_summary_markdown,
    )
    index_html = out_dir / "index.html"
    _write_atomically(index_html, page)
    latest = link_latest(reports_root, out_dir)
    return ReportResult(
        index_html=index_html, latest=latest, images=tuple(images), absent_sections=absent
    )


def link_latest(reports_root: Path, out_dir: Path) -> Path:
    """Point ``reports_root/latest`` at ``out_dir`` (relative symlink, swapped atomically)."""
    latest = reports_root / LATEST_LINK
    temporary = reports_root / f".{LATEST_LINK}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(out_dir.name, target_is_directory=True)
    os.replace(temporary, latest)
    return latest


def _write_atomically(path: Path, text: str) -> None:
    """Readers see the old page or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _docs_link(out_dir: Path, docs_index: Path | None) -> str | None:
    if docs_index is None or not docs_index.is_file():
        return None
    return os.path.relpath(docs_index, out_dir)


def _render_sections(
    con: duckdb.DuckDBPyConnection, out_dir: Path
) -> tuple[list[str], list[Path], dict[str, str]]:
    """HTML of each section in order, the PNGs written, and the sections with no data."""
    sections: list[str] = []
    images: list[Path] = []
    absent: dict[str, str] = {}

    def note_absent(key: str, value: object) -> bool:
        if isinstance(value, Absent):
            absent[key] = value.reason
            return True
        return False

    # Table 1 of the paper.
    table1 = queries.table1(con)
    body = (
        _absent_html(table1)
        if note_absent("table1", table1)
        else _table_html(_with_degree_labels(table1, "intensity_degree"))
    )
    sections.append(
        _section(
            "table1",
            "Table 1 reproduced: municipalities by intensity of migration to the US, 2000",
            body,
            "Source: CONAPO migration intensity index 2000; INEGI census 2000. Percentages of "
            "the national total.",
        )
    )

    # Remittances history and the projection fan of the standing study.
    annual = queries.remittances_annual(con)
    if note_absent("remittances", annual):
        body = _absent_html(annual)
    else:
        quantiles = queries.series_quantiles(con)
        fan = None if isinstance(quantiles, Absent) else remittance_fan(quantiles)
        fan_note = ""
        if fan is None:
            reason = (
                quantiles.reason
                if isinstance(quantiles, Absent)
                else "no remittance series among the standing studies"
            )
            absent["remittances_fan"] = reason
            fan_note = _absent_html(Absent(f"projection fan not shown: {reason}"))
        image = figures.plot_remittances(
            annual,
            None if fan is None else fan[1],
            out_dir / "remittances.png",
            fan_label="projection" if fan is None else fan[0],
        )
        images.append(image)
        body = _image_html(image, "Annual remittance income to Mexico, USD billion") + fan_note
    sections.append(
        _section(
            "remittances", "Remittances: history and the standing study's sensitivity range", body
        )
    )
    sections.append(forecast_section(con, out_dir, images=images, absent=absent))

    # Depopulating municipalities by degree and period.
    depopulation = queries.depopulation_by_degree(con)
    if note_absent("depopulation", depopulation):
        body = _absent_html(depopulation)
    else:
        image = figures.plot_depopulation(depopulation, out_dir / "depopulation.png")
        images.append(image)
        body = _image_html(image, "Depopulating municipalities by intensity degree") + _table_html(
            _with_degree_labels(depopulation, "intensity_degree_2000")
        )
    sections.append(
        _section(
            "depopulation",
            "Depopulating municipalities by migration intensity degree and period",
            body,
        )
    )

    # Sobol indices with their intervals.
    sensitivity = queries.sensitivity(con)
    if note_absent("sensitivity", sensitivity):
        body = _absent_html(sensitivity)
    elif not (groups := sobol_groups(sensitivity)):
        absent["sensitivity"] = "no data: the standing studies have no Sobol indices"
        body = _absent_html(Absent(absent["sensitivity"]))
    else:
        parts = []
        for index, (title, frame) in enumerate(groups):
            image = figures.plot_sobol(frame, out_dir / f"sobol_{index}.png", title=title)
            images.append(image)
            parts.append(f"<h3>{html.escape(title)}</h3>")
            parts.append(_image_html(image, title))
            parts.append(_table_html(frame))
        body = "\n".join(parts)
    sections.append(_section("sensitivity", "Sobol sensitivity indices (95% intervals)", body))

    # Paper vs data.
    claims = queries.disagreeing_claims(con)
    body = _absent_html(claims) if note_absent("claims", claims) else _table_html(claims)
    sections.append(_section("claims", "Claims of the paper the data do not reproduce", body))

    # Data freshness.
    freshness = queries.source_freshness(con)
    body = (
        _absent_html(freshness) if note_absent("freshness", freshness) else _table_html(freshness)
    )
    sections.append(_section("freshness", "Data freshness", body))
    return sections, images, absent


def remittance_fan(quantiles: pd.DataFrame) -> tuple[str, pd.DataFrame] | None:
    """The remittance projection of the standing studies as (label, year × quantile-level frame).

    ``sweeps.series_quantiles`` is long: one row per study, series, year and quantile. The first
    series whose name mentions remittances is shown, in USD.
    """
    frame = quantiles.rename(columns=str.lower)
    required = {"study", "series", "year", "quantile", "value"}
    if not required <= set(frame.columns):
        raise ReportError(
            f"sweeps.series_quantiles: columns {sorted(required - set(frame.columns))} missing "
            f"(has {list(quantiles.columns)})"
        )
    remittance_rows = frame[frame["series"].astype(str).str.contains("remit", case=False)]
    if remittance_rows.empty:
        return None
    # Remittances in USD (comparable with the observed history) before other remittance series.
    preference = (remittance_rows["series"] != "remittances_usd").astype(int)
    first = (
        remittance_rows.assign(_rank=preference).sort_values(["_rank", "study", "series"]).iloc[0]
    )
    study, series = first["study"], first["series"]
    rows = remittance_rows[
        (remittance_rows["study"] == study) & (remittance_rows["series"] == series)
    ]
    fan = rows.pivot_table(index="year", columns="quantile", values="value").sort_index()
    return f"{study} / {series}", fan


SOBOL_COLUMNS = ["parameter", "s1", "s1_conf", "st", "st_conf"]


def sobol_groups(sensitivity: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One (title, frame) per study and outcome with Sobol indices.

    ``sweeps.sensitivity`` is long (study, outcome, method, index, parameter, value, conf); the
    frames are wide: parameter, s1, s1_conf, st, st_conf.
    """
    required = {"study", "outcome", "method", "index", "parameter", "value", "conf"}
    missing = sorted(required - set(sensitivity.columns))
    if missing:
        raise ReportError(
            f"sweeps.sensitivity: columns {missing} missing (has {list(sensitivity.columns)})"
        )
    sobol = sensitivity[
        (sensitivity["method"] == "sobol") & sensitivity["index"].isin(["S1", "ST"])
    ]
    groups = []
    for (study, outcome), rows in sobol.groupby(["study", "outcome"], sort=True):
        wide = rows.pivot_table(index="parameter", columns="index", values=["value", "conf"])
        frame = pd.DataFrame(
            {
                "parameter": wide.index,
                "s1": wide[("value", "S1")].to_numpy(),
                "s1_conf": wide[("conf", "S1")].to_numpy(),
                "st": wide[("value", "ST")].to_numpy(),
                "st_conf": wide[("conf", "ST")].to_numpy(),
            }
        )
        groups.append((f"Sobol indices — {study}: {outcome}", frame))
    return groups


def _with_degree_labels(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    labelled = frame.copy()
    labelled[column] = labelled[column].map(
        lambda degree: figures.DEGREE_LABELS.get(degree, degree)
    )
    return labelled


def format_number(value: float) -> str:
    """Counts and money in full with thousands separators; shares and rates to 4 digits."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="—", float_format=format_number, border=0)


def _absent_html(absent: Absent) -> str:
    return f'<p class="absent">{html.escape(absent.reason)}</p>'


def _image_html(image: Path, alt: str) -> str:
    return f'<p><img src="{html.escape(image.name)}" alt="{html.escape(alt)}"></p>'


def _section(anchor: str, title: str, body: str, note: str | None = None) -> str:
    note_html = f"<p><small>{html.escape(note)}</small></p>" if note else ""
    return (
        f'<section id="{anchor}">\n<h2>{html.escape(title)}</h2>\n{body}\n{note_html}\n</section>'
    )


def _page(
    *,
    day: date,
    warehouse: Path,
    sections: list[str],
    docs_link: str | None,
    run_summary_markdown: str | None,
) -> str:
    docs = (
        f'<p>Model and column documentation: <a href="{html.escape(docs_link)}">dbt docs</a>.</p>'
        if docs_link
        else '<p class="absent">dbt docs were not published with this warehouse.</p>'
    )
    summary = (
        f'<section id="run"><h2>Run summary</h2><pre>{html.escape(run_summary_markdown)}</pre></section>'
        if run_summary_markdown
        else ""
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>migsys nightly report {day.isoformat()}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Mexico–US migratory system: nightly report, {day.isoformat()}</h1>
<p>Built {generated} from <code>{html.escape(str(warehouse))}</code>.</p>
{docs}
{summary}
{"".join(sections)}
<footer>migsys — data: CONAPO, INEGI, Banco de México, World Bank, UN DESA.</footer>
</body>
</html>
"""
