"""The run summary (what tonight's refresh did) as HTML tables, from the pipeline's plain dict.

The pipeline passes a JSON-ready dict; every key is optional and unknown keys are ignored, so an
older or newer pipeline still gets a readable summary::

    {"build_id": str, "rebuilt": bool,
     "sources": [{"source", "status", "files", "rows_loaded", "rows_rejected", "origin",
                  "period", "release_date"}],
     "dbt": {"seed" | "model" | "test" | "unit_test": {"passed", "failed", "warned", "skipped"}},
     "studies": [{"name", "standing", "action", "reason", "scenarios_run", "seconds"}],
     "quarantined": [{"name", "reason"}],
     "guard": [{"check", "published", "build", "outcome"}],
     "seconds": {step: float}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import duckdb
import numpy as np

from migsys.reports.labels import humanize, source_title
from migsys.reports.templating import Markup, parts

DBT_RESOURCES = ("seed", "model", "test", "unit_test")
DBT_COUNTS = ("passed", "failed", "warned", "skipped")


def render_run_summary(summary: Mapping[str, Any]) -> Markup:
    """HTML of the run summary: a sentence, then one table per part that is present."""
    tables: list[Markup] = []
    sources = _rows(summary.get("sources"))
    if sources:
        tables.append(
            _table(
                "Sources",
                [
                    "Source",
                    "Status",
                    "Files",
                    "Loaded from",
                    "Period",
                    "Release date",
                    "Rows loaded",
                    "Rows rejected",
                ],
                [
                    [
                        source_title(str(row.get("source", ""))),
                        row.get("status"),
                        row.get("files"),
                        _origin(row.get("origin")),
                        row.get("period"),
                        row.get("release_date"),
                        row.get("rows_loaded"),
                        row.get("rows_rejected"),
                    ]
                    for row in sources
                ],
            )
        )
    dbt = summary.get("dbt")
    if isinstance(dbt, Mapping) and dbt:
        resources = [r for r in DBT_RESOURCES if isinstance(dbt.get(r), Mapping)]
        resources += [r for r in dbt if r not in DBT_RESOURCES and isinstance(dbt[r], Mapping)]
        tables.append(
            _table(
                "dbt build",
                ["Resource", *[c.capitalize() for c in DBT_COUNTS]],
                [[humanize(r), *[dbt[r].get(c) for c in DBT_COUNTS]] for r in resources],
            )
        )
    elif "dbt" in summary and not dbt:
        tables.append(parts().paragraph("dbt did not run: the warehouse's inputs were unchanged."))
    studies = _rows(summary.get("studies"))
    if studies:
        tables.append(
            _table(
                "Studies",
                ["Study", "Kind", "Action", "Why", "Scenarios run", "Seconds"],
                [
                    [
                        row.get("name"),
                        _kind(row.get("standing")),
                        row.get("action"),
                        row.get("reason"),
                        row.get("scenarios_run"),
                        row.get("seconds"),
                    ]
                    for row in studies
                ],
            )
        )
    quarantined = _rows(summary.get("quarantined"))
    if quarantined:
        tables.append(
            _table(
                "Quarantined",
                ["What", "Why"],
                [[row.get("name"), row.get("reason")] for row in quarantined],
            )
        )
    guard = _rows(summary.get("guard"))
    if guard:
        tables.append(
            _table(
                "Publish guard",
                ["Check", "Published warehouse", "This build", "Outcome"],
                [
                    [row.get("check"), row.get("published"), row.get("build"), row.get("outcome")]
                    for row in guard
                ],
            )
        )
    seconds = summary.get("seconds")
    if isinstance(seconds, Mapping) and seconds:
        tables.append(
            _table(
                "Time per step",
                ["Step", "Seconds"],
                [[humanize(step), value] for step, value in seconds.items()],
            )
        )
    build = summary.get("build_id")
    return parts().run_summary(str(build) if build else None, summary.get("rebuilt"), tables)


def _rows(value: object) -> list[Mapping[str, Any]]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [row for row in value if isinstance(row, Mapping)]
    return []


def _origin(origin: object) -> object:
    return {"sources": "source files", "embedded": "embedded snapshot"}.get(origin, origin)


def _kind(standing: object) -> str:
    if standing is True:
        return "standing"
    if standing is False:
        return "ad hoc"
    return "—"


def format_cell(value: object) -> str:
    """Numbers with thousands separators, floats to one decimal; None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _table(caption: str, header: list[str], rows: list[list[object]]) -> Markup:
    return html_table(header, rows, caption=caption, css="summary")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def html_table(
    header: list[str],
    rows: list[list[object]],
    *,
    caption: str | None = None,
    css: str = "",
    formatter: Callable[[object], str] = format_cell,
) -> Markup:
    """A plain HTML table: numbers right-aligned (class num), text left-aligned (class text)."""
    cells = [[("num" if _is_number(v) else "text", formatter(v)) for v in row] for row in rows]
    return parts().table([str(h) for h in header], cells, caption, css)


def summary_sources(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The ``sources`` entries of a run summary, read from a build's ``raw.source_files``.

    One dict per source: status ('loaded' or the first problem), files, rows loaded and
    rejected, origin ('sources' | 'embedded'), the period the rows cover ('1995-01 to 2015-12')
    and the release date the files state ('unknown' where they state none).
    """
    from migsys.reports.queries import Absent, source_freshness

    frame = source_freshness(con)
    if isinstance(frame, Absent):
        return []
    rows = []
    for record in frame.to_dict("records"):
        start, end = record["period_start"], record["period_end"]
        period = (
            None if not isinstance(start, str) else start if start == end else f"{start} to {end}"
        )
        rows.append(
            {
                "source": record["source_id"],
                "status": record["problem"] if isinstance(record["problem"], str) else "loaded",
                "files": int(record["files"]),
                "rows_loaded": int(record["rows_loaded"] or 0),
                "rows_rejected": int(record["rows_rejected"] or 0),
                "origin": record["origin"],
                "period": period,
                "release_date": record["release_date"],
            }
        )
    return rows
