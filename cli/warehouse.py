"""``migsys fetch``: download the registered source files, checked before anything changes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from migsys.cli.help import area_app, command_help

app = area_app()
console = Console()
err_console = Console(stderr=True)


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
        float | None,
        typer.Option(
            min=1, metavar="SECONDS", help="Overall time allowed per file (default: 120)."
        ),
    ] = None,
    max_mib: Annotated[
        int | None,
        typer.Option(min=1, metavar="MIB", help="Size cap per file, in MiB (default: 64)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="On failure, one line per file with its rule.")
    ] = False,
) -> None:
    """Download the registered source files into MIGSYS_SOURCES, checked before anything changes.

    Each file is staged, then must pass: HTTP 200 and not an HTML page, the size cap, the
    deadline, redirects only within its host, and its pinned sha256 (closed releases) or, for
    growing series, ingest's own rules (whole, with its final line break, no rejected row), the
    registry's minimum of rows, and never fewer rows than the file it replaces. A body sent
    without Content-Length must also end with a line break and keep the latest period of the
    file it replaces. A host that times out is not asked for its other files. Only when every
    file passes are the changed ones swapped in and the manifests rewritten; otherwise nothing
    changes and each failure is named with its rule.

    Examples:
      migsys fetch
      migsys fetch --base-url http://127.0.0.1:8000     # e.g. python -m http.server
      migsys fetch --deadline 300 --max-mib 16
    """
    from migsys.settings import MigsysSettings
    from migsys.warehouse.fetch import FetchError, FetchLimits, SourcesFolderError, fetch_sources

    paths = MigsysSettings.from_env().paths
    # The defaults are FetchLimits' own (not imported at start-up: `migsys -h` stays fast).
    given = {"max_bytes": None if max_mib is None else max_mib * 1024 * 1024}
    given["deadline_seconds"] = deadline
    limits = FetchLimits(**{name: value for name, value in given.items() if value is not None})
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
    supplied = [f for f in report.files if f.status == "supplied"]
    console.print(
        f"{report.count('downloaded')} downloaded, {report.count('unchanged')} unchanged"
        + (f", {len(supplied)} supplied with the data (no download)" if supplied else "")
        + f"; manifest {paths.sources / 'MANIFEST.sha256'}",
        markup=False,
        highlight=False,
    )
    for f in supplied:
        console.print(f"  {f.file_name}: {f.error}", markup=False, highlight=False)


def _error(text: str) -> None:
    """Error text exactly as written: brackets in SQL, URLs or rules are not Rich markup."""
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


# The docstring is the help; click's formatter needs its example lines marked.
app.command(help=command_help(fetch.__doc__))(fetch)
