"""``migsys fetch`` and ``migsys sql`` (``migsys refresh`` is in ``flows/cli_nightly.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from migsys.warehouse.paths import MigsysPaths

console = Console()
err_console = Console(stderr=True)


def fetch(
    base_url: Annotated[
        str | None,
        typer.Option(help="Mirror to download from (default: each source's registered URL)."),
    ] = None,
) -> None:
    """Download the registered source files into MIGSYS_SOURCES with a sha256 manifest."""
    from migsys.warehouse.fetch import fetch_sources

    paths = MigsysPaths.from_env()
    try:
        report = fetch_sources(paths.sources, base_url=base_url)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never a traceback
        err_console.print(f"[red]fetch failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(report)


def _print_table(table) -> None:
    view = Table(show_lines=False)
    for name in table.column_names:
        view.add_column(name)
    for row in table.to_pylist():
        view.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(view)
    console.print(f"[dim]{table.num_rows} rows[/dim]")


def _interactive(warehouse: Path) -> None:
    from migsys.warehouse.sql import open_read_only, query_connection

    con = open_read_only(warehouse)
    console.print(f"migsys sql — {warehouse} (read-only). End statements with ';', quit with .exit")
    buffer: list[str] = []
    while True:
        try:
            line = input("migsys> " if not buffer else "   ...> ")
        except EOFError:
            break
        if not buffer and line.strip() in (".exit", ".quit", "exit", "quit"):
            break
        buffer.append(line)
        if not line.rstrip().endswith(";"):
            continue
        statement, buffer = "\n".join(buffer), []
        try:
            _print_table(query_connection(con, statement))
        except Exception as exc:  # noqa: BLE001 - the prompt reports and continues
            err_console.print(f"[red]{exc}[/red]")
    con.close()


def sql(
    query: Annotated[str | None, typer.Argument(help="SQL to run; omit for a prompt.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or parquet")] = "table",
    output: Annotated[Path | None, typer.Option(help="File to write (csv/json/parquet).")] = None,
) -> None:
    """Query the published warehouse read-only; statements that write are refused."""
    from migsys.warehouse.sql import OUTPUT_FORMATS, run_query, write_table

    paths = MigsysPaths.from_env()
    if fmt not in OUTPUT_FORMATS:
        err_console.print(f"--format must be one of {', '.join(OUTPUT_FORMATS)} (got {fmt!r})")
        raise typer.Exit(2)
    try:
        if query is None:
            _interactive(paths.warehouse)
            return
        table = run_query(paths.warehouse, query)
    except Exception as exc:  # noqa: BLE001
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if fmt == "table":
        _print_table(table)
    elif output is None:
        if fmt == "parquet":
            err_console.print("--format parquet needs --output FILE")
            raise typer.Exit(2)
        import pyarrow.csv as pa_csv

        if fmt == "csv":
            pa_csv.write_csv(table, sys.stdout.buffer)
        else:
            import json

            sys.stdout.write(json.dumps(table.to_pylist(), default=str, ensure_ascii=False) + "\n")
    else:
        write_table(table, output, fmt)
        console.print(f"wrote {table.num_rows} rows to {output}")


def register(app: typer.Typer) -> None:
    app.command()(fetch)
    app.command()(sql)
