"""Build the static nightly report from the published warehouse.

``build_report`` opens the warehouse read-only, runs ``reports.queries``, draws
``reports.figures`` and writes ``<reports_root>/<date>/index.html`` beside its PNGs, then points
``<reports_root>/latest`` at that folder. The page has no external assets: it opens offline. Its
HTML comes from the templates in ``reports/templates/`` (autoescaped: ``reports.templating``);
this module decides what each section shows.

The folder is written fresh and swapped in whole, so a figure of a section that has no data
tonight never survives from an earlier run. Sections, in order: data freshness (the period each
source covers, its release date and which sources are stale: ``reports/freshness.py``), the run
summary, Table 1 (paper beside data), remittances, how good the projections are
(``reports/forecast_section.py``), depopulation, municipalities on the map
(``reports/municipal_section.py``), standing studies, ad-hoc studies, claims of the paper the
data do not reproduce.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from migsys.reports import figures, queries
from migsys.reports.forecast_section import forecast_section
from migsys.reports.freshness import freshness_section
from migsys.reports.labels import humanize, series_label, with_labels
from migsys.reports.municipal_section import municipal_section
from migsys.reports.queries import Absent
from migsys.reports.sections import Rounded, Section, format_number, number_text, table_html
from migsys.reports.summary import render_run_summary
from migsys.reports.templating import Markup, parts, render
from migsys.sweeps.labels import sobol_title
from migsys.warehouse.files import move_into_place, staged_path, swap_directory
from migsys.warehouse.sql import open_read_only

LATEST_LINK = "latest"
# A Sobol estimate whose interval is wider than this share of the index cannot rank anything...
SOBOL_WIDE_INTERVAL_SHARE = 0.5
# ...unless the whole interval lies below this: the parameter explains under 5 % of the variance
# whatever its exact value, and its rank among the negligible ones does not matter.
SOBOL_NEGLIGIBLE_INDEX = 0.05


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
    run_summary: Mapping[str, Any] | None = None,
    standing_studies: Iterable[str] | None = None,
    run_summary_markdown: str | None = None,
) -> ReportResult:
    """Write the report of ``warehouse`` under ``reports_root/<date>/`` and link it as latest.

    ``docs_index`` is the published dbt docs page to link to. ``run_summary`` is the pipeline's
    summary dict (see ``reports.summary``), rendered as tables. ``standing_studies`` names the
    studies the nightly config runs: they get their own section, every other study loaded in
    the warehouse is shown as ad hoc (None: the report cannot tell, and says so).
    ``run_summary_markdown`` is the older text summary, shown folded when no dict is given.
    """
    if not warehouse.is_file():
        raise ReportError(
            f"{warehouse}: no published warehouse to report on (run `migsys refresh`)"
        )
    day = report_date or datetime.now(UTC).date()
    out_dir = reports_root / day.isoformat()
    reports_root.mkdir(parents=True, exist_ok=True)
    staging = staged_path(out_dir)
    staging.mkdir()
    try:
        try:
            con = open_read_only(warehouse)
        except duckdb.Error as error:
            raise ReportError(
                f"{warehouse}: cannot open the warehouse read-only: {error}"
            ) from error
        try:
            standing = None if standing_studies is None else set(standing_studies)
            sections = render_sections(con, staging, standing, today=day)
            alerts = precision_alerts(queries.sensitivity(con), standing)
        finally:
            con.close()
        page = _page(
            alerts=alerts,
            day=day,
            warehouse=warehouse,
            sections=sections,
            docs_link=_docs_link(out_dir, docs_index),
            run_summary=run_summary,
            run_summary_markdown=run_summary_markdown,
        )
        (staging / "index.html").write_text(page, encoding="utf-8")
        swap_directory(staging, out_dir)  # no file of an earlier run of the day survives
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    latest = link_latest(reports_root, out_dir)
    images = tuple(out_dir / image.name for s in sections for image in s.images)
    absent = {s.anchor: s.absent for s in sections if s.absent}
    return ReportResult(
        index_html=out_dir / "index.html", latest=latest, images=images, absent_sections=absent
    )


def link_latest(reports_root: Path, out_dir: Path) -> Path:
    """Point ``reports_root/latest`` at ``out_dir`` (relative symlink, swapped atomically)."""
    latest = reports_root / LATEST_LINK
    temporary = staged_path(latest)
    temporary.symlink_to(out_dir.name, target_is_directory=True)
    if latest.is_dir() and not latest.is_symlink():
        # A home copied without keeping symlinks (cp -r, copytree) holds a plain copy here.
        shutil.rmtree(latest)
    move_into_place(temporary, latest)
    return latest


def _docs_link(out_dir: Path, docs_index: Path | None) -> str | None:
    if docs_index is None or not docs_index.is_file():
        return None
    return os.path.relpath(docs_index, out_dir)


# --------------------------------------------------------------------------- sections


def render_sections(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    standing: set[str] | None,
    *,
    today: date | None = None,
) -> list[Section]:
    """Every section of the report, in page order; figures are written into ``out_dir``.

    The first is data freshness (``reports/freshness.py``, stale as of ``today``): the page shows
    it before anything else, so a reader sees first how old the data are.
    """
    study_frame = queries.studies(con)
    sensitivity = queries.sensitivity(con)
    settings = queries.study_settings(con)
    return [
        freshness_section(con, today or datetime.now(UTC).date()),
        table1_section(con),
        remittances_section(con, out_dir, standing),
        forecast_skill_section(con, out_dir),
        depopulation_section(con, out_dir),
        municipal_section(con, out_dir),
        studies_section(
            "standing",
            "Standing studies: what drives the spread (sensitivity, not forecasts)",
            study_frame,
            sensitivity,
            settings,
            out_dir,
            lambda name: standing is None or name in standing,
            "These studies run every night on the new data. Their ranges show how the outcome "
            "responds to the assumptions swept within their stated bounds; they are not "
            "forecasts."
            if standing is not None
            else "The run did not say which studies are standing: every study loaded in the "
            "warehouse is shown here.",
        ),
        studies_section(
            "adhoc",
            "Ad-hoc studies",
            study_frame,
            sensitivity,
            settings,
            out_dir,
            lambda name: standing is not None and name not in standing,
            "Studies someone ran by hand (`migsys sweep run`) and that the refresh loaded: "
            "not refreshed nightly, shown for reference.",
        ),
        claims_section(con),
    ]


def table1_section(con: duckdb.DuckDBPyConnection) -> Section:
    anchor, title = "table1", "Table 1: municipalities by intensity of migration to the US, 2000"
    frame = queries.table1_side_by_side(con)
    if isinstance(frame, Absent):
        return Section(anchor, title, absent=frame.reason)
    measures = ("municipalities", "population", "households")
    labelled = with_labels(frame[["intensity_degree"]], ("intensity_degree",))
    rows = []
    for index, row in frame.iterrows():
        cells = [
            number_text(row[column], digits)
            for measure in measures
            for column, digits in (
                (f"{measure}_paper", 0),
                (f"{measure}_data", 0),
                (f"{measure}_pct_paper", 2),
                (f"{measure}_pct_data", 2),
            )
        ]
        differs = any(row[f"{m}_paper"] != row[f"{m}_data"] for m in measures)
        rows.append({"label": str(labelled.iloc[index, 0]), "cells": cells, "differs": differs})
    differing = sum(row["differs"] for row in rows)
    verdict = (
        "The data reproduce every count of the paper's Table 1."
        if not differing
        else f"{differing} of {len(rows)} degrees differ from the paper (highlighted)."
    )
    body = parts().table1(
        verdict,
        [measure.capitalize() for measure in measures],
        ("paper", "data", "% paper", "% data"),
        rows,
    )
    return Section(
        anchor,
        title,
        body,
        note="Data: CONAPO migration intensity index 2000 (degrees, households) and INEGI census "
        "2000 (population). Percentages of the national total; the paper prints them to two "
        "decimals.",
    )


def remittances_section(
    con: duckdb.DuckDBPyConnection, out_dir: Path, standing: set[str] | None
) -> Section:
    anchor, title = "remittances", "Remittances: history and the spread of the standing study"
    annual = queries.remittances_annual(con)
    if isinstance(annual, Absent):
        return Section(anchor, title, absent=annual.reason)
    quantiles = queries.series_quantiles(con)
    fan = None
    reason = None
    if isinstance(quantiles, Absent):
        reason = quantiles.reason
    else:
        if standing is not None:
            quantiles = quantiles[quantiles["study"].isin(standing)]
        fan = remittance_fan(quantiles, _study_descriptions(con))
        if fan is None:
            reason = "no remittance series among the standing studies"
    image = figures.plot_remittances(
        annual,
        None if fan is None else fan[1],
        out_dir / "remittances.png",
        fan_label="sensitivity range" if fan is None else fan[0],
    )
    body = parts().remittances(
        image.name, "Annual remittance income to Mexico, USD billion", reason
    )
    return Section(anchor, title, body, images=(image,))


def remittance_fan(
    quantiles: pd.DataFrame, descriptions: Mapping[str, str] | None = None
) -> tuple[str, pd.DataFrame] | None:
    """The remittance series of the studies as (legend label, year × quantile-level frame).

    ``stg_sweeps__series_quantiles`` is long: one row per study, series, year and quantile. The
    first series whose name mentions remittances is shown, in USD first (comparable with history).
    """
    frame = quantiles.rename(columns=str.lower)
    required = {"study", "series", "year", "quantile", "series_value"}
    if not required <= set(frame.columns):
        raise ReportError(
            f"stg_sweeps__series_quantiles: columns {sorted(required - set(frame.columns))} "
            f"missing (has {list(quantiles.columns)})"
        )
    remittance_rows = frame[frame["series"].astype(str).str.contains("remit", case=False)]
    if remittance_rows.empty:
        return None
    preference = (remittance_rows["series"] != "remittances_usd").astype(int)
    first = (
        remittance_rows.assign(_rank=preference).sort_values(["_rank", "study", "series"]).iloc[0]
    )
    study, series = first["study"], first["series"]
    rows = remittance_rows[
        (remittance_rows["study"] == study) & (remittance_rows["series"] == series)
    ]
    fan = rows.pivot_table(index="year", columns="quantile", values="series_value").sort_index()
    label = f"{series_label(series)}, study “{humanize(study)}”"
    return label, fan


def forecast_skill_section(con: duckdb.DuckDBPyConnection, out_dir: Path) -> Section:
    """'How good are these projections?', written by ``reports/forecast_section.py`` (the
    forecast evaluation's own module); says so when the evaluation has no results."""
    section = forecast_section(con, out_dir)
    if section is None:
        return Section(
            "forecast",
            "How good are these projections?",
            absent="no data: the forecast skill evaluation has no results",
        )
    return section


def depopulation_section(con: duckdb.DuckDBPyConnection, out_dir: Path) -> Section:
    anchor = "depopulation"
    title = "Depopulating municipalities by migration intensity degree and census period"
    frame = queries.depopulation_by_degree(con)
    if isinstance(frame, Absent):
        return Section(anchor, title, absent=frame.reason)
    image = figures.plot_depopulation(frame, out_dir / "depopulation.png")
    body = _image_html(image, "Share of depopulating municipalities by degree and period")
    shown = frame.copy()
    shown["depopulating_pct"] = pd.Series(
        [None if pd.isna(v) else Rounded(v, 1) for v in frame["depopulating_pct"]], dtype=object
    )
    body += table_html(
        with_labels(shown, ("intensity_degree_2000",)),
        caption="Municipalities whose population fell between two censuses or counts "
        "(percentages to one decimal)",
    )
    return Section(
        anchor,
        title,
        body,
        note="INEGI censuses and counts; degrees of CONAPO's 2000 index.",
        images=(image,),
    )


def studies_section(
    anchor: str,
    title: str,
    study_frame: pd.DataFrame | Absent,
    sensitivity: pd.DataFrame | Absent,
    settings: Mapping[str, Mapping[str, Any]],
    out_dir: Path,
    belongs: Any,
    intro: str,
) -> Section:
    """Studies of one kind (standing or ad hoc): what they are and their Sobol indices."""
    names: list[str] = []
    if not isinstance(study_frame, Absent):
        names = [name for name in study_frame["study"] if belongs(name)]
    groups = []
    if not isinstance(sensitivity, Absent):
        groups = [g for g in sobol_groups(sensitivity) if belongs(g[0])]
        names += [g[0] for g in groups if g[0] not in names]
    if not names:
        reason = (
            study_frame.reason
            if isinstance(study_frame, Absent) and anchor == "standing"
            else f"none: no {title.split(':')[0].lower()} in this warehouse"
        )
        return Section(anchor, title, absent=reason)
    descriptions = {} if isinstance(study_frame, Absent) else _descriptions(study_frame)
    listing = None
    if not isinstance(study_frame, Absent):
        listed = study_frame[study_frame["study"].isin(names)].copy()
        listed["study"] = listed["study"].map(humanize)
        listing = table_html(with_labels(listed), caption="Studies")
    images, shown = [], []
    for study, outcome, frame in groups:
        own = settings.get(study, {})
        conf_level = float(own.get("conf_level") or 0.95)
        figure_title = _sobol_title(own.get("kernel"), outcome, own.get("horizon"), study)
        image = figures.plot_sobol(
            frame,
            out_dir / f"sobol_{anchor}_{len(images)}.png",
            title=figure_title,
            conf_level=conf_level,
        )
        images.append(image)
        shown.append(
            {
                "title": figure_title,
                "warning": sobol_warning(frame, conf_level),  # first, before anything is read
                "description": descriptions.get(study),
                "image": image.name,
                "table": _sobol_table(frame, conf_level),
            }
        )
    body = parts().studies(intro, listing, shown)
    return Section(anchor, title, body, images=tuple(images))


SOBOL_COLUMNS = ["parameter", "s1", "s1_conf", "st", "st_conf"]


def sobol_groups(sensitivity: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """One (study, outcome, frame) per study and outcome with Sobol indices.

    ``stg_sweeps__sensitivity`` is long (study, outcome, method, sensitivity_index, parameter,
    index_value, index_conf); the frames are wide: parameter, s1, s1_conf, st, st_conf.
    """
    required = {
        "study", "outcome", "method", "sensitivity_index", "parameter", "index_value", "index_conf"
    }  # fmt: skip
    missing = sorted(required - set(sensitivity.columns))
    if missing:
        raise ReportError(
            f"stg_sweeps__sensitivity: columns {missing} missing (has {list(sensitivity.columns)})"
        )
    sobol = sensitivity[
        (sensitivity["method"] == "sobol") & sensitivity["sensitivity_index"].isin(["S1", "ST"])
    ]
    groups = []
    for (study, outcome), rows in sobol.groupby(["study", "outcome"], sort=True):
        wide = rows.pivot_table(
            index="parameter", columns="sensitivity_index", values=["index_value", "index_conf"]
        )
        frame = pd.DataFrame(
            {
                "parameter": wide.index,
                "s1": wide[("index_value", "S1")].to_numpy(),
                "s1_conf": wide[("index_conf", "S1")].to_numpy(),
                "st": wide[("index_value", "ST")].to_numpy(),
                "st_conf": wide[("index_conf", "ST")].to_numpy(),
            }
        )
        groups.append((str(study), str(outcome), frame))
    return groups


def _sobol_title(kernel: object, outcome: str, horizon: object, study: str) -> str:
    """'What drives remittances in 2030? Sobol indices of study remittances-nightly'."""
    if not isinstance(kernel, str):
        return f"What drives {humanize(outcome).lower()}? Sobol indices of study {study}"
    year = int(horizon) if horizon is not None and not pd.isna(horizon) else None
    return sobol_title(kernel, outcome, year, study)


def wide_sobol_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """Booleans (s1, st) per parameter: the interval (2 × conf) is wider than half the index,
    and the parameter is not known to be negligible (its whole interval under 0.05)."""
    flags = {}
    for index in ("s1", "st"):
        value, conf = frame[index].abs(), frame[f"{index}_conf"].abs()
        negligible = value + conf < SOBOL_NEGLIGIBLE_INDEX
        flags[index] = (2 * conf > SOBOL_WIDE_INTERVAL_SHARE * value) & ~negligible
    return pd.DataFrame(flags)


def fails_precision_check(frame: pd.DataFrame) -> list[str]:
    """The parameters whose Sobol indices are too uncertain to rank (empty: the check passes)."""
    return frame.loc[wide_sobol_intervals(frame).any(axis=1), "parameter"].astype(str).tolist()


def sobol_warning(frame: pd.DataFrame, conf_level: float = 0.95) -> Markup:
    """A visible warning naming the parameters whose indices are too uncertain to rank (empty
    when every interval is narrow enough)."""
    flagged = fails_precision_check(frame)
    return parts().sobol_warning(flagged, f"{conf_level * 100:.0f}", len(frame))


def precision_alerts(sensitivity: pd.DataFrame | Absent, standing: set[str] | None) -> list[str]:
    """One sentence per standing study and outcome whose Sobol indices fail the precision
    check: the report says so in its first line."""
    if isinstance(sensitivity, Absent):
        return []
    alerts = []
    for study, outcome, frame in sobol_groups(sensitivity):
        if standing is not None and study not in standing:
            continue
        flagged = fails_precision_check(frame)
        if flagged:
            alerts.append(
                f"The standing study {study} fails its precision check for {outcome}: the "
                f"Sobol intervals of {len(flagged)} of {len(frame)} parameters are too wide to "
                "rank them (see Standing studies); raise its design.n."
            )
    return alerts


def _sobol_table(frame: pd.DataFrame, conf_level: float = 0.95) -> Markup:
    wide = wide_sobol_intervals(frame)
    rows = [
        {
            "parameter": str(row["parameter"]),
            "cells": [
                (f"{row[index]:.3f} ± {row[f'{index}_conf']:.3f}", bool(wide.iloc[position][index]))
                for index in ("s1", "st")
            ],
        }
        for position, row in frame.reset_index(drop=True).iterrows()
    ]
    return parts().sobol_table(rows, f"{conf_level * 100:.0f}", SOBOL_NEGLIGIBLE_INDEX)


def claims_section(con: duckdb.DuckDBPyConnection) -> Section:
    anchor, title = "claims", "Claims of the paper the data do not reproduce"
    claims = queries.disagreeing_claims(con)
    if isinstance(claims, Absent):
        return Section(anchor, title, absent=claims.reason)
    frame = claims.copy()
    frame["paper_value"] = [
        f"{format_number(value)} {unit}"
        for value, unit in zip(frame["paper_value"], frame["unit"], strict=True)
    ]
    frame = frame.drop(columns=["unit"])
    return Section(
        anchor,
        title,
        table_html(
            with_labels(frame),
            caption="Judged at the precision the paper prints each figure",
            css="claims",
        ),
        note="Every claim with its verdict: select * from fct_paper_claims_check.",
    )


def _study_descriptions(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    frame = queries.studies(con)
    return {} if isinstance(frame, Absent) else _descriptions(frame)


def _descriptions(frame: pd.DataFrame) -> dict[str, str]:
    return {
        str(study): str(description)
        for study, description in zip(frame["study"], frame["description"], strict=True)
        if isinstance(description, str) and description
    }


# --------------------------------------------------------------------------- HTML


def _image_html(image: Path, alt: str) -> Markup:
    return parts().image(image.name, alt)


def _page(
    *,
    alerts: list[str],
    day: date,
    warehouse: Path,
    sections: list[Section],
    docs_link: str | None,
    run_summary: Mapping[str, Any] | None,
    run_summary_markdown: str | None,
) -> str:
    run = None
    if run_summary:
        run = Section("run", "What tonight's refresh did", render_run_summary(run_summary))
    elif run_summary_markdown:
        body = parts().run_summary_text(run_summary_markdown)
        run = Section("run", "What tonight's refresh did", body)
    first, rest = sections[:1], sections[1:]  # data freshness, then the rest after the run
    contents = [(s.anchor, s.title) for s in first]
    contents += [(run.anchor, run.title)] if run else []
    contents += [(s.anchor, s.title) for s in rest]
    return render(
        "report.html.j2",
        alerts=alerts,
        day=day.isoformat(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        warehouse=str(warehouse),
        first=first,
        docs_link=docs_link,
        contents=contents,
        run=run,
        rest=rest,
    )
