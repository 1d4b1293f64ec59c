"""The report's first section: how old the data are, which sources are stale, in words.

For every registered source: the period its rows cover (from the data, never from the time a
file was copied), the release date of its latest file with where that date comes from (the
file, the publisher's documentation, or an estimate from the publisher's usual lag:
``warehouse.freshness``), the publisher's cadence, and whether the source is stale on the day of
the report: its latest period ended longer ago than that cadence allows
(``Source.stale_after_months``: a census older than 10 years, remittances older than two
quarters, the UN migrant stock older than its 5-year editions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from migsys.reports.labels import source_title
from migsys.reports.queries import Absent, source_freshness
from migsys.reports.sections import Section, table_html
from migsys.reports.templating import parts
from migsys.warehouse.freshness import BASIS_DOCUMENTED, BASIS_ESTIMATED, BASIS_FILE, stale_since
from migsys.warehouse.sources import SOURCES_BY_ID

ANCHOR = "freshness"
TITLE = "Data freshness: what each source covers, when it was released, what is stale"
BASIS_WORDS = {
    BASIS_FILE: "in the file",
    BASIS_DOCUMENTED: "documented",
    BASIS_ESTIMATED: "estimated",
}
# Names short enough for one line of the first screen (the registry's titles are the
# publishers' own, in Spanish, and long).
SHORT_NAMES = {
    "conapo_iim_2000": "CONAPO migration intensity 2000",
    "conapo_iim_2010": "CONAPO migration intensity 2010",
    "conapo_iim_2020": "CONAPO migration intensity 2020",
    "inegi_census": "INEGI censuses and counts",
    "inegi_census_series": "INEGI census series 1990–2010",
    "inegi_municipal_boundaries": "INEGI municipal boundaries",
    "banxico_remittances_monthly": "Banxico remittances, monthly",
    "banxico_remittances_state": "Banxico remittances by state",
    "banxico_remittances_municipal": "Banxico remittances by municipality",
    "banxico_usdmxn_monthly": "Banxico USD/MXN rate",
    "worldbank_gdp": "World Bank GDP",
    "worldbank_population": "World Bank population",
    "un_migrant_stock": "UN migrant stock",
}


@dataclass(frozen=True)
class SourceFreshness:
    """One source as the reader sees it."""

    source_id: str
    title: str
    period: str
    release: str
    cadence: str
    stale_after_months: int | None
    stale_since: date | None  # when its latest period became too old (None: no cadence)
    problem: str | None  # a file that failed or is absent

    def stale(self, today: date) -> bool:
        return self.stale_since is not None and today > self.stale_since

    def verdict(self, today: date) -> str:
        """'STALE: older than 2 quarters since 2025-06-30', 'no: fresh until 2030-12-31 (10
        years)', or why there is no verdict."""
        if self.stale_since is None or self.stale_after_months is None:
            return "— superseded edition" if self.cadence else "—"
        limit = _months(self.stale_after_months)
        if self.stale(today):
            return f"STALE: older than {limit} since {self.stale_since.isoformat()}"
        return f"no: fresh until {self.stale_since.isoformat()} ({limit})"


def _months(months: int) -> str:
    if months % 12 == 0:
        years = months // 12
        return f"{years} year{'s' if years > 1 else ''}"
    if months % 3 == 0:
        return f"{months // 3} quarters"
    return f"{months} months"


def source_rows(frame: pd.DataFrame) -> list[SourceFreshness]:
    """``queries.source_freshness`` rows read against the registry's cadence."""
    rows = []
    for record in frame.to_dict("records"):
        source = SOURCES_BY_ID.get(record["source_id"])
        start, end = record["period_start"], record["period_end"]
        end = end if isinstance(end, str) and end else None
        problem = record["problem"] if isinstance(record["problem"], str) else None
        rows.append(
            SourceFreshness(
                source_id=record["source_id"],
                title=SHORT_NAMES.get(record["source_id"]) or source_title(record["source_id"]),
                period=_period(start, end),
                release=_release(record.get("release_date"), record.get("release_basis")),
                cadence=source.cadence if source else "",
                stale_after_months=source.stale_after_months if source else None,
                stale_since=stale_since(end, source.stale_after_months if source else None),
                problem=problem,
            )
        )
    return rows


def _period(start: object, end: str | None) -> str:
    if not isinstance(start, str) or not start or end is None:
        return "—"
    return start if start == end else f"{start} to {end}"


def _release(value: object, basis: object) -> str:
    if not isinstance(value, str) or not value or value == "unknown":
        return "unknown"
    words = BASIS_WORDS.get(basis) if isinstance(basis, str) else None
    return f"{value} ({words})" if words else value


def stale_sentence(rows: list[SourceFreshness], today: date) -> str:
    """The verdict in words: which sources are stale on ``today``, or that none is."""
    stale = [row for row in rows if row.stale(today)]
    if not stale:
        return (
            f"As of {today.isoformat()}, no source is stale: every latest period is within its "
            "publisher's cadence."
        )
    names = "; ".join(f"{row.title} (latest {row.period.split(' to ')[-1]})" for row in stale)
    return (
        f"As of {today.isoformat()}, {len(stale)} of {len(rows)} sources are stale, their latest "
        f"period older than the publisher's cadence allows: {names}."
    )


def freshness_section(con: duckdb.DuckDBPyConnection, today: date):
    """The section (``reports.sections.Section``) with the verdict sentence and the table."""

    frame = source_freshness(con)
    if isinstance(frame, Absent):
        return Section(ANCHOR, TITLE, absent=frame.reason)
    rows = source_rows(frame)
    table = pd.DataFrame(
        {
            "Source": [row.title for row in rows],
            "Period the data cover": [
                row.period if row.problem is None else f"— ({row.problem})" for row in rows
            ],
            "Release date": [row.release for row in rows],
            "Stale?": [row.verdict(today) for row in rows],
            "Loaded from": [
                _origin(origin, created)
                for origin, created in zip(frame["origin"], frame["snapshot_created"], strict=True)
            ],
        }
    )
    css = "warning" if any(row.stale(today) for row in rows) else "note"
    body = parts().freshness(
        css,
        stale_sentence(rows, today),
        table_html(table, caption="Sources of this build", css="freshness"),
    )
    return Section(
        ANCHOR,
        TITLE,
        body,
        note="Periods are read from the rows loaded (first and last year, month or quarter with "
        "a value). A release date is the one the file states ('in the file'); where it states "
        "none, the edition's date from the publisher's documentation ('documented': census "
        "reference date, CONAPO edition year); failing that, the latest period plus the "
        "publisher's usual lag ('estimated'). Stale: the latest period is older than the "
        "publisher's cadence allows (a census older than 10 years, remittances older than two "
        "quarters, the UN migrant stock older than its 5-year editions). Rows loaded and "
        "rejected per source: the run summary below.",
    )


def _origin(origin: object, created: object) -> str:
    if origin == "embedded":
        stamp = pd.Timestamp(created).date().isoformat() if pd.notna(created) else "unknown date"
        return f"embedded snapshot of {stamp}"
    if origin == "sources":
        return "source files"
    return str(origin)
