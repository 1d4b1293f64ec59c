"""INEGI census/count population by municipality and sex (tabulated query exports).

The exports are cp1252 text with title lines, a header, a national row (key " " or ""), state rows
whose key is the spreadsheet formula ``=CONCATENAR(0,01)``, municipality rows keyed ``" 01 001 "``,
thousands separators, a blank line and "Fuente:" footnotes (split over two physical lines in
censo_1990-2010.csv). Published files are parsed as they are; every check that fails is a reject.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
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
    to_int,
)

# The export pads keys 1-9 as CONCATENAR(0,01) and 10-32 as CONCATENAR( ,10).
STATE_KEY_RE = re.compile(r"^=CONCATENAR\([0 ]?,(\d{1,2})\)$")
MUNICIPALITY_KEY_RE = re.compile(r"^(\d{2}) (\d{3})$")
FOOTNOTE_RE = re.compile(r"^\s*fuente\b", re.IGNORECASE)
YEAR_IN_NAME_RE = re.compile(r"censo_(\d{4})\.csv$")
SEXES = ("Total", "Hombre", "Mujer")
# Single-year exports label the sex columns in singular (2005, 2010) or plural (1990-2000).
SEX_HEADERS = {"total": ("Total",), "male": ("Hombre", "Hombres"), "female": ("Mujer", "Mujeres")}
MEASURES = ("total", "male", "female")


@dataclass(frozen=True)
class AreaKey:
    row_level: str  # national | state | municipality
    cve_ent: str | None
    cve_mun: str | None


@dataclass
class Entry:
    """A parsed data line kept for the cross-row checks (sums, sex totals)."""

    key: AreaKey
    record: Record
    values: dict[str, int | None]


def classify_key(cell: str) -> AreaKey:
    """Turn the published key cell into the area's level and zero-padded keys."""
    text = cell.strip()
    if not text:
        return AreaKey("national", None, None)
    if match := STATE_KEY_RE.match(text):
        return AreaKey("state", _state_key(int(match.group(1)), cell), None)
    if match := MUNICIPALITY_KEY_RE.match(text):
        return AreaKey("municipality", _state_key(int(match.group(1)), cell), match.group(2))
    raise RowError(
        "key.format",
        "key",
        f"key {cell!r} is neither blank (national), =CONCATENAR(0,NN) (state) nor ' NN NNN ' (municipality)",
    )


def _state_key(number: int, cell: str) -> str:
    if not 1 <= number <= 32:
        raise RowError(
            "key.unknown_state", "key", f"state key {number} in {cell!r} is not in 1..32"
        )
    return f"{number:02d}"


def _reject(error: RowError, record: Record) -> Reject:
    return Reject(error.rule, error.message, record.line_number, error.field, record.text)


@dataclass
class _Layout:
    """Where the header is and which lines are data, blank or footnotes."""

    header: Record
    data: list[Record]
    lines_skipped: int
    has_footer: bool


def _split_layout(records: list[Record]) -> _Layout | Reject:
    # Title lines are single quoted cells; the header is the first line with several cells.
    header_index = next((i for i, r in enumerate(records) if len(r.cells) > 1), None)
    if header_index is None:
        return Reject(
            "file.missing_column",
            "no header line (only title lines: not an INEGI tabulated export?)",
            line_number=1,
        )
    skipped = sum(r.physical_lines for r in records[: header_index + 1])
    data: list[Record] = []
    has_footer = False
    for record in records[header_index + 1 :]:
        first = record.cells[0] if record.cells else ""
        if has_footer and sum(1 for cell in record.cells if cell.strip()) > 1:
            # Footnote lines are one cell of text: a line of several cells after "Fuente:" is
            # data after the table's end (two exports pasted together, a file pasted twice).
            return Reject(
                "file.after_end",
                "a line of data after the footnote that ends the table (files pasted together?)",
                line_number=record.line_number,
                original_line=record.text,
            )
        if has_footer or FOOTNOTE_RE.match(first):
            has_footer = True  # every line after "Fuente:" is footnote text
            skipped += record.physical_lines
        elif not any(cell.strip() for cell in record.cells):
            skipped += record.physical_lines
        else:
            data.append(record)
    return _Layout(records[header_index], data, skipped, has_footer)


def _truncation(layout: _Layout, text: str) -> Reject | None:
    if not layout.has_footer:
        last = layout.data[-1] if layout.data else layout.header
        return Reject(
            "file.truncated",
            "no 'Fuente:' footnote after the data (file cut before its end?)",
            line_number=last.line_number,
            original_line=last.text,
        )
    if not ends_with_newline(text):
        return Reject("file.truncated", "last line has no line ending (file cut?)")
    return None


def _decode_records(path_or_bytes: Path | str | bytes) -> tuple[list[Record], str] | Reject:
    text = decode_published(read_bytes(path_or_bytes), "cp1252")
    if not isinstance(text, str):
        return text
    return list(csv_records(text)), text


# ---- cross-row checks --------------------------------------------------------------------


def check_totals(
    entries: Iterable[Entry], measures: Iterable[str], rejected: set[int]
) -> list[Reject]:
    """Municipal rows must add up to their state row, state rows to the national row.

    A state whose rows already broke a rule is not summed again (the first reject explains it).
    """
    entries = list(entries)
    rejects: list[Reject] = []
    states = {e.key.cve_ent: e for e in entries if e.key.row_level == "state"}
    national = [e for e in entries if e.key.row_level == "national"]
    municipalities: dict[str | None, list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.key.row_level == "municipality":
            municipalities[entry.key.cve_ent].append(entry)
    for cve_ent, members in municipalities.items():
        if cve_ent not in states:
            first = members[0].record
            rejects.append(
                Reject(
                    "total.mismatch",
                    f"municipalities of state {cve_ent} but no state row",
                    first.line_number,
                    "key",
                    first.text,
                )
            )
    bad_states: set[str | None] = set()
    for cve_ent, state in states.items():
        members = municipalities.get(cve_ent, [])
        if state.record.line_number in rejected or any(
            m.record.line_number in rejected for m in members
        ):
            bad_states.add(cve_ent)
            continue
        if mismatch := _sum_mismatch(
            state, members, measures, f"municipalities of state {cve_ent}"
        ):
            rejects.append(mismatch)
            bad_states.add(cve_ent)
    if not national and entries:
        # No line to point at: the file-level reject keeps rows_read = loaded + rejected.
        rejects.append(
            Reject("total.mismatch", "no national total row (key ' ' or ''): cannot check states")
        )
    for nation in national:
        if not bad_states and nation.record.line_number not in rejected:
            mismatch = _sum_mismatch(nation, list(states.values()), measures, "state rows")
            if mismatch:
                rejects.append(mismatch)
    return rejects


def _sum_mismatch(
    parent: Entry, members: list[Entry], measures: Iterable[str], what: str
) -> Reject | None:
    for measure in measures:
        expected = parent.values.get(measure)
        if expected is None:
            continue
        found = sum(m.values.get(measure) or 0 for m in members)
        if found != expected:
            return Reject(
                "total.mismatch",
                f"{measure} is {expected:,} but the {what} sum to {found:,} "
                f"(difference {expected - found:+,}; rows missing or file cut?)",
                parent.record.line_number,
                measure,
                parent.record.text,
            )
    return None


def _duplicate(seen: dict, key, record: Record) -> Reject | None:
    if key in seen:
        return Reject(
            "key.duplicate",
            f"area {key} already on line {seen[key]}",
            record.line_number,
            "key",
            record.text,
        )
    seen[key] = record.line_number
    return None


# ---- censo_YYYY.csv ------------------------------------------------------------------------


def census_year_of(file_name: str) -> int:
    match = YEAR_IN_NAME_RE.search(file_name)
    if not match:
        raise ValueError(f"{file_name}: cannot tell the census year (expected censo_YYYY.csv)")
    return int(match.group(1))


def _check_single_year_header(header: Record) -> Reject | None:
    labels = [c.strip() for c in header.cells[2:5]]
    expected = [SEX_HEADERS[m] for m in MEASURES]
    if len(labels) == 3 and all(
        label in allowed for label, allowed in zip(labels, expected, strict=True)
    ):
        return None
    return Reject(
        "file.missing_column",
        f"header columns 3-5 are {labels}; expected Total, Hombre(s), Mujer(es)",
        header.line_number,
        original_line=header.text,
    )


def parse_census(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """inegi/censo_YYYY.csv: one line per area with total, male and female population."""
    year = census_year_of(file_name)
    decoded = _decode_records(path_or_bytes)
    if isinstance(decoded, Reject):
        return ParseResult(rejects=[decoded])
    records, text = decoded
    layout = _split_layout(records)
    if isinstance(layout, Reject):
        return ParseResult(rejects=[layout], lines_skipped=len(records))
    result = ParseResult(lines_skipped=layout.lines_skipped, rows_read=len(layout.data))
    file_problem = _check_single_year_header(layout.header) or _truncation(layout, text)
    if file_problem:
        result.rejects.append(file_problem)
        return result
    entries: list[Entry] = []
    seen: dict = {}
    for record in layout.data:
        try:
            entry = _single_year_entry(record)
        except RowError as error:
            result.rejects.append(_reject(error, record))
            continue
        if dup := _duplicate(seen, entry.key, record):
            result.rejects.append(dup)
            continue
        entries.append(entry)
    result.rejects.extend(check_totals(entries, MEASURES, result.rejected_lines))
    rejected = result.rejected_lines
    result.rows = [
        {
            "census_year": year,
            "row_level": e.key.row_level,
            "cve_ent": e.key.cve_ent,
            "cve_mun": e.key.cve_mun,
            "area_name": e.record.cells[1].strip(),
            **e.values,
            "line_number": e.record.line_number,
        }
        for e in entries
        if e.record.line_number not in rejected
    ]
    return result


def _single_year_entry(record: Record) -> Entry:
    # Data lines have 5 cells; the header's trailing empty cell is not repeated on them.
    if len(record.cells) != 5:
        raise RowError("row.field_count", "line", f"{len(record.cells)} fields, expected 5")
    key = classify_key(record.cells[0])
    values = {
        measure: to_int(cell, measure, grouped=True, non_negative=True)
        for measure, cell in zip(MEASURES, record.cells[2:5], strict=True)
    }
    if values["total"] != values["male"] + values["female"]:
        raise RowError(
            "value.sex_sum",
            "total",
            f"total {values['total']:,} != male {values['male']:,} + female {values['female']:,}",
        )
    return Entry(key, record, values)


# ---- censo_1990-2010.csv ------------------------------------------------------------------


def _series_years(header: Record) -> list[int] | Reject:
    labels = [c.strip() for c in header.cells[3:]]
    while labels and not labels[-1]:
        labels.pop()  # the export ends the header with an empty cell
    if labels and all(re.fullmatch(r"(19|20)\d\d", label) for label in labels):
        return [int(label) for label in labels]
    return Reject(
        "file.missing_column",
        f"header columns from the 4th are {labels}; expected census years (1990, 1995, ...)",
        header.line_number,
        original_line=header.text,
    )


def parse_census_series(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """inegi/censo_1990-2010.csv: lines Total/Hombre/Mujer per area, one column per census year.

    Loaded long (one row per line and year); ``rows_per_record`` is the number of years.
    """
    decoded = _decode_records(path_or_bytes)
    if isinstance(decoded, Reject):
        return ParseResult(rejects=[decoded])
    records, text = decoded
    layout = _split_layout(records)
    if isinstance(layout, Reject):
        return ParseResult(rejects=[layout], lines_skipped=len(records))
    years = _series_years(layout.header)
    if isinstance(years, Reject):
        return ParseResult(rejects=[years], lines_skipped=layout.lines_skipped)
    result = ParseResult(
        lines_skipped=layout.lines_skipped,
        rows_read=len(layout.data) * len(years),
        rows_per_record=len(years),
    )
    if problem := _truncation(layout, text):
        result.rejects.append(problem)
        return result
    entries: list[Entry] = []
    sexes: dict[str, list[Entry]] = defaultdict(list)
    seen: dict = {}
    for record in layout.data:
        try:
            sex, entry = _series_entry(record, years)
        except RowError as error:
            result.rejects.append(_reject(error, record))
            continue
        if dup := _duplicate(seen, (entry.key, sex), record):
            result.rejects.append(dup)
            continue
        entries.append(entry)
        sexes[sex].append(entry)
    result.rejects.extend(_series_sex_sums(sexes, years))
    year_measures = [str(y) for y in years]
    for members in sexes.values():
        result.rejects.extend(check_totals(members, year_measures, result.rejected_lines))
    rejected = result.rejected_lines
    result.rows = [
        {
            "row_level": e.key.row_level,
            "cve_ent": e.key.cve_ent,
            "cve_mun": e.key.cve_mun,
            "area_name": e.record.cells[1].strip(),
            "sex": sex,
            "census_year": year,
            "population": e.values[str(year)],
            "line_number": e.record.line_number,
        }
        for sex, members in sexes.items()
        for e in members
        if e.record.line_number not in rejected
        for year in years
    ]
    return result


def _series_entry(record: Record, years: list[int]) -> tuple[str, Entry]:
    if len(record.cells) != 3 + len(years):
        raise RowError(
            "row.field_count", "line", f"{len(record.cells)} fields, expected {3 + len(years)}"
        )
    key = classify_key(record.cells[0])
    sex = record.cells[2].strip()
    if sex not in SEXES:
        raise RowError("value.category", "sex", f"sex is {sex!r} (expected one of {list(SEXES)})")
    values = {
        # An empty cell: the municipality did not exist in that census.
        str(year): None
        if not cell.strip()
        else to_int(cell, str(year), grouped=True, non_negative=True)
        for year, cell in zip(years, record.cells[3:], strict=True)
    }
    return sex, Entry(key, record, values)


def _series_sex_sums(sexes: dict[str, list[Entry]], years: list[int]) -> list[Reject]:
    """Each area's Total line must equal its Hombre + Mujer lines, year by year."""
    by_key = {sex: {e.key: e for e in members} for sex, members in sexes.items()}
    rejects = []
    for key, total in by_key.get("Total", {}).items():
        male, female = by_key.get("Hombre", {}).get(key), by_key.get("Mujer", {}).get(key)
        if male is None or female is None:
            continue
        for year in map(str, years):
            t, m, f = total.values[year], male.values[year], female.values[year]
            if None not in (t, m, f) and t != m + f:
                rejects.append(
                    Reject(
                        "value.sex_sum",
                        f"{year}: total {t:,} != male {m:,} + female {f:,}",
                        total.record.line_number,
                        year,
                        total.record.text,
                    )
                )
                break
    return rejects


def parse(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """Dispatch: censo_1990-2010.csv (series) or censo_YYYY.csv (one year)."""
    if YEAR_IN_NAME_RE.search(file_name):
        return parse_census(path_or_bytes, file_name)
    return parse_census_series(path_or_bytes, file_name)
