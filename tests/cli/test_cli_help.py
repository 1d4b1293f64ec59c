"""`migsys -h` is fast because help loads none of the heavy machinery (issue 18, friction).

The time itself is a bench key (`make bench`: ``cli.help_seconds``), never a timed test: here a
real process shows every command's help and reports which modules it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# (pydantic is not here: typer itself imports it to show a sub-command's help.)
HEAVY = ("prefect", "dask", "distributed", "duckdb", "pyarrow", "pandas", "numba")

PROBE = """
import json, sys
from migsys.cli.app import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


@pytest.mark.parametrize(
    "command",
    [
        ["-h"],
        ["sql", "-h"],
        ["refresh", "-h"],
        ["server", "-h"],
        ["fetch", "-h"],
        ["sweep", "run", "-h"],
        ["calibrate", "-h"],
        ["snapshot", "-h"],
    ],
)
def test_help_imports_no_heavy_library(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *command], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    *help_lines, modules_line = done.stdout.strip().splitlines()
    assert "Usage:" in "\n".join(help_lines)
    loaded = set(json.loads(modules_line))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_defaults_repeated_for_a_fast_help_match_their_source() -> None:
    from migsys.cli import sql as cli_sql
    from migsys.warehouse.fetch import FetchLimits
    from migsys.warehouse.sql_output import DEFAULT_MAX_ROWS

    assert cli_sql.DEFAULT_MAX_ROWS == DEFAULT_MAX_ROWS
    help_text = "".join(
        str(param.help)
        for param in __import__("typer")
        .main.get_command(__import__("migsys.cli.app", fromlist=["app"]).app)
        .commands["fetch"]
        .params
    )
    assert f"(default: {FetchLimits().deadline_seconds:g})" in help_text
    assert f"(default: {FetchLimits().max_bytes // 2**20})" in help_text
