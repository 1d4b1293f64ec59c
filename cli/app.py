"""The one ``migsys`` command line. Each area registers its own commands."""

from __future__ import annotations

import os
from typing import Annotated

import typer

# dbt and Prefect phone home unless told not to; tracking makes a dbt build ~3x slower here.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

app = typer.Typer(
    name="migsys",
    help="Warehouse, projections and sensitivity sweeps for the Mexico–US migratory system.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from migsys import __version__

        typer.echo(f"migsys {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Warehouse, projections and sensitivity sweeps for the Mexico–US migratory system.

    Start with `migsys refresh`, then query with `migsys sql`. Every command has -h.
    """


def _register_all() -> None:
    from migsys.cli import nightly, projections, snapshot, sweeps, warehouse

    for module in (warehouse, projections, sweeps, nightly, snapshot):
        module.register(app)


_register_all()

if __name__ == "__main__":
    app()
