"""The README's tour, command by command, on what a fresh clone has after `make refresh`.

A fresh clone has no data folder: the warehouse comes from the embedded snapshot. Every command
of the "A short tour" section must succeed and return rows (a printed row count above zero, a
written file with more than a header).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "migsys.flows.cli"]

pytestmark = pytest.mark.slow


def tour_commands(readme: Path = REPO / "README.md") -> list[list[str]]:
    """The migsys commands of the README's tour section, as argument lists (comments dropped)."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## A short tour") :]
    section = section[: section.index("\n## ", 1)]
    commands = []
    for block in re.findall(r"```\n(.*?)```", section, flags=re.DOTALL):
        for line in block.splitlines():
            if line.startswith(".venv/bin/migsys"):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


def test_tour_section_lists_the_commands_a_newcomer_types() -> None:
    commands = tour_commands()
    assert len(commands) >= 10
    assert ["sql"] in commands  # the interactive prompt
    assert all(
        command[0] in {"sql", "calibrate", "backtest", "sweep", "refresh"} for command in commands
    )


def _latest_data_query(sql: str) -> bool:
    """A query of the marts of the data (the paper's claims and the studies excepted)."""
    return " fct_" in sql and "fct_paper_claims_check" not in sql


def _rows_printed(output: str) -> list[int]:
    counts = re.findall(r"\b([\d,]+) (?:projection )?rows\b", output)
    return [int(count.replace(",", "")) for count in counts]


def test_every_tour_command_returns_rows(embedded_home, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copytree(REPO / "studies", clone / "studies")
    home = clone / "var"
    home.mkdir()
    shutil.copy2(embedded_home.warehouse, home / "warehouse.duckdb")
    # MIGSYS_SOURCES unset, as on a fresh clone: the default ./data/sources does not exist there.
    env = {
        **{name: value for name, value in os.environ.items() if name != "MIGSYS_SOURCES"},
        "MIGSYS_HOME": str(home),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    for command in tour_commands():
        interactive = command == ["sql"]
        done = subprocess.run(
            [*CLI, *command],
            cwd=clone,
            env=env,
            input="select year, remittances_usd from fct_remittances_annual;\n"
            if interactive
            else None,
            capture_output=True,
            text=True,
            timeout=900,
        )
        shown = f"migsys {shlex.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert done.returncode == 0, shown
        for flag in ("--output", "--out"):
            if flag in command:
                written = clone / command[command.index(flag) + 1]
                assert written.is_file() and written.stat().st_size > 0, shown
                if written.suffix == ".csv":
                    assert len(written.read_text().splitlines()) > 1, shown
        if command[0] == "sql" and "--output" not in command:
            counts = _rows_printed(done.stdout)
            assert counts and min(counts) > 0, shown
        if command[0] == "sql" and len(command) > 1 and _latest_data_query(command[1]):
            # The latest data reach a fresh clone: the 2020 census, remittances to 2024 (the
            # claims are the paper's own years).
            answer = done.stdout
            if "--output" in command:
                answer = (clone / command[command.index("--output") + 1]).read_text()
            assert "2020" in answer or "2024" in answer, shown
