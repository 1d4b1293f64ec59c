"""``migsys snapshot``: rebuild (or check) the embedded snapshot from the published files."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from migsys.cli.help import area_app

app = area_app()
console = Console()
err_console = Console(stderr=True)

EPILOG = """\
Examples:

\b
  # what a maintainer runs after new releases, from the checkout (then commit the folder)
  MIGSYS_SOURCES=../shared/data migsys snapshot --output warehouse/embedded

\b
  # check that the shipped snapshot is what the parsers make of the files today
  MIGSYS_SOURCES=../shared/data migsys snapshot --check
"""


@app.command(epilog=EPILOG)
def snapshot(
    sources: Annotated[
        Path | None,
        typer.Option(
            "--sources",
            metavar="DIR",
            help="Folder with the published files (default: MIGSYS_SOURCES).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="DIR",
            help="Snapshot folder to write (default: MIGSYS_HOME/snapshot). With --check: the "
            "snapshot to compare with (default: the one this package ships).",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Build into a temporary folder and compare; exit 1 if the data differ.",
        ),
    ] = False,
) -> None:
    """Parse the published files and write the compact Parquet snapshot of the raw layer.

    The snapshot (one Parquet file per source plus manifest.json with publisher, official URL, licence and attribution, release date, sha256 of each original file and row counts) is what `migsys refresh` uses when MIGSYS_SOURCES holds no registered file. Every registered file must be present and parse cleanly.
    """  # noqa: E501 - one line per paragraph: the help wraps it to the terminal
    from migsys.settings import MigsysSettings
    from migsys.warehouse.snapshot import EMBEDDED_DIR, SnapshotError, compare_snapshots
    from migsys.warehouse.snapshot_build import build_snapshot

    paths = MigsysSettings.from_env().paths
    sources_dir = (sources or paths.sources).resolve()
    try:
        if check:
            expected = (output or EMBEDDED_DIR).resolve()
            with tempfile.TemporaryDirectory(prefix="migsys-snapshot-") as scratch:
                built = Path(scratch) / "snapshot"
                build_snapshot(sources_dir, built)
                differences = compare_snapshots(expected, built)
            if differences:
                err_console.print(
                    f"[red]{expected} differs from what the files in {sources_dir} give:[/red]"
                )
                for line in differences:
                    err_console.print(f"  {line}")
                raise typer.Exit(1)
            console.print(f"{expected} holds exactly what the files in {sources_dir} give.")
            return
        out_dir = (output or paths.home / "snapshot").resolve()
        manifest = build_snapshot(sources_dir, out_dir)
    except SnapshotError as error:
        err_console.print(f"[red]snapshot failed:[/red] {error}")
        raise typer.Exit(1) from error
    size = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    rows = sum(s.rows for s in manifest.sources)
    console.print(f"Wrote {out_dir}: {manifest.describe()}, {rows:,} rows, {size / 1e6:.2f} MB.")
