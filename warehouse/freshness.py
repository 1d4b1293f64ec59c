"""How fresh a source is: when its edition was released, and whether its latest period is stale.

Pure functions over the registry (``warehouse.sources``) and the periods ingest reads from the
rows (``raw_schema.PERIOD_KEYS``: a year ``'2020'``, a month ``'2024-12'`` or a quarter
``'2024-Q2'``). A release date comes, in order of preference, from the file itself
(``ingest.documented_release_date``), from the publisher's documentation recorded in the
registry (``Source.documented_releases``), or from the publisher's usual lag after the latest
period (``Source.release_lag_days``), marked ``estimated``. A source is stale when its latest
period ended longer ago than the publisher's cadence allows (``Source.stale_after_months``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

UNKNOWN = "unknown"
# Where a release date comes from (raw.source_files.release_basis).
BASIS_FILE = "file"  # the file states it
BASIS_DOCUMENTED = "documented"  # the publisher's documentation, recorded in the registry
BASIS_ESTIMATED = "estimated"  # the publisher's usual lag after the latest period
BASIS_UNKNOWN = UNKNOWN

_PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{2})|-Q([1-4]))?$")


@dataclass(frozen=True)
class Release:
    """A file's release date (ISO date, a year for an edition, or 'unknown') and its basis."""

    date: str
    basis: str

    def describe(self) -> str:
        """'2021-01-25', '2024-08-14 (estimated)', 'unknown'."""
        if self.basis == BASIS_ESTIMATED:
            return f"{self.date} (estimated)"
        return self.date


def period_end(period: str) -> date:
    """Last day of a period key: '2020' -> 2020-12-31, '2024-12' -> 2024-12-31, '2024-Q2' ->
    2024-06-30."""
    match = _PERIOD_RE.match(period.strip())
    if not match:
        raise ValueError(f"period {period!r} is not 'YYYY', 'YYYY-MM' or 'YYYY-Qn'")
    year = int(match.group(1))
    if match.group(2):
        month = int(match.group(2))
    elif match.group(3):
        month = 3 * int(match.group(3))
    else:
        month = 12
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def release_of(
    stated: str | None,
    documented: str | None,
    lag_days: int | None,
    latest_period: str | None,
) -> Release:
    """The release date by the order of preference in the module doc."""
    if stated and stated != UNKNOWN:
        return Release(stated, BASIS_FILE)
    if documented:
        return Release(documented, BASIS_DOCUMENTED)
    if lag_days is not None and latest_period:
        estimate = period_end(latest_period) + timedelta(days=lag_days)
        return Release(estimate.isoformat(), BASIS_ESTIMATED)
    return Release(UNKNOWN, BASIS_UNKNOWN)


def stale_since(latest_period: str | None, stale_after_months: int | None) -> date | None:
    """The day a source whose latest period is ``latest_period`` becomes stale (None: never)."""
    if not latest_period or stale_after_months is None:
        return None
    return add_months(period_end(latest_period), stale_after_months)


def is_stale(latest_period: str | None, stale_after_months: int | None, today: date) -> bool:
    since = stale_since(latest_period, stale_after_months)
    return since is not None and today > since
