"""``migsys fetch``, ``migsys refresh`` and ``migsys sql``."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from migsys.warehouse.fetch import FetchLimits as FetchLimitsDefaults
from migsys.warehouse.paths import MigsysPaths

console = Console()
err_console = Console(stderr=True)


def command_help(docstring: str | None) -> str:
    """A docstring as Typer's Rich help shows it well: prose reflowed, examples kept as lines.

    Typer's "rich" mode keeps every newline of later paragraphs and reads brackets as markup, so
    prose paragraphs are joined into one line each, indented lines (examples) stay as they are,
    and brackets are escaped (``.schema [table]`` must survive).
    """
    paragraphs = inspect.cleandoc(docstring or "").split("\n\n")
    shown = []
    for paragraph in paragraphs:
        lines = paragraph.splitlines()
        if any(line.startswith("  ") for line in lines[1:]) or paragraph.startswith("  "):
            shown.append("\n".join(lines))
        else:
            shown.append(" ".join(line.strip() for line in lines))
    return rich_escape("\n\n".join(shown))


def fetch(
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help="Mirror laid out like MIGSYS_SOURCES (default: each file's registered URL).",
        ),
    ] = None,
    deadline: Annotated[
        float,
        typer.Option(min=1, metavar="SECONDS", help="Overall time allowed per file."),
    ] = FetchLimitsDefaults.deadline_seconds,
    max_mib: Annotated[
        int, typer.Option(min=1, metavar="MIB", help="Size cap per file, in MiB.")
    ] = FetchLimitsDefaults.max_bytes // (1024 * 1024),
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="On failure, one line per file with its rule.")
    ] = False,
) -> None:
    """Download the registered source files into MIGSYS_SOURCES, checked before anything changes.

    Each file is staged, then must pass: HTTP 200 and not an HTML page, the size cap, the
    deadline, redirects only within its host, and its pinned sha256 (closed releases) or the
    parser and a never-fewer-rows check (growing series). Only when every file passes are the
    changed ones swapped in and the manifests rewritten; otherwise nothing changes and each
    failure is named with its rule.

    Examples:
      migsys fetch
      migsys fetch --base-url http://127.0.0.1:8000     # e.g. python -m http.server
      migsys fetch --deadline 300 --max-mib 16
    """
    from migsys.warehouse.fetch import FetchError, FetchLimits, SourcesFolderError, fetch_sources

    paths = MigsysPaths.from_env()
    limits = FetchLimits(max_bytes=max_mib * 1024 * 1024, deadline_seconds=deadline)
    try:
        report = fetch_sources(paths.sources, base_url=base_url, limits=limits)
    except FetchError as error:
        failed = error.report
        _error(
            f"fetch failed: {len(failed.failures)} of {len(failed.files)} files; "
            f"nothing in {failed.dest} was replaced"
        )
        for line in failed.failure_lines():
            _error(f"  {line}")
        if verbose:
            for line in str(error).splitlines()[1:]:
                _error(line)
        raise typer.Exit(1) from None
    except (SourcesFolderError, ValueError) as error:
        _error(f"fetch failed: {error}")
        raise typer.Exit(1 if isinstance(error, SourcesFolderError) else 2) from None
    console.print(report)
    console.print(
        f"{report.count('downloaded')} downloaded, {report.count('unchanged')} unchanged; "
        f"manifest {paths.sources / 'MANIFEST.sha256'}",
        markup=False,
        highlight=False,
    )


def _error(text: str) -> None:
    """Error text exactly as written: brackets in SQL, URLs or rules are not Rich markup."""
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def refresh(
    rerun_studies: Annotated[
        bool, typer.Option("--rerun-studies", help="Re-run standing studies even if unchanged.")
    ] = False,
    fetch: Annotated[
        bool | None,
        typer.Option("--fetch/--no-fetch", help="Download sources first (default: as configured)."),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild even when no input changed.")
    ] = False,
) -> None:
    """Run the nightly flow once: ingest, dbt build and tests, studies, publish, report.

    Runs on Prefect's ephemeral API (no server needed). On failure the published warehouse is
    left byte-for-byte unchanged and the failed step is named on stderr.
    """
    from migsys.flows.cli_nightly import run_refresh_command

    run_refresh_command(rerun_studies=rerun_studies, fetch=fetch, rebuild=rebuild)


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
    app.command(help=command_help(fetch.__doc__))(fetch)
    app.command()(refresh)
    app.command(help=command_help(sql.__doc__))(sql)
