"""What a report section is and how its tables print numbers, below every section module.

``reports.build`` assembles the page from :class:`Section` objects that it and the section modules
(``freshness``, ``municipal_section``, ``forecast_section``) write; they all print tables through
:func:`table_html`. Kept apart from ``build`` so those modules import it, not the page builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from migsys.reports.summary import html_table
from migsys.reports.templating import Markup, parts


@dataclass(frozen=True)
class Section:
    """One part of the page. ``absent`` says why there is nothing to show (shown instead).

    ``body`` is HTML: a template's ``Markup``, or the HTML a section module writes itself
    (``forecast_section``, ``municipal_section``), trusted as such here and nowhere else. The
    title, note and absent reason are text (escaped).
    """

    anchor: str
    title: str
    body: str = ""
    note: str | None = None
    absent: str | None = None
    images: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", Markup(self.body))

    def html(self) -> str:
        return parts().section(self)


class Rounded(float):
    """A number a table shows with a fixed number of decimals (percentages to one)."""

    digits: int

    def __new__(cls, value: float, digits: int) -> Rounded:
        number = super().__new__(cls, value)
        number.digits = digits
        return number


def format_number(value: float) -> str:
    """Counts and money in full with thousands separators; shares and rates to 4 digits."""
    if pd.isna(value):
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def number_text(value: object, digits: int) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.{digits}f}"


def table_html(frame: pd.DataFrame, *, caption: str | None = None, css: str = "") -> Markup:
    rows = [
        [None if _missing(value) else value for value in record]
        for record in frame.itertuples(index=False, name=None)
    ]
    return html_table(
        [str(c) for c in frame.columns], rows, caption=caption, css=css, formatter=_cell
    )


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _cell(value: object) -> str:
    """Counts and money in full with separators, other numbers to 4 digits, dates as dates."""
    if value is None:
        return "—"
    if isinstance(value, pd.Timestamp):
        return (
            value.strftime("%Y-%m-%d %H:%M")
            if value.time() != pd.Timestamp(0).time()
            else value.date().isoformat()
        )
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Rounded):
        return number_text(value, value.digits)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return format_number(float(value))
    return str(value)
