"""How query results are laid out: a box that fits the terminal, csv, json, markdown, line.

One set of rules for ``migsys sql QUERY``, its prompt and its exports:

* **Numbers are never cut.** In the box layout, integer, decimal, floating-point and date or
  time columns keep every character of every value and of their header; only text columns
  shrink (with ``…``). When even that does not fit the terminal, the columns are folded into
  several boxes, each as wide as the terminal, the rows in the same order (DuckDB's ``duckbox``
  hides the middle columns instead; here every value stays visible).
* **Any column type exports.** Lists, structs and maps become JSON text in CSV and in the text
  layouts (``[1990, 2000]``, ``{"a": 1}``); Parquet and JSON files keep them native.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pa_csv
from rich.cells import cell_len, set_cell_size

TEXT_MODES = ("table", "csv", "json", "markdown", "line")
MODE_ALIASES = {"box": "table", "duckbox": "table"}
DEFAULT_MAX_ROWS = 40  # like the DuckDB CLI: a screenful; .maxrows / --max-rows change it
TEXT_FLOOR = 24  # text shrinks to no fewer characters than this: names of tables, studies, parameters stay whole
NULL = "NULL"


def is_nested(kind: pa.DataType) -> bool:
    return pa.types.is_nested(kind)


def is_fixed(kind: pa.DataType) -> bool:
    """Columns whose values are never shortened: numbers, dates, times, booleans."""
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_temporal(kind)
        or pa.types.is_boolean(kind)
    )


def json_default(value: object) -> object:
    """What ``json.dumps`` cannot encode itself: dates, decimals, bytes, intervals."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def as_json(value: object) -> str:
    return json.dumps(value, default=json_default, ensure_ascii=False)


def cell_text(value: object, null: str = "") -> str:
    """One value as text: nested values as JSON, floats in full, control characters escaped."""
    if value is None:
        return null
    if isinstance(value, list | dict | tuple):
        return as_json(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    text = str(value)
    if any(ch in text for ch in "\n\r\t"):
        text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text


def _unsupported_by_csv(kind: pa.DataType) -> bool:
    return (
        is_nested(kind)
        or pa.types.is_interval(kind)
        or pa.types.is_duration(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or isinstance(kind, pa.ExtensionType)
    )


def csv_ready(table: pa.Table) -> pa.Table:
    """``table`` with every column Arrow's CSV writer cannot write turned into text: lists,
    structs and maps as JSON, intervals, durations, binaries and extension types as text."""
    columns = []
    for column in table.columns:
        if not _unsupported_by_csv(column.type):
            columns.append(column)
            continue
        nested = is_nested(column.type)
        values = [
            None if value is None else (as_json(value) if nested else cell_text(value))
            for value in column.to_pylist()
        ]
        columns.append(pa.array(values, type=pa.string()))
    return pa.table(columns, names=table.column_names)


def csv_text(table: pa.Table) -> str:
    buffer = io.BytesIO()
    pa_csv.write_csv(csv_ready(table), buffer)
    return buffer.getvalue().decode("utf-8")


def json_text(table: pa.Table, *, indent: int | None = None) -> str:
    """Rows as a JSON array of objects; nested values stay JSON arrays and objects."""
    rows = table.to_pylist()
    if indent is not None:
        return json.dumps(rows, default=json_default, ensure_ascii=False, indent=indent) + "\n"
    return "[" + ",\n".join(as_json(row) for row in rows) + "]\n"


def markdown_text(table: pa.Table) -> str:
    names = table.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in table.to_pylist():
        cells = (cell_text(row[name]).replace("|", "\\|") for name in names)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def line_text(table: pa.Table) -> str:
    """DuckDB's ``line`` layout: one ``column = value`` line per column, rows apart."""
    width = max((cell_len(n) for n in table.column_names), default=0)
    blocks = [
        "\n".join(
            f"{' ' * (width - cell_len(n))}{n} = {cell_text(row[n], NULL)}"
            for n in table.column_names
        )
        for row in table.to_pylist()
    ]
    return "\n\n".join(blocks) + "\n"


def format_text(table: pa.Table, mode: str) -> str:
    """``table`` as csv, json, markdown or line (the box layout is ``box_text``)."""
    layouts = {"csv": csv_text, "json": json_text, "markdown": markdown_text, "line": line_text}
    if mode not in layouts:
        raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(TEXT_MODES)}")
    return layouts[mode](table)


# --- the box ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    fixed: bool  # numbers, dates: never shortened
    cells: tuple[str, ...]

    @property
    def natural(self) -> int:
        return max([cell_len(self.name), *(cell_len(c) for c in self.cells)])

    @property
    def floor(self) -> int:
        return self.natural if self.fixed else min(self.natural, TEXT_FLOOR)


def frame_width(widths: Sequence[int]) -> int:
    """Characters of a box with these column widths: ``│ a │ b │``."""
    return sum(widths) + 3 * len(widths) + 1


def fit(columns: Sequence[Column], available: int) -> list[int] | None:
    """Widths that fit ``available`` characters, shrinking the widest text column first; None
    if the columns cannot fit even with every text column at its floor."""
    widths = [c.natural for c in columns]
    if frame_width([c.floor for c in columns]) > available:
        return None
    while frame_width(widths) > available:
        shrinkable = [i for i, c in enumerate(columns) if widths[i] > c.floor]
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def fold(columns: Sequence[Column], available: int) -> list[tuple[list[Column], list[int]]]:
    """Consecutive groups of columns, each fitting ``available`` characters (a column too wide
    on its own is cut to the terminal: only a text column or a header can be)."""
    groups: list[tuple[list[Column], list[int]]] = []
    current: list[Column] = []
    for column in columns:
        if current and fit([*current, column], available) is not None:
            current.append(column)
            continue
        if current:
            groups.append((current, fit(current, available) or []))
        current = [column]
    if current:
        widths = fit(current, available)
        if widths is None:  # one column wider than the terminal
            widths = [max(1, available - 4)]
        groups.append((current, widths))
    return groups


def _pad(text: str, width: int, right: bool) -> str:
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    padding = " " * (width - cell_len(text))
    return padding + text if right else text + padding


def _box(columns: Sequence[Column], widths: Sequence[int]) -> list[str]:
    def rule(left: str, joint: str, right: str) -> str:
        return left + joint.join("─" * (w + 2) for w in widths) + right

    def row(cells: Sequence[str]) -> str:
        return "│" + "│".join(f" {cell} " for cell in cells) + "│"

    pairs = list(zip(columns, widths, strict=True))
    lines = [rule("┌", "┬", "┐"), row([_pad(c.name, w, False) for c, w in pairs])]
    lines.append(rule("├", "┼", "┤"))
    for index in range(len(columns[0].cells) if columns else 0):
        lines.append(row([_pad(c.cells[index], w, c.fixed) for c, w in pairs]))
    lines.append(rule("└", "┴", "┘"))
    return lines


def box_columns(table: pa.Table, max_rows: int | None) -> list[Column]:
    shown = table if max_rows is None else table.slice(0, max_rows)
    return [
        Column(
            name,
            is_fixed(table.schema.field(name).type),
            tuple(cell_text(v, NULL) for v in shown.column(name).to_pylist()),
        )
        for name in table.column_names
    ]


@dataclass(frozen=True)
class Hints:
    """How to see what the box leaves out, in the words of where it is shown."""

    more_rows: str  # e.g. ".maxrows N shows more, .maxrows 0 all"
    one_row: str  # e.g. ".mode line"


PROMPT_HINTS = Hints(".maxrows N shows more, .maxrows 0 all", ".mode line")
CLI_HINTS = Hints("--max-rows N shows more, --max-rows 0 all", "--format line")


def box_text(
    table: pa.Table, *, width: int | None, max_rows: int | None, hints: Hints = PROMPT_HINTS
) -> str:
    """The box layout of ``table`` within ``width`` characters (None: as wide as it needs), its
    first ``max_rows`` rows (None: all), and a footer: ``6 rows``, how many were shown and how to
    see the rest, and, on a line of its own, whether the columns were folded."""
    columns = box_columns(table, max_rows)
    if width is None:
        groups = [(columns, [c.natural for c in columns])] if columns else []
    else:
        groups = fold(columns, width)
    blocks = []
    for group, widths in groups:
        lines = _box(group, widths)
        if len(groups) > 1:
            first = columns.index(group[0]) + 1
            last = first + len(group) - 1
            span = f"column {first}" if first == last else f"columns {first}–{last}"
            lines.insert(0, f"{span} of {len(columns)}")
        blocks.append("\n".join(lines))
    rows = table.num_rows
    footer = f"{rows:,} row{'s' if rows != 1 else ''}"
    if max_rows is not None and rows > max_rows:
        footer += f" ({max_rows:,} shown; {hints.more_rows})"
    if len(groups) > 1:
        footer += (
            f"\n{len(columns)} columns in {len(groups)} boxes to fit {width} characters "
            f"({hints.one_row}: one row at a time)"
        )
    return "".join(block + "\n" for block in blocks) + footer + "\n"
