"""``migsys sql``: query the published warehouse, read-only, from the shell or a prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from migsys.cli.help import area_app, command_help

app = area_app()

# migsys.warehouse.sql_output.DEFAULT_MAX_ROWS, repeated (a test keeps them equal): importing
# that module loads pyarrow, and `migsys -h` must stay fast.
DEFAULT_MAX_ROWS = 40

console = Console()
err_console = Console(stderr=True)


def _error(text: str) -> None:
    """Error text exactly as written: brackets in SQL, URLs or rules are not Rich markup."""
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def sql(
    query: Annotated[
        str | None, typer.Argument(metavar="QUERY", help="SQL to run; omit it for the prompt.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table, csv, json, markdown or line on the terminal; csv, json or parquet "
            "with --output (default: table, or the --output suffix).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the rows to FILE (its folder must exist)."
        ),
    ] = None,
    max_rows: Annotated[
        int,
        typer.Option(
            "--max-rows",
            min=0,
            metavar="N",
            help=f"Rows the table layout prints (default {DEFAULT_MAX_ROWS}; 0: all).",
        ),
    ] = DEFAULT_MAX_ROWS,
    tui: Annotated[
        bool, typer.Option("--tui", help="Open Harlequin, the SQL IDE for the terminal, read-only.")
    ] = False,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="No file or network access beyond the warehouse, configuration locked.",
        ),
    ] = False,
) -> None:
    """Query the published warehouse, read-only: statements that are not reads are refused by name.

    Only SELECT, WITH, VALUES, FROM, PIVOT, UNPIVOT, DESCRIBE, SHOW, SUMMARIZE, reporting
    PRAGMAs and EXPLAIN of those run; COPY, ATTACH, INSTALL, LOAD, SET, IMPORT DATABASE and every
    write are refused with the rule. No query installs or loads an extension.

    The table layout fits the terminal and never cuts a number: text columns shrink, and a
    table still too wide is folded into several boxes. Lists and structs are written as JSON
    text in CSV and kept native in JSON and Parquet. --output never writes inside MIGSYS_HOME
    or the sources folder.

    Without QUERY a prompt opens: statements end with ';', and .tables, .schema [table],
    .mode [mode], .maxrows [n], .output [file], .once file, .timer on|off, .help and .quit work
    as in the DuckDB CLI. docs/tables.md lists the tables you'll want.

    Examples:
      migsys sql "show all tables"
      migsys sql "from main.fct_remittances_annual order by year" -f csv
      migsys sql "from main.fct_remittances_annual" -o remittances.parquet
      migsys sql                      # the prompt
      migsys sql --tui                # Harlequin, if installed
    """
    from migsys.cli.sql_prompt import SqlPrompt, enable_line_editing, open_tui, print_result
    from migsys.settings import MigsysSettings
    from migsys.warehouse.sql import (
        OUTPUT_FORMATS,
        OutputError,
        check_output_path,
        format_for_output,
        open_read_only,
        run_query,
        write_table,
    )
    from migsys.warehouse.sql_output import CLI_HINTS

    try:
        paths = MigsysSettings.from_env().paths  # a broken setting: one message below
        refused = (paths.home, paths.sources)
        if output is not None:
            fmt = format_for_output(output, fmt)
            # Before the query runs: fail fast, write nothing.
            check_output_path(output, refused_folders=refused)
        elif fmt is not None and fmt not in OUTPUT_FORMATS:
            raise OutputError(f"--format must be one of {', '.join(OUTPUT_FORMATS)} (got {fmt})")
        elif fmt == "parquet":
            raise OutputError("--format parquet needs --output FILE")
        if tui:
            if query is not None or output is not None:
                raise OutputError("--tui opens an editor: give no QUERY and no --output")
            raise typer.Exit(open_tui(paths.warehouse, sandbox=sandbox))
        if query is None:
            if output is not None:
                raise OutputError("--output needs a QUERY (the prompt prints to the terminal)")
            con = open_read_only(paths.warehouse, sandbox=sandbox)
            try:
                enable_line_editing(con)
                SqlPrompt(
                    con,
                    paths.warehouse,
                    console,
                    err_console,
                    mode=fmt or "table",
                    max_rows=max_rows or None,
                    refused_folders=refused,
                ).run()
            finally:
                con.close()
            return
        table = run_query(paths.warehouse, query, sandbox=sandbox)
    except OutputError as error:
        _error(str(error))
        raise typer.Exit(2) from None
    except typer.Exit:
        raise
    except Exception as error:  # noqa: BLE001 - refusals and SQL errors: one message, no traceback
        _error(str(error))
        raise typer.Exit(1) from None
    if output is None:
        print_result(table, fmt or "table", console, max_rows or None, CLI_HINTS)
        return
    write_table(table, output, fmt, refused_folders=refused)
    console.print(f"wrote {table.num_rows} rows to {output}", markup=False, highlight=False)


# The docstring is the help; click's formatter needs its example lines marked.
app.command(help=command_help(sql.__doc__))(sql)
