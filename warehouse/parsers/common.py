"""Pieces every publisher's parser shares: results, rejects, decoding and CSV records.

Parsers are pure: they take the published bytes and return typed rows plus the rows that broke a
rule, each with the stable rule id and the original line, so nothing is dropped silently.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

Row = dict[str, Any]

# Rules whose breach makes the whole file unusable: none of its rows is loaded.
FILE_LEVEL_PREFIX = "file."

# The stable rule ids a reject can carry (``raw.rejects.rule``), with what each one means.
RULES: dict[str, str] = {
    "file.empty": "the file has no content",
    "file.encoding": "the bytes are not in the publisher's encoding (UTF-16, re-saved, undecodable)",
    "file.missing_column": "the header lacks an expected column (missing or renamed)",
    "file.truncated": "the file stops before its end (cut line, no final line break where the "
    "publisher writes one, no footnote, no rows)",
    "file.malformed_line": "a line the CSV reader cannot split (a stray carriage return or NUL "
    "byte inside it)",
    "file.unreadable": "the parser could not read the file at all (the message says why)",
    "file.after_end": "data after the end the file marks for itself (INEGI's footnote): files "
    "pasted together",
    "file.format": "the layout is not the publisher's (a period column that does not parse, "
    "not TopoJSON)",
    "row.field_count": "a data line has more or fewer fields than the header",
    "value.not_numeric": "a count or rate is not a number",
    "value.negative": "a count or amount is below zero",
    "value.pct_range": "a percentage indicator is outside [0, 100]",
    "value.category": "a coded value is not one of the published codes",
    "value.sex_sum": "total population differs from male + female",
    "key.format": "a key cell does not have the published form",
    "key.unknown_state": "a state key is not in 1..32",
    "key.duplicate": "the same key appears twice in one file",
    "key.unknown_municipality": "a municipality key is not one of the census the file refers to "
    "(checked across files at ingest)",
    "total.mismatch": "rows do not add up to their total row (INEGI municipalities, states)",
    "source.stray_file": "a file in the sources folder is not a registered file name",
    "snapshot.unreadable": "the embedded snapshot's manifest is missing or not valid",
    "snapshot.integrity": "an embedded snapshot file is missing, altered or holds other rows",
}


@dataclass(frozen=True)
class Reject:
    """One broken rule: where (line, field), which rule, why, and the original text."""

    rule: str
    message: str
    line_number: int | None = None
    field: str | None = None
    original_line: str | None = None

    @property
    def is_file_level(self) -> bool:
        return self.rule.startswith(FILE_LEVEL_PREFIX)


@dataclass
class ParseResult:
    """Typed rows of one file plus its rejects.

    ``rows_read`` counts data rows (not title/header/blank/footnote lines, which are
    ``lines_skipped``). When the file failed as a whole (a ``file.*`` reject), ``rows`` is empty.
    """

    rows: list[Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    lines_skipped: int = 0
    rows_read: int = 0
    rows_per_record: int = 1  # table rows per data line (INEGI series: one per census year)

    @property
    def failed(self) -> bool:
        return any(r.is_file_level for r in self.rejects)

    @property
    def rows_rejected(self) -> int:
        """Rows not loaded: all of them when the file failed, else those of rejected lines."""
        if self.failed:
            return self.rows_read
        return len(self.rejected_lines) * self.rows_per_record

    @property
    def rejected_lines(self) -> set[int]:
        """Data lines that broke at least one row-level rule."""
        return {
            r.line_number for r in self.rejects if not r.is_file_level and r.line_number is not None
        }


class RowError(ValueError):
    """A value broke a rule; raised by converters, turned into a ``Reject`` by the parser."""

    def __init__(self, rule: str, field: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.field = field
        self.message = message


def read_bytes(path_or_bytes: Path | str | bytes) -> bytes:
    if isinstance(path_or_bytes, bytes | bytearray):
        return bytes(path_or_bytes)
    return Path(path_or_bytes).read_bytes()


def file_failure(rule: str, message: str, **where: Any) -> ParseResult:
    return ParseResult(rejects=[Reject(rule, message, **where)])


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_published(data: bytes, encoding: str) -> str | Reject:
    """Decode bytes in the publisher's encoding, or say precisely why they are not in it.

    ``encoding`` is ``"cp1252"`` (INEGI, CONAPO 2010: Latin-1 family) or ``"utf-8"``. A UTF-16 file,
    a UTF-8 file where cp1252 is expected (a re-saved copy: names would silently become mojibake)
    and undecodable bytes are all ``file.encoding``.
    """
    if not data.strip():
        return Reject("file.empty", "file is empty (no header, no rows)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        return Reject(
            "file.encoding",
            f"file looks UTF-16 (byte-order mark or NUL bytes); the publisher's encoding is {encoding}",
            line_number=1,
        )
    if encoding == "cp1252" and _is_utf8_with_accents(data):
        return Reject(
            "file.encoding",
            "file is UTF-8 but the publisher's encoding is cp1252/Latin-1 "
            "(a re-saved copy? fetch the original)",
            line_number=1,
        )
    try:
        return data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        line = _line_of_offset(data, exc.start)
        return Reject(
            "file.encoding",
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid {encoding}",
            line_number=line,
        )


def _is_utf8_with_accents(data: bytes) -> bool:
    """True for UTF-8 text with non-ASCII characters, which cp1252 would turn into mojibake."""
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Record:
    """One logical CSV record: its first physical line, the original text and the cells."""

    line_number: int
    text: str
    cells: list[str]

    @property
    def physical_lines(self) -> int:
        return self.text.count("\n") + 1


def physical_lines(text: str) -> list[str]:
    """Lines without their CR/LF; a final newline does not make an extra empty line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


class MalformedLine(ValueError):
    """A line the CSV reader cannot split; ``parse_published`` turns it into a reject."""

    def __init__(self, line_number: int, text: str, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number
        self.text = text
        self.reason = reason


def csv_records(text: str) -> Iterator[Record]:
    """Logical records with their 1-based starting line, joining quoted cells split over lines.

    INEGI's censo_1990-2010.csv has a footnote cell broken over two physical lines; keeping our own
    line bookkeeping (rather than csv.reader over the file) lets each reject carry its original text.
    A line the reader cannot split (a bare carriage return inside an unquoted cell, a NUL byte)
    raises ``MalformedLine`` naming it.
    """
    starts, texts = _logical_lines(physical_lines(text))
    # One reader over all logical lines: far cheaper than a reader per line.
    reader = csv.reader(texts)
    for start, joined in zip(starts, texts, strict=True):
        try:
            cells = next(reader)
        except csv.Error as error:
            raise MalformedLine(start, joined, _malformed_reason(joined, error)) from None
        yield Record(start, joined, cells)


def _malformed_reason(text: str, error: csv.Error) -> str:
    if "\r" in text:
        column = text.index("\r") + 1
        return f"a carriage return inside the line (column {column}), not at its end"
    if "\x00" in text:
        return f"a NUL byte inside the line (column {text.index(chr(0)) + 1})"
    return f"the CSV reader cannot split it ({error})"


def _logical_lines(lines: list[str]) -> tuple[list[int], list[str]]:
    starts: list[int] = []
    texts: list[str] = []
    index = 0
    while index < len(lines):
        starts.append(index + 1)
        joined = lines[index]
        # An odd number of quote characters means a quoted cell continues on the next line.
        while joined.count('"') % 2 == 1 and index + 1 < len(lines):
            index += 1
            joined = joined + "\n" + lines[index]
        texts.append(joined)
        index += 1
    return starts, texts


def ends_with_newline(text: str) -> bool:
    return text.endswith("\n")


def _shown(line: bytes) -> str:
    """A line's text for a message: UTF-8 when it is, else Latin-1 (INEGI, CONAPO 2010)."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", errors="replace")


def require_final_line_break(data: bytes, result: ParseResult) -> ParseResult:
    """Refuse a file that should end with a line break and does not, whatever its last line says.

    A download or copy cut inside the last number leaves a line that still parses (``2024-12-01,2``
    for ``2024-12-01,20.27``); only the missing line break gives it away. Used for every source
    whose publisher ends its files with one (``Completeness.final_line_break`` in the registry).
    """
    if not data.strip() or data.endswith((b"\n", b"\r")):
        return result
    line_number = data.count(b"\n") + 1
    last = _shown(data.rsplit(b"\n", 1)[-1])
    reject = Reject(
        "file.truncated",
        f"the file ends inside line {line_number} ({last[-60:]!r}) without a line break; its "
        "publisher ends every file with one, so the file was cut (during download or copy?)",
        line_number=line_number,
        original_line=last,
    )
    others = [r for r in result.rejects if r.line_number != line_number]
    return ParseResult(
        rows=[],
        rejects=[reject, *others],
        lines_skipped=result.lines_skipped,
        rows_read=result.rows_read,
        rows_per_record=result.rows_per_record,
    )


# ---- value converters: each raises RowError naming the field and the rule ------------------

_INT_RE = re.compile(r"^-?\d+$")
_GROUPED_INT_RE = re.compile(r"^-?\d{1,3}(,\d{3})*$|^-?\d+$")


def to_int(value: str, field: str, *, grouped: bool = False, non_negative: bool = False) -> int:
    """Integer cell; ``grouped`` accepts thousands separators ("97,483,412")."""
    text = value.strip()
    pattern = _GROUPED_INT_RE if grouped else _INT_RE
    if not pattern.match(text):
        shown = repr(value) if text else "empty"
        raise RowError("value.not_numeric", field, f"{field} is {shown} (expected a whole number)")
    number = int(text.replace(",", ""))
    if non_negative and number < 0:
        raise RowError("value.negative", field, f"{field} is {number} (counts must be >= 0)")
    return number


def to_float(value: str, field: str, *, non_negative: bool = False) -> float:
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        shown = repr(value) if text else "empty"
        raise RowError(
            "value.not_numeric", field, f"{field} is {shown} (expected a number)"
        ) from None
    if not math.isfinite(number):
        raise RowError("value.not_numeric", field, f"{field} is {value!r} (not a finite number)")
    if non_negative and number < 0:
        raise RowError("value.negative", field, f"{field} is {number} (must be >= 0)")
    return number


def to_optional_float(value: str, field: str, *, non_negative: bool = False) -> float | None:
    """Float cell where the publisher leaves the cell empty for "no data"."""
    return None if not value.strip() else to_float(value, field, non_negative=non_negative)


def to_optional_int(value: str, field: str, *, non_negative: bool = False) -> int | None:
    return None if not value.strip() else to_int(value, field, non_negative=non_negative)


def to_pct(value: str, field: str) -> float:
    """Percentage indicator: a number within [0, 100]."""
    number = to_float(value, field)
    if not 0.0 <= number <= 100.0:
        raise RowError(
            "value.pct_range", field, f"{field} is {number} (a percentage must be in [0, 100])"
        )
    return number


def to_state_key(value: str, field: str) -> int:
    """Mexican state key: an integer 1..32 (INEGI's Marco Geoestadístico)."""
    key = to_key_int(value, field)
    if not 1 <= key <= 32:
        raise RowError("key.unknown_state", field, f"{field} is {key} (state keys are 1..32)")
    return key


def to_key_int(value: str, field: str) -> int:
    text = value.strip()
    if not text.isdigit():
        raise RowError("key.format", field, f"{field} is {value!r} (expected a numeric key)")
    return int(text)


def to_month_start(value: str, field: str) -> date:
    """ISO date that must be the first day of a month (Banxico SIE periods)."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise RowError("key.format", field, f"{field} is {value!r} (expected YYYY-MM-DD)") from None
    if day.day != 1:
        raise RowError("key.format", field, f"{field} is {value} (periods start on day 1)")
    return day


def to_choice(value: str, field: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise RowError(
            "value.category", field, f"{field} is {value!r} (expected one of {sorted(allowed)})"
        )
    return value


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1/cp1252 and re-encoded ("CosÃ\\xado" -> "Cosío").

    Only a round trip that yields valid UTF-8 is applied, so correct text is left untouched.
    """
    if not any(ch in text for ch in "ÃÂ"):
        return text
    for encoding in ("cp1252", "latin-1"):
        try:
            return text.encode(encoding).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


# ---- generic table parsing for plain CSV publishers ---------------------------------------


def check_header(cells: list[str], expected: tuple[str, ...], line: Record) -> Reject | None:
    """The published header must carry exactly the expected columns, in order."""
    found = [c.strip() for c in cells]
    if found == list(expected):
        return None
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    if missing:
        detail = f"missing column(s) {missing}"
        if extra:
            detail += f", unexpected {extra} (renamed?)"
    elif extra:
        detail = f"unexpected column(s) {extra}"
    else:
        detail = f"columns out of order: {found}"
    return Reject(
        "file.missing_column",
        f"header {detail}; expected {list(expected)}",
        line_number=line.line_number,
        original_line=line.text,
    )


RowConverter = Callable[[dict[str, str]], Row]


def parse_csv_table(
    text: str,
    expected_columns: tuple[str, ...],
    convert: RowConverter,
    *,
    unique_key: Callable[[Row], tuple[Any, ...]] | None = None,
) -> ParseResult:
    """Parse a headed CSV: header check, field counts, typed rows, duplicates, truncation.

    A last line without a newline that breaks a rule is ``file.truncated``: the download was cut.
    """
    records = [r for r in csv_records(text)]
    result = ParseResult()
    if not records:
        return file_failure("file.empty", "file has no header")
    header, body = records[0], records[1:]
    result.lines_skipped = 1
    problem = check_header(header.cells, expected_columns, header)
    if problem:
        return ParseResult(rejects=[problem], lines_skipped=1)
    seen: dict[tuple[Any, ...], int] = {}
    for record in body:
        if not record.text.strip():
            result.lines_skipped += 1
            continue
        result.rows_read += 1
        reject = _convert_record(record, expected_columns, convert)
        if isinstance(reject, Reject):
            result.rejects.append(reject)
            continue
        row = reject
        if unique_key is not None:
            key = unique_key(row)
            if key in seen:
                result.rejects.append(
                    Reject(
                        "key.duplicate",
                        f"key {key} already on line {seen[key]}",
                        line_number=record.line_number,
                        original_line=record.text,
                    )
                )
                continue
            seen[key] = record.line_number
        result.rows.append(row)
    last_line = body[-1] if body else header
    if not ends_with_newline(text) and last_line.line_number in result.rejected_lines:
        return _truncated(result, last_line)
    if not body:
        result.rejects.append(
            Reject(
                "file.truncated",
                "file has a header but no data rows",
                line_number=header.line_number,
            )
        )
    if result.failed:
        result.rows = []
    return result


def _convert_record(
    record: Record, columns: tuple[str, ...], convert: RowConverter
) -> Row | Reject:
    if len(record.cells) != len(columns):
        return Reject(
            "row.field_count",
            f"{len(record.cells)} fields, expected {len(columns)}",
            line_number=record.line_number,
            original_line=record.text,
        )
    try:
        row = convert(dict(zip(columns, record.cells, strict=True)))
    except RowError as error:
        return Reject(
            error.rule,
            error.message,
            line_number=record.line_number,
            field=error.field,
            original_line=record.text,
        )
    row["line_number"] = record.line_number
    return row


def _truncated(result: ParseResult, last: Record) -> ParseResult:
    """Replace a broken final line's rejects by one file-level ``file.truncated``."""
    reject = Reject(
        "file.truncated",
        "last line is incomplete and has no line ending (file cut during download?)",
        line_number=last.line_number,
        original_line=last.text,
    )
    return ParseResult(
        rows=[], rejects=[reject], lines_skipped=result.lines_skipped, rows_read=result.rows_read
    )
