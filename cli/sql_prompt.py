"""The interactive ``migsys sql`` prompt and ``migsys sql --tui``, with DuckDB CLI habits.

Statements end with ``;`` and may span lines. At the start of a statement the prompt also takes
the dot commands DuckDB users type without thinking: ``.tables [PATTERN]``, ``.schema [TABLE]``,
``.mode [MODE]``, ``.maxrows [N]``, ``.output [FILE]``, ``.once FILE``, ``.timer on|off``,
``.help`` and ``.quit``/``.exit``. Results are laid out by ``migsys.warehouse.sql_output`` (the
table layout fits the terminal and never cuts a number). Every statement goes through the read-only
allow-list of ``migsys.warehouse.sql``; an unknown table is answered with the warehouse's own
nearest tables. ``open_tui`` starts Harlequin (the SQL IDE for the terminal) on the warehouse,
read-only and with extension auto-install off, when it is installed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from rich.columns import Columns
from rich.console import Console
from rich.text import Text

from migsys.warehouse.sql import (
    READ_ONLY_CONFIG,
    SANDBOX_CONFIG,
    OutputError,
    WriteRefused,
    check_output_path,
    query_connection,
    suggest_tables,
    warehouse_tables,
)
from migsys.warehouse.sql_output import (
    DEFAULT_MAX_ROWS,
    MODE_ALIASES,
    PROMPT_HINTS,
    TEXT_MODES,
    Hints,
    box_text,
    format_text,
)

PROMPT = "migsys> "
CONTINUATION = "   ...> "
MODES = TEXT_MODES
DOT_COMMANDS = {
    ".tables [PATTERN]": "list the warehouse's tables and views (PATTERN as in LIKE: fct_%)",
    ".schema [TABLE]": "show the CREATE statement of TABLE, or of every table and view",
    ".mode [MODE]": f"show or set how results print: {', '.join(MODES)}",
    ".maxrows [N]": "show or set how many rows the table layout prints (0: all)",
    ".output [FILE]": "write results to FILE from now on (no FILE: back to the terminal)",
    ".once FILE": "write the next result to FILE",
    ".timer [on|off]": "show how long each statement took",
    ".help": "show this list",
    ".quit, .exit": "leave the prompt (Ctrl-D too)",
}
HARLEQUIN_INSTALL = (
    "Harlequin is not installed. It pins its own versions of click and textual, so install it "
    "in an environment of its own: `pipx install harlequin` (or `uv tool install harlequin`), "
    "or `pip install 'migsys[tui]'` in a virtualenv installed without requirements.lock; then "
    "run `migsys sql --tui` again."
)


class Stop(Exception):
    """``.quit``: leave the prompt."""


@dataclass
class FileSink:
    """Where ``.output``/``.once`` send results: a file opened once, appended to per result."""

    path: Path
    once: bool
    handle: io.TextIOBase


@dataclass
class SqlPrompt:
    """A read-eval-print loop over one read-only connection.

    ``refused_folders`` are where ``.output``/``.once`` never write (MIGSYS_HOME, the sources).
    """

    con: duckdb.DuckDBPyConnection
    warehouse: Path
    out: Console
    err: Console
    mode: str = "table"
    max_rows: int | None = DEFAULT_MAX_ROWS
    refused_folders: tuple[Path, ...] = ()
    timer: bool = False
    sink: FileSink | None = None

    def run(self, read_line: Callable[[str], str] = input) -> None:
        self.say(
            f"migsys sql — {self.warehouse} (read-only). End statements with ';'. "
            ".tables lists the tables, .help the commands, .quit leaves."
        )
        try:
            self._loop(read_line)
        finally:
            self.close_sink()

    def _loop(self, read_line: Callable[[str], str]) -> None:
        buffer: list[str] = []
        while True:
            try:
                line = read_line(CONTINUATION if buffer else PROMPT)
            except EOFError:
                self.say("")
                return
            except KeyboardInterrupt:  # Ctrl-C drops the statement being typed, like DuckDB's
                self.say("^C")
                buffer = []
                continue
            if not buffer:
                command = line.strip()
                if not command:
                    continue
                if command.lower() in ("exit", "quit", "exit;", "quit;"):
                    return
                if command.startswith("."):
                    try:
                        self.dot_command(command)
                    except Stop:
                        return
                    continue
            buffer.append(line)
            text = "\n".join(buffer)
            if text.rstrip().endswith(";"):
                buffer = []
                self.execute(text)

    # --- output helpers ---

    def say(self, text: str) -> None:
        self.out.print(text, markup=False, highlight=False, soft_wrap=True)

    def error(self, text: str) -> None:
        self.err.print(text, markup=False, highlight=False, soft_wrap=True, style="red")

    # --- statements and dot commands ---

    def execute(self, text: str) -> None:
        started = time.perf_counter()
        try:
            table = query_connection(self.con, text)
        except (WriteRefused, duckdb.Error, ValueError) as error:
            self.error(str(error))
            return
        except KeyboardInterrupt:  # Ctrl-C during a long query stops the query, not the prompt
            self.error("interrupted")
            return
        seconds = time.perf_counter() - started
        if self.sink is None:
            print_result(table, self.mode, self.out, self.max_rows)
        else:
            self.write_to_sink(table)
        if self.timer:
            self.say(f"Run Time: {seconds:.3f} s")

    def write_to_sink(self, table: pa.Table) -> None:
        sink = self.sink
        assert sink is not None
        try:
            sink.handle.write(file_text(table, self.mode))
            sink.handle.flush()
        except OSError as error:
            self.error(f"cannot write to {sink.path}: {error.strerror or error}")
            self.close_sink()
            return
        if sink.once:
            self.close_sink()
            self.say(f"wrote {table.num_rows:,} rows to {sink.path}")

    def close_sink(self) -> None:
        if self.sink is not None:
            with contextlib.suppress(OSError):
                self.sink.handle.close()
            self.sink = None

    def dot_command(self, line: str) -> None:
        name, *args = line.split()
        handlers = {
            ".tables": self.tables,
            ".schema": self.schema,
            ".mode": self.set_mode,
            ".maxrows": self.set_max_rows,
            ".output": self.set_output,
            ".once": self.set_once,
            ".timer": self.set_timer,
            ".help": self.help,
            ".quit": self.quit,
            ".exit": self.quit,
        }
        handler = handlers.get(name.lower())
        if handler is None:
            known = ", ".join(sorted(handlers))
            self.error(f"unknown command {name}: the prompt knows {known} (.help explains them)")
            return
        if len(args) > 1:
            self.error(f"{name} takes at most one argument (got {' '.join(args)})")
            return
        handler(args[0] if args else None)

    def tables(self, pattern: str | None) -> None:
        names = warehouse_tables(self.con)
        if pattern is not None:
            glob = pattern.replace("%", "*").replace("_", "?").lower()
            names = [
                n
                for n in names
                if fnmatch.fnmatch(n.lower(), glob) or fnmatch.fnmatch(n.split(".", 1)[1], glob)
            ]
        if not names:
            self.say("no table matches" if pattern else "the warehouse holds no table")
            return
        by_schema: dict[str, list[str]] = {}
        for name in names:
            schema, table = name.split(".", 1)
            by_schema.setdefault(schema, []).append(table)
        for schema, tables in by_schema.items():
            self.say(f"{schema}:")
            self.out.print(Columns([Text(t) for t in tables], padding=(0, 3)))

    def schema(self, table: str | None) -> None:
        rows = self.con.execute(
            """
            select schema_name, table_name, sql from duckdb_tables()
            where not internal and not temporary and database_name = current_database()
            union all
            select schema_name, view_name, sql from duckdb_views()
            where not internal and not temporary and database_name = current_database()
            order by 1, 2
            """
        ).fetchall()
        if table is not None:
            wanted = table.strip('"').lower()
            rows = [r for r in rows if wanted in (r[1].lower(), f"{r[0]}.{r[1]}".lower())]
            if not rows:
                suggestions = suggest_tables(self.con, table)
                hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
                self.error(f"no table or view named {table} in the warehouse{hint}")
                return
        for _, _, sql in rows:
            self.say(sql.rstrip(";") + ";")

    def set_mode(self, mode: str | None) -> None:
        if mode is None:
            self.say(f"output mode: {self.mode} (choices: {', '.join(MODES)})")
            return
        chosen = MODE_ALIASES.get(mode.lower(), mode.lower())
        if chosen in MODES:
            self.mode = chosen
        else:
            self.error(f"unknown mode {mode}: choose one of {', '.join(MODES)}")

    def set_max_rows(self, value: str | None) -> None:
        if value is None:
            shown = "all" if self.max_rows is None else f"{self.max_rows:,}"
            self.say(f"maxrows: {shown} (the table layout prints at most this many rows)")
            return
        if not value.isdigit():
            self.error(f".maxrows takes a whole number of rows, 0 for all (got {value})")
            return
        self.max_rows = int(value) or None

    def set_output(self, path: str | None) -> None:
        self.close_sink()
        if path is not None:
            self.open_sink(path, once=False)

    def set_once(self, path: str | None) -> None:
        if path is None:
            self.error(".once needs a FILE: the next result is written there")
            return
        self.close_sink()
        self.open_sink(path, once=True)

    def open_sink(self, path: str, *, once: bool) -> None:
        target = Path(path).expanduser()
        try:
            check_output_path(target, refused_folders=self.refused_folders, what=".output")
            handle = target.open("w", encoding="utf-8")
        except OutputError as error:
            self.error(str(error))
            return
        except OSError as error:
            self.error(f".output {target}: {error.strerror or error}")
            return
        self.sink = FileSink(target, once, handle)
        if not once:
            self.say(f"results go to {target} in {self.mode} layout; .output alone ends it")

    def set_timer(self, value: str | None) -> None:
        if value is None:
            self.say(f"timer: {'on' if self.timer else 'off'}")
        elif value.lower() in ("on", "off"):
            self.timer = value.lower() == "on"
        else:
            self.error(f".timer takes on or off (got {value})")

    def help(self, _: str | None) -> None:
        width = max(map(len, DOT_COMMANDS))
        for command, meaning in DOT_COMMANDS.items():
            self.say(f"{command.ljust(width)}  {meaning}")
        self.say("SQL statements end with ';' and only reads run (SELECT, WITH, PIVOT, DESCRIBE…).")

    def quit(self, _: str | None) -> None:
        raise Stop


# --- printing results -------------------------------------------------------------------------


def print_result(
    table: pa.Table,
    mode: str,
    console: Console,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    hints: Hints = PROMPT_HINTS,
) -> None:
    """Print ``table`` as ``mode`` says, the table layout fitted to the console's width (also
    used by ``migsys sql QUERY``, with ``CLI_HINTS``)."""
    if mode == "table":
        text = box_text(table, width=console.width, max_rows=max_rows, hints=hints)
    else:
        text = format_text(table, mode)
    console.print(Text(text), soft_wrap=True, end="", markup=False, highlight=False)


def file_text(table: pa.Table, mode: str) -> str:
    """What ``.output`` writes: every row, the table layout as wide as it needs."""
    if mode == "table":
        return box_text(table, width=None, max_rows=None)
    return format_text(table, mode)


def format_result(table: pa.Table, mode: str) -> str:
    """``table`` as csv, json, markdown or DuckDB's ``line`` layout."""
    return format_text(table, mode)


# --- readline ---------------------------------------------------------------------------------


def enable_line_editing(con: duckdb.DuckDBPyConnection) -> None:
    """History and Tab completion of dot commands and table names when typing at a terminal."""
    if not sys.stdin.isatty():
        return
    try:
        import readline
    except ImportError:  # not every Python has it; the prompt works without
        return
    tables = warehouse_tables(con)
    words = sorted({*(c.split()[0].rstrip(",") for c in DOT_COMMANDS), ".exit", *tables}) + sorted(
        {t.split(".", 1)[1] for t in tables}
    )

    def complete(text: str, state: int) -> str | None:
        matches = [w for w in words if w.startswith(text)]
        return matches[state] if state < len(matches) else None

    readline.set_completer_delims(" \t\n;,()")
    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")


# --- Harlequin --------------------------------------------------------------------------------


def harlequin_init_script(*, sandbox: bool) -> str:
    """SQL Harlequin runs right after connecting: the same settings as ``open_read_only``."""
    settings = SANDBOX_CONFIG if sandbox else READ_ONLY_CONFIG
    # SET order matters after connecting: the temp directory cannot change once external access
    # is off, and nothing can change once the configuration is locked.
    last = ("enable_external_access", "lock_configuration")
    ordered = sorted(settings, key=lambda name: last.index(name) + 1 if name in last else 0)
    lines = []
    for name in ordered:
        value = settings[name]
        literal = str(value).lower() if isinstance(value, bool) else f"'{value}'"
        lines.append(f"SET {name} = {literal};")
    return "\n".join(lines) + "\n"


def harlequin_command(executable: str, warehouse: Path, init_path: Path) -> list[str]:
    return [
        executable,
        "--adapter",
        "duckdb",
        "--read-only",
        "--init-path",
        str(init_path),
        str(warehouse),
    ]


def open_tui(warehouse: Path, *, sandbox: bool = False) -> int:
    """Run Harlequin on the warehouse read-only; its exit code. Raises if it is not installed."""
    executable = shutil.which("harlequin")
    if executable is None:
        raise FileNotFoundError(HARLEQUIN_INSTALL)
    if not warehouse.is_file():
        raise FileNotFoundError(
            f"no published warehouse at {warehouse}: run `migsys refresh` first"
        )
    with tempfile.TemporaryDirectory(prefix="migsys-tui-") as folder:
        init_path = Path(folder) / "init.sql"
        init_path.write_text(harlequin_init_script(sandbox=sandbox), encoding="utf-8")
        return subprocess.call(harlequin_command(executable, warehouse, init_path))
