"""The ``migsys sql`` prompt driven through a pseudo-terminal, as an analyst types into it.

``migsys sql`` runs as a real process on the slave side of a pty (stdin is a terminal, so
readline is on); the test writes keystrokes to the master side and reads the screen back.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from migsys.flows import sql_prompt
from migsys.flows.sql_prompt import format_result, harlequin_command, harlequin_init_script

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")
MIGSYS = Path(sys.executable).parent / "migsys"
PROMPT = "migsys> "
CONTINUATION = "   ...> "


class Terminal:
    """A process on a pseudo-terminal: ``send`` keystrokes, ``expect`` text on the screen."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        # pty.fork makes the terminal the child's controlling terminal, so Ctrl-C is a SIGINT.
        pid, master = pty.fork()
        if pid == 0:  # the child: become the program
            try:
                os.execve(argv[0], argv, env)
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


@pytest.fixture()
def terminal(home: Path) -> Iterator[Terminal]:
    env = {
        **os.environ,
        "MIGSYS_HOME": str(home),
        "TERM": "dumb",
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "LINES": "50",
    }
    term = Terminal([str(MIGSYS), "sql"], env)
    term.expect(r"read-only\)")
    term.expect(re.escape(PROMPT))
    try:
        yield term
    finally:
        if term.master >= 0 and term.running():
            term.line(".quit")
        term.close()


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
    assert "last_year" in shown and "2002" in shown and "1 rows" in shown
    terminal.line("drop table fct_remittances_annual;")
    shown = terminal.output_until_prompt()
    assert "statement 1 (drop table fct_remittances_annual;) is DROP TABLE: refused" in shown


def test_unknown_table_suggests_the_warehouse_tables(terminal: Terminal) -> None:
    terminal.line("select * from fct_remitances_anual;")
    shown = terminal.output_until_prompt()
    assert "did you mean main.fct_remittances_annual?" in shown
    assert "pg_enum" not in shown


def test_ctrl_c_drops_the_statement_and_quit_leaves(terminal: Terminal) -> None:
    terminal.line("select 1")
    terminal.expect(re.escape(CONTINUATION))
    terminal.send("\x03")  # Ctrl-C
    terminal.expect(re.escape(PROMPT))
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

    from migsys.flows.cli import app

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
