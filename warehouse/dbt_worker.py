"""The dbt child process: runs the dbt command on its command line, then each command read from
standard input (one JSON list of arguments per line) until standard input ends.

``warehouse.dbt_runner`` starts it. A refresh sends its three dbt commands (the build, the forecast
marts, the docs) to one such process: dbt is imported once (~3 s) and the project parsed once
instead of three times, about 7 s less per refresh. After each command the process prints one line,
``DONE_MARK`` and a JSON outcome, and closes its DuckDB connection, so that between commands other
processes (the forecast step, the guard, the studies' workers) can open the build file; DuckDB
allows one writer per file across processes, and dbt-duckdb would otherwise keep it open.

It imports nothing of the project but this module (it must start fast and stay a plain dbt
process); dbt's own log goes to standard output, as the ``dbt`` program would print it.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator

DONE_MARK = "\x1emigsys-dbt-done "


def commands(first: list[str], stream) -> Iterator[list[str]]:
    """The command of the command line, then one per line of ``stream`` (blank lines skipped)."""
    yield first
    for line in stream:
        if line.strip():
            yield json.loads(line)


def run_one(args: list[str]) -> dict:
    """One dbt command in this process; its outcome, and the DuckDB file released."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    try:
        result = dbtRunner().invoke(args)
        outcome = {
            "success": bool(result.success),
            "error": None if result.exception is None else str(result.exception),
        }
    finally:
        # dbt-duckdb keeps its database open for the process's life (it closes it at exit, with
        # this same call); drop it between commands, and let the collector close the file now.
        DuckDBConnectionManager.close_all_connections()
        gc.collect()
    return outcome


def main(argv: list[str]) -> int:
    for args in commands(argv, sys.stdin):
        outcome = run_one(args)
        sys.stdout.flush()
        print(DONE_MARK + json.dumps(outcome), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
