"""The one ``migsys`` command line: every area's commands (``migsys.cli.*``) on one app.

Importing it changes nothing in the process (no environment variable is set); the commands that
start dbt or Prefect give them their settings themselves.
"""

from __future__ import annotations

from typing import Annotated

import typer

from migsys.cli import nightly, projections, snapshot, sql, sweeps, warehouse
from migsys.cli.help import APP_SETTINGS

app = typer.Typer(
    name="migsys",
    help="Warehouse, projections and sensitivity sweeps for the Mexico–US migratory system.",
    no_args_is_help=True,
    **APP_SETTINGS,
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


# In this order in `migsys -h`; an area's app without a name adds its commands at the top level.
for area in (warehouse.app, sql.app, projections.app, nightly.app, snapshot.app, sweeps.app):
    app.add_typer(area)

if __name__ == "__main__":
    app()
