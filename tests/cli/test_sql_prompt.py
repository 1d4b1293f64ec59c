"""The ``migsys sql`` prompt driven through a pseudo-terminal, as an analyst types into it.

``migsys sql`` runs as a real process on the slave side of a pty (stdin is a terminal, so
readline is on); the test writes keystrokes to the master side and reads the screen back.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from migsys.cli import sql_prompt
from migsys.cli.sql_prompt import format_result, harlequin_command, harlequin_init_script

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")
MIGSYS = Path(sys.executable).parent / "migsys"
PROMPT = "migsys> "
CONTINUATION = "   ...> "


class Terminal:
    """A process on a pseudo-terminal: ``send`` keystrokes, ``expect`` text on the screen."""

    def __init__(self, argv: list[str], env: dict[str, str], columns: int = 120) -> None:
        # pty.fork makes the terminal the child's controlling terminal, so Ctrl-C is a SIGINT.
        pid, master = pty.fork()
        if pid == 0:  # the child: become the program
            try:
                # A terminal's program starts with Ctrl-C at its default, whatever the test
                # runner (a pytest-xdist worker ignores SIGINT, and exec would pass that on).
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                size = struct.pack("HHHH", 50, columns, 0, 0)
                fcntl.ioctl(0, termios.TIOCSWINSZ, size)  # the terminal is fd 0
                os.execve(argv[0], argv, {**env, "COLUMNS": str(columns), "LINES": "50"})
            finally:
                os._exit(127)
        self.pid = pid
        self.master = master
        self.returncode: int | None = None
        self.screen = ""  # everything read so far, without escape codes
        self.seen = 0  # where the next expect starts looking

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def line(self, text: str) -> None:
        self.send(text + "\r")  # Enter, as a terminal sends it

    def expect(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears after what earlier expects consumed."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.screen, self.seen)
            if found:
                self.seen = found.end()
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{pattern!r} not shown; screen so far:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the process closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{pattern!r} not shown before exit:\n{self.screen}")
                self.screen += ANSI.sub("", chunk.decode("utf-8", "replace"))

    def output_until_prompt(self) -> str:
        """The text printed between the command just sent and the next main prompt."""
        start = self.seen
        found = self.expect(re.escape(PROMPT))
        return self.screen[start : found.start()]

    def running(self) -> bool:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode is None

    def close(self, timeout: float = 30.0) -> int:
        """Wait for the program to end (reading what it prints); kill it after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(self.master, 65536)
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.returncode = -9
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        return self.returncode


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    """A warehouse with two schemas, tables and a view, like the published one in miniature."""
    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute(
        """
        create table fct_remittances_annual as
            select 2000 + range as year, 6.5 + range as remittances_usd_bn from range(3);
        create table dim_municipality as select '01001' as cve_mun, 'Aguascalientes' as name;
        create view v_recent as select * from fct_remittances_annual where year >= 2001;
        create schema raw;
        create table raw.source_files as select 'worldbank/gdp.csv' as file_name;
        """
    )
    con.close()
    return home


@contextlib.contextmanager
def prompt_on(home: Path, columns: int = 120, **env: str) -> Iterator[Terminal]:
    """``migsys sql`` on ``home``, at the prompt, in a terminal ``columns`` wide."""
    environ = {**os.environ, "MIGSYS_HOME": str(home), "TERM": "dumb", "NO_COLOR": "1", **env}
    term = Terminal([str(MIGSYS), "sql"], environ, columns=columns)
    term.expect(r"read-only\)")
    term.expect(re.escape(PROMPT))
    try:
        yield term
    finally:
        if term.master >= 0 and term.running():
            term.line(".quit")
        term.close()


@pytest.fixture()
def terminal(home: Path) -> Iterator[Terminal]:
    with prompt_on(home) as term:
        yield term


def test_dot_tables_lists_the_warehouse_by_schema(terminal: Terminal) -> None:
    terminal.line(".tables")
    shown = terminal.output_until_prompt()
    assert CONTINUATION not in shown  # not a continuation of an SQL statement
    assert re.search(r"main:\s*\n.*dim_municipality", shown)
    assert "fct_remittances_annual" in shown and "v_recent" in shown
    assert re.search(r"raw:\s*\n\s*source_files", shown)
    terminal.line(".tables fct_%")
    shown = terminal.output_until_prompt()
    assert "fct_remittances_annual" in shown and "dim_municipality" not in shown


def test_dot_schema_shows_create_statements(terminal: Terminal) -> None:
    terminal.line(".schema fct_remittances_annual")
    shown = terminal.output_until_prompt()
    assert re.search(r"CREATE TABLE fct_remittances_annual\(\s*\"?year\"? BIGINT", shown)
    terminal.line(".schema v_recent")
    assert "CREATE VIEW v_recent" in terminal.output_until_prompt()
    terminal.line(".schema fct_remitances")
    shown = terminal.output_until_prompt()
    assert "no table or view named fct_remitances in the warehouse" in shown
    assert "did you mean main.fct_remittances_annual?" in shown


def test_dot_mode_changes_how_results_print(terminal: Terminal) -> None:
    terminal.line(".mode")
    assert "output mode: table (choices: table, csv, json, markdown, line)" in (
        terminal.output_until_prompt()
    )
    terminal.line(".mode csv")
    terminal.expect(re.escape(PROMPT))
    terminal.line("select year, remittances_usd_bn from fct_remittances_annual order by year;")
    shown = terminal.output_until_prompt()
    assert '"year","remittances_usd_bn"\n2000,6.5\n2001,7.5\n2002,8.5' in shown
    terminal.line(".mode line")
    terminal.expect(re.escape(PROMPT))
    terminal.line("select * from dim_municipality;")
    assert "cve_mun = 01001\n   name = Aguascalientes" in terminal.output_until_prompt()
    terminal.line(".mode sideways")
    assert "unknown mode sideways: choose one of table, csv" in terminal.output_until_prompt()


def test_dot_help_lists_the_commands(terminal: Terminal) -> None:
    terminal.line(".help")
    shown = terminal.output_until_prompt()
    for command in (".tables [PATTERN]", ".schema [TABLE]", ".mode [MODE]", ".help", ".quit"):
        assert command in shown
    terminal.line(".frobnicate")
    assert "unknown command .frobnicate: the prompt knows" in terminal.output_until_prompt()


def test_statements_span_lines_and_writes_are_refused(terminal: Terminal) -> None:
    terminal.line("select max(year) as last_year")
    terminal.expect(re.escape(CONTINUATION))
    terminal.line("  from fct_remittances_annual;")
    shown = terminal.output_until_prompt()
    assert "last_year" in shown and "2002" in shown and "1 row\n" in shown
    terminal.line("drop table fct_remittances_annual;")
    shown = terminal.output_until_prompt()
    assert "statement 1 (drop table fct_remittances_annual;) is DROP TABLE: refused" in shown


def test_unknown_table_suggests_the_warehouse_tables(terminal: Terminal) -> None:
    terminal.line("select * from fct_remitances_anual;")
    shown = terminal.output_until_prompt()
    assert "did you mean main.fct_remittances_annual?" in shown
    assert "pg_enum" not in shown


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_ctrl_c_drops_the_statement_and_quit_leaves(terminal: Terminal) -> None:
    terminal.line("select 1")
    terminal.expect(re.escape(CONTINUATION))
    # CPython's readline loses a SIGINT that lands between drawing the prompt and waiting for
    # input (its select() then blocks). Under load the test can hit that window, as a user
    # could; like the user, it presses Ctrl-C again.
    for attempt in range(5):
        terminal.send("\x03")  # Ctrl-C
        try:
            terminal.expect(re.escape(PROMPT), timeout=10.0)
            break
        except AssertionError:
            if attempt == 4:
                raise
    terminal.line(".quit")
    assert terminal.close() == 0


def test_ctrl_d_leaves(terminal: Terminal) -> None:
    terminal.send("\x04")  # Ctrl-D at an empty line
    assert terminal.close() == 0


# --- result layouts and Harlequin, without a terminal ----------------------------------------


def test_markdown_and_json_layouts() -> None:
    import pyarrow as pa

    table = pa.table({"state": ["Zacatecas", "a|b"], "usd": [1.5, None]})
    assert format_result(table, "markdown") == (
        "| state | usd |\n|---|---|\n| Zacatecas | 1.5 |\n| a\\|b |  |\n"
    )
    assert format_result(table, "json") == (
        '[{"state": "Zacatecas", "usd": 1.5},\n{"state": "a|b", "usd": null}]\n'
    )


def test_tui_without_harlequin_says_how_to_install(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from migsys.cli.app import app

    monkeypatch.setenv("MIGSYS_HOME", str(home))
    monkeypatch.setenv("PATH", str(home))  # no harlequin there
    result = CliRunner().invoke(app, ["sql", "--tui"])
    assert result.exit_code == 1
    assert "Harlequin is not installed" in result.output
    assert "pipx install harlequin" in result.output


def test_tui_starts_harlequin_read_only_without_extension_autoinstall(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in `harlequin` on PATH records how migsys starts it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "record.txt"
    fake = bin_dir / "harlequin"
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {record}\n'
        'while [ "$1" != "--init-path" ]; do shift; done\n'
        f'cat "$2" >> {record}\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert sql_prompt.open_tui(home / "warehouse.duckdb", sandbox=True) == 0
    recorded = record.read_text().splitlines()
    assert recorded[:4] == ["--adapter", "duckdb", "--read-only", "--init-path"]
    assert recorded[5] == str(home / "warehouse.duckdb")
    script = "\n".join(recorded[6:])
    assert "SET autoinstall_known_extensions = false;" in script
    assert "SET autoload_known_extensions = false;" in script
    assert script.rstrip().endswith("SET lock_configuration = true;")


def test_harlequin_init_script_runs_on_a_read_only_connection(home: Path) -> None:
    """The script Harlequin runs first is valid DuckDB and leaves the settings of the sandbox."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    for statement in harlequin_init_script(sandbox=True).split(";"):
        if statement.strip():
            con.execute(statement).fetchall()
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        con.execute(f"select * from read_text('{home}/x')").fetchall()
    with pytest.raises(duckdb.Error, match="locked"):
        con.execute("set autoinstall_known_extensions = true")
    assert con.sql("select count(*) from fct_remittances_annual").fetchall() == [(3,)]
    assert harlequin_command("hq", home / "w.duckdb", home / "i.sql")[1:4] == [
        "--adapter",
        "duckdb",
        "--read-only",
    ]


# --- issue 18, finding 1: results people can read in an 80-column terminal -------------------

ISSUE_QUERIES = (
    "select * from fct_intensity_degree_summary where index_year = 2000",
    "select * from sweeps.sensitivity order by all limit 6",
)
CUT_NUMBER = re.compile(r"\d…|…\d")


def _expected_cells(warehouse: Path, query: str) -> tuple[list[str], list[str]]:
    """The column names and every non-text value of ``query``, as the layout must show them."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        relation = con.sql(query)
        names = relation.columns
        rows = relation.fetchall()
    finally:
        con.close()
    values = [
        repr(v) if isinstance(v, float) else str(v)
        for row in rows
        for v in row
        if isinstance(v, int | float)
    ]
    return names, values


def _assert_readable(shown: str, names: list[str], values: list[str], columns: int) -> None:
    from rich.cells import cell_len

    body = shown.split("\n", 1)[1]  # the first line is the statement as typed (echoed)
    assert all(cell_len(line) <= columns for line in body.splitlines()), body
    assert not CUT_NUMBER.search(body), body
    for name in names:
        assert re.search(rf"[│ ]{re.escape(name)}[│ ]", body), (name, body)
    for value in values:
        assert re.search(rf"[│ ]{re.escape(value)} [│]", body), (value, body)


def test_numbers_and_names_are_never_cut_at_80_columns(embedded_home) -> None:
    """The issue's two queries, typed at the prompt of a fresh clone in an 80-column terminal:
    every header, every number and every study and parameter name appears whole."""
    with prompt_on(embedded_home.home, columns=80) as term:
        for query in ISSUE_QUERIES:
            names, values = _expected_cells(embedded_home.warehouse, query)
            assert values, query
            term.line(query + ";")
            shown = term.output_until_prompt()
            _assert_readable(shown, names, values, 80)
        assert "37765096" in term.screen  # 2000 census, low degree: 37,765,096 people
        assert "remittances-nightly" in term.screen


def test_a_query_in_a_pipe_fits_80_columns_and_max_rows_shows_more(embedded_home, cli_env) -> None:
    env = {k: v for k, v in cli_env.items() if k != "COLUMNS"}  # a pipe: 80 columns
    env["MIGSYS_HOME"] = str(embedded_home.home)
    query = ISSUE_QUERIES[0]
    done = subprocess.run(
        [str(MIGSYS), "sql", query], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    names, values = _expected_cells(embedded_home.warehouse, query)
    _assert_readable("\n" + done.stdout, names, values, 80)
    assert done.stdout.rstrip().endswith("(--format line: one row at a time)")
    limited = subprocess.run(
        [str(MIGSYS), "sql", query, "--max-rows", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert limited.returncode == 0, limited.stderr
    assert "6 rows (2 shown; --max-rows N shows more, --max-rows 0 all)" in limited.stdout


def test_maxrows_output_once_and_timer(home: Path, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    (sources / "banxico").mkdir(parents=True)
    source_file = sources / "banxico" / "remesas.csv"
    source_file.write_bytes(b"periodo,valor\n2024-12-01,5000\n")
    exports = tmp_path / "exports"
    exports.mkdir()
    with prompt_on(home, MIGSYS_SOURCES=str(sources)) as term:
        term.line(".maxrows 2")
        term.expect(re.escape(PROMPT))
        term.line("select range as i from range(5);")
        assert "5 rows (2 shown; .maxrows N shows more, .maxrows 0 all)" in (
            term.output_until_prompt()
        )
        term.line(".maxrows 0")
        term.expect(re.escape(PROMPT))
        term.line("select range as i from range(5);")
        shown = term.output_until_prompt()
        assert "│ 4 │" in shown and "5 rows\n" in shown
        # .output: every result from now on goes to the file, in the current layout.
        term.line(".mode markdown")
        term.expect(re.escape(PROMPT))
        term.line(f".output {exports / 'rows.md'}")
        term.expect(re.escape(PROMPT))
        term.line("select year from fct_remittances_annual order by year;")
        assert "2000" not in term.output_until_prompt()
        term.line(".output")
        term.expect(re.escape(PROMPT))
        assert (
            exports / "rows.md"
        ).read_text() == "| year |\n|---|\n| 2000 |\n| 2001 |\n| 2002 |\n"
        # .once: the next result only.
        term.line(".mode csv")
        term.expect(re.escape(PROMPT))
        term.line(f".once {exports / 'once.csv'}")
        term.expect(re.escape(PROMPT))
        term.line("select 7 as seven;")
        assert "wrote 1 rows to" in term.output_until_prompt()
        term.line("select 8 as eight;")
        assert '"eight"\n8' in term.output_until_prompt()
        assert (exports / "once.csv").read_text() == '"seven"\n7\n'
        # Never inside MIGSYS_HOME or the sources folder.
        for refused in (home / "rows.csv", source_file):
            term.line(f".output {refused}")
            shown = term.output_until_prompt()
            assert "files asked for by `migsys sql` are never written there" in shown, shown
            term.line("select 9 as nine;")
            assert '"nine"\n9' in term.output_until_prompt()  # still on the terminal
        term.line(".timer on")
        term.expect(re.escape(PROMPT))
        term.line("select 1 as one;")
        assert re.search(r"Run Time: \d+\.\d{3} s", term.output_until_prompt())
    assert not (home / "rows.csv").exists()
    assert source_file.read_bytes() == b"periodo,valor\n2024-12-01,5000\n"
