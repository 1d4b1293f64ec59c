"""Banco de México remittance income by municipality, quarterly (banxico/remesas_municipio.csv).

The SIE export is wide: a ``Municipio`` column, then one column per quarter (``Ene-Mar 2013`` …
``Abr-Jun 2024``) in USD millions with six decimals (whole dollars). Municipalities are identified
by NAME only, under the row of their state: a state row begins with an em space, ``●`` and an en
space, a municipality row with two em spaces, ``⚬`` and an en space. Each state ends with a ``No
identificado`` row (income that could not be placed in a municipality). The state rows are the
sums of their municipal rows.

The parser keeps the names as published (matching them to INEGI keys is the reviewed crosswalk in
dbt: ``int_banxico_municipalities_matched_to_cve_mun``) and loads the file long: one row per line
and quarter. It checks the layout, every value, duplicate names within a state, that the file
holds every state, and that each state row equals the sum of its municipal rows to the file's
rounding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from migsys.warehouse.parsers.common import (
    ParseResult,
    Record,
    Reject,
    RowError,
    csv_records,
    decode_published,
    ends_with_newline,
    read_bytes,
    to_float,
)

FIRST_COLUMN = "Municipio"
# Spanish quarter labels of the SIE export and the month each quarter starts in.
QUARTER_LABELS = {"Ene-Mar": 1, "Abr-Jun": 4, "Jul-Sep": 7, "Oct-Dic": 10}
QUARTER_RE = re.compile(r"^(Ene-Mar|Abr-Jun|Jul-Sep|Oct-Dic) ((?:19|20)\d\d)$")
# The bullets carry the level; the spaces around them are em (U+2003) and en (U+2002) spaces.
STATE_RE = re.compile(r"^\s*\u25cf\s*(\S.*?)\s*$")  # ●
MUNICIPALITY_RE = re.compile(r"^\s*\u26ac\s*(\S.*?)\s*$")  # ⚬
UNIDENTIFIED = "No identificado"
EXPECTED_STATES = 32
# Every value is published rounded to 1e-6 (USD millions, i.e. whole dollars): a state row and
# the sum of its n municipal rows may differ by up to (n + 1) half-units.
ROUNDING_UNIT = 1e-6


@dataclass
class _Line:
    record: Record
    level: str  # state | municipality
    state: str
    municipality: str | None
    values: list[float]


def quarter_start(label: str) -> date | None:
    """First day of the quarter a column header names ('Ene-Mar 2013' -> 2013-01-01)."""
    match = QUARTER_RE.match(label.strip())
    if not match:
        return None
    return date(int(match.group(2)), QUARTER_LABELS[match.group(1)], 1)


def _header_quarters(header: Record) -> list[date] | Reject:
    """The quarter of every value column, or the file-level reject naming the bad column."""
    if not header.cells or header.cells[0].strip().lstrip("\ufeff") != FIRST_COLUMN:
        return Reject(
            "file.missing_column",
            f"first column is {header.cells[0] if header.cells else ''!r}, expected "
            f"{FIRST_COLUMN!r}",
            header.line_number,
            original_line=header.text,
        )
    quarters: list[date] = []
    for position, label in enumerate(header.cells[1:], start=2):
        start = quarter_start(label)
        if start is None:
            return Reject(
                "file.format",
                f"column {position} is {label!r}, not a quarter (expected 'Ene-Mar YYYY', "
                "'Abr-Jun YYYY', 'Jul-Sep YYYY' or 'Oct-Dic YYYY')",
                header.line_number,
                label,
                header.text,
            )
        if quarters and start != _next_quarter(quarters[-1]):
            return Reject(
                "file.format",
                f"column {position} is {label!r} after {quarters[-1]:%Y-%m}: quarters must follow "
                "each other without gaps or repeats",
                header.line_number,
                label,
                header.text,
            )
        quarters.append(start)
    if not quarters:
        return Reject(
            "file.missing_column",
            "no quarter columns after 'Municipio'",
            header.line_number,
            original_line=header.text,
        )
    return quarters


def _next_quarter(start: date) -> date:
    return date(start.year + 1, 1, 1) if start.month == 10 else date(start.year, start.month + 3, 1)


def _line(record: Record, labels: list[str], state: str | None) -> _Line:
    if len(record.cells) != len(labels) + 1:
        raise RowError(
            "row.field_count",
            "line",
            f"{len(record.cells)} fields, expected {len(labels) + 1}",
        )
    name_cell = record.cells[0]
    if match := STATE_RE.match(name_cell):
        level, state, municipality = "state", match.group(1), None
    elif match := MUNICIPALITY_RE.match(name_cell):
        if state is None:
            raise RowError(
                "key.format",
                FIRST_COLUMN,
                f"municipality row {match.group(1)!r} comes before any state row",
            )
        level, municipality = "municipality", match.group(1)
    else:
        raise RowError(
            "key.format",
            FIRST_COLUMN,
            f"{FIRST_COLUMN} is {name_cell!r}: neither a state row ('\u25cf' and the name) nor a "
            "municipality row ('\u26ac' and the name)",
        )
    values = [
        to_float(cell, label, non_negative=True)
        for label, cell in zip(labels, record.cells[1:], strict=True)
    ]
    return _Line(record, level, state, municipality, values)


def _reject(error: RowError, record: Record) -> Reject:
    return Reject(error.rule, error.message, record.line_number, error.field, record.text)


def _duplicate(lines: list[_Line]) -> list[Reject]:
    """A state named twice, or a municipality named twice within its state."""
    seen: dict[tuple[str, str | None], int] = {}
    rejects = []
    for line in lines:
        key = (line.state, line.municipality)
        if key in seen:
            what = (
                f"state {line.state!r}"
                if line.municipality is None
                else f"municipality {line.municipality!r} of {line.state!r}"
            )
            rejects.append(
                Reject(
                    "key.duplicate",
                    f"{what} already on line {seen[key]}",
                    line.record.line_number,
                    FIRST_COLUMN,
                    line.record.text,
                )
            )
            continue
        seen[key] = line.record.line_number
    return rejects


def _state_sums(lines: list[_Line], labels: list[str], rejected: set[int]) -> list[Reject]:
    """Each state row must equal the sum of its municipal rows, quarter by quarter, to the
    file's rounding. A state with a rejected line is not summed (its first reject explains it)."""
    rejects = []
    groups: list[tuple[_Line, list[_Line]]] = []
    for line in lines:
        if line.level == "state":
            groups.append((line, []))
        elif groups and groups[-1][0].state == line.state:
            groups[-1][1].append(line)
    for state, members in groups:
        if state.record.line_number in rejected or any(
            m.record.line_number in rejected for m in members
        ):
            continue
        tolerance = (len(members) + 1) * ROUNDING_UNIT / 2 + 1e-9
        for column, label in enumerate(labels):
            found = sum(m.values[column] for m in members)
            expected = state.values[column]
            if abs(found - expected) > tolerance:
                rejects.append(
                    Reject(
                        "total.mismatch",
                        f"{label}: state {state.state!r} is {expected:,.6f} USD million but its "
                        f"{len(members)} municipal rows sum to {found:,.6f} (difference "
                        f"{expected - found:+,.6f}; rows missing or file cut?)",
                        state.record.line_number,
                        label,
                        state.record.text,
                    )
                )
                break
    return rejects


def parse_remittances_municipal(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """banxico/remesas_municipio.csv, loaded long: one row per line and quarter (module doc)."""
    text = decode_published(read_bytes(path_or_bytes), "utf-8")
    if not isinstance(text, str):
        return ParseResult(rejects=[text])
    records = list(csv_records(text))
    header, body = records[0], records[1:]
    quarters = _header_quarters(header)
    if isinstance(quarters, Reject):
        return ParseResult(rejects=[quarters], lines_skipped=1)
    labels = [label.strip() for label in header.cells[1:]]
    data = [record for record in body if record.text.strip()]
    result = ParseResult(
        lines_skipped=1 + len(body) - len(data),
        rows_read=len(data) * len(quarters),
        rows_per_record=len(quarters),
    )
    lines: list[_Line] = []
    state: str | None = None
    for record in data:
        try:
            line = _line(record, labels, state)
        except RowError as error:
            result.rejects.append(_reject(error, record))
            continue
        state = line.state
        lines.append(line)
    if data and not ends_with_newline(text) and data[-1].line_number in result.rejected_lines:
        last = data[-1]
        return ParseResult(
            rejects=[
                Reject(
                    "file.truncated",
                    "last line is incomplete and has no line ending (file cut during download?)",
                    last.line_number,
                    original_line=last.text,
                )
            ],
            lines_skipped=result.lines_skipped,
            rows_read=result.rows_read,
            rows_per_record=result.rows_per_record,
        )
    n_states = len({line.state for line in lines if line.level == "state"})
    if n_states < EXPECTED_STATES and not result.rejects:
        result.rejects.append(
            Reject(
                "file.truncated",
                f"{n_states} state rows, Banxico publishes {EXPECTED_STATES} (file cut?)",
                data[-1].line_number if data else header.line_number,
            )
        )
        return result
    result.rejects.extend(_duplicate(lines))
    result.rejects.extend(_state_sums(lines, labels, result.rejected_lines))
    rejected = result.rejected_lines
    result.rows = [
        {
            "row_level": line.level,
            "entidad": line.state,
            "municipio": line.municipality,
            "periodo": start,
            "valor_usd_millones": value,
            "line_number": line.record.line_number,
        }
        for line in lines
        if line.record.line_number not in rejected
        for start, value in zip(quarters, line.values, strict=True)
    ]
    return result


def parse(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    return parse_remittances_municipal(path_or_bytes, file_name)
