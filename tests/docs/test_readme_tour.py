"""The README's tour, command by command, on a fresh clone right after `make refresh`.

The clone is this checkout's files in a new git repository, with the home a fresh clone's
first refresh publishes (``embedded_home``: the embedded snapshot, the standing study) as its
``var/``. Every command of the "A short tour" section runs as printed, from the clone's root
with no MIGSYS_HOME or MIGSYS_SOURCES, and must exit 0 and return rows (a printed row count
above zero, a written file with more than a header); afterwards `git status` is clean: the tour
writes under MIGSYS_HOME or the git-ignored ``exports/`` (issue 18, finding 7).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "migsys.cli"]
TOUR_PROMPT_INPUT = "select year, remittances_usd from fct_remittances_annual;\n"


def tour_commands(readme: Path = REPO / "README.md") -> list[list[str]]:
    """The commands of the README's tour section (migsys and mkdir), as argument lists."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## A short tour") :]
    section = section[: section.index("\n## ", 1)]
    commands = []
    for block in re.findall(r"```\n(.*?)```", section, flags=re.DOTALL):
        for line in block.splitlines():
            if line.startswith((".venv/bin/migsys", "mkdir ")):
                commands.append(shlex.split(line, comments=True))
    return commands


def _studies_created_then_used(commands: list[list[str]]) -> tuple[list[str], list[str]]:
    """(studies created by `sweep run`, studies used later), in tour order, each used one
    checked against what was created before it."""
    created, used = [], []
    for command in commands:
        args = command[1:]
        if args[:2] == ["sweep", "run"]:
            spec = tomllib.loads((REPO / args[2]).read_text(encoding="utf-8"))
            created.append(spec["study"]["name"])
        elif args[:2] in (["sweep", "analyze"], ["sweep", "export"], ["sweep", "status"]):
            used.append(args[2])
            assert args[2] in created, f"{shlex.join(command)}: the tour never created {args[2]}"
        elif args[:1] == ["sql"] and len(args) > 1:
            for name in re.findall(r"study\s*=\s*'([^']+)'", args[1]):
                used.append(name)
                assert name in created, f"{shlex.join(command)}: the tour never created {name}"
    return created, used


def test_tour_section_lists_the_commands_a_newcomer_types() -> None:
    commands = tour_commands()
    migsys = [command[1:] for command in commands if command[0] == ".venv/bin/migsys"]
    assert len(migsys) >= 10
    assert ["sql"] in migsys  # the interactive prompt
    assert all(
        command[0] in {"sql", "calibrate", "backtest", "sweep", "refresh"} for command in migsys
    )
    created, used = _studies_created_then_used(commands)
    assert created and used  # the tour runs a study, then analyses, exports and queries it
    for command in commands:  # files go under MIGSYS_HOME or the git-ignored exports/
        for flag in ("--output", "--out"):
            if flag in command:
                assert command[command.index(flag) + 1].startswith("exports/"), command


def _latest_data_query(sql: str) -> bool:
    """A query of the marts of the data (the paper's claims and the studies excepted)."""
    return " fct_" in sql and "fct_paper_claims_check" not in sql


def _rows_printed(output: str) -> list[int]:
    counts = re.findall(r"\b([\d,]+) (?:projection )?rows?\b", output)
    return [int(count.replace(",", "")) for count in counts]


def _fresh_clone(folder: Path) -> Path:
    """This checkout's files (tracked, and new ones git does not ignore) in a new repository."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / os.fsdecode(name)
        if source.is_file():
            target = folder / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=tour", "-c", "user.email=tour@example.org"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fresh clone"]):
        subprocess.run([*git, *step], cwd=folder, check=True, capture_output=True)
    return folder


@pytest.mark.slow
def test_every_tour_command_runs_on_a_fresh_clone_and_leaves_it_clean(
    embedded_home, tmp_path: Path
) -> None:
    clone = _fresh_clone(tmp_path / "clone")
    # `make refresh` on a fresh clone published this home (./var, git-ignored).
    shutil.copytree(
        embedded_home.home, clone / "var", symlinks=True, ignore=shutil.ignore_patterns("*.lock")
    )
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"MIGSYS_HOME", "MIGSYS_SOURCES"}},
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    for command in tour_commands():
        if command[0] == "mkdir":
            subprocess.run(command, cwd=clone, check=True)
            continue
        args = command[1:]
        interactive = args == ["sql"]
        done = subprocess.run(
            [*CLI, *args],
            cwd=clone,
            env=env,
            input=TOUR_PROMPT_INPUT if interactive else None,
            capture_output=True,
            text=True,
            timeout=900,
        )
        shown = f"{shlex.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert done.returncode == 0, shown
        assert "Worker process still alive" not in done.stderr, shown  # no nanny noise
        assert "Traceback" not in done.stderr, shown
        for flag in ("--output", "--out"):
            if flag in args:
                written = clone / args[args.index(flag) + 1]
                assert written.is_file() and written.stat().st_size > 0, shown
                if written.suffix == ".csv":
                    assert len(written.read_text().splitlines()) > 1, shown
        if args[0] == "sql" and "--output" not in args:
            counts = _rows_printed(done.stdout)
            assert counts and min(counts) > 0, shown
        if args[0] == "sql" and len(args) > 1 and _latest_data_query(args[1]):
            # The latest data reach a fresh clone: the 2020 census, remittances to 2024 (the
            # claims are the paper's own years).
            answer = done.stdout
            if "--output" in args:
                answer = (clone / args[args.index("--output") + 1]).read_text()
            assert "2020" in answer or "2024" in answer, shown
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == "", f"the tour left files in the checkout:\n{status.stdout}"
    plots = clone / "var" / "sweeps" / "remittances-tour" / "plots"
    assert (plots / "envelope_remittances_usd.png").is_file()
