"""``migsys serve``: the nightly refresh as a Prefect deployment on a cron schedule.

``migsys refresh`` (registered in ``flows/cli_warehouse.py``) runs the same flow once, in process,
through ``run_refresh_command`` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from migsys.warehouse.paths import MigsysPaths

console = Console()
err_console = Console(stderr=True)


def run_refresh_command(
    *, rerun_studies: bool = False, fetch: bool | None = None, rebuild: bool = False
) -> None:
    """Run the nightly flow once with no Prefect server; print where everything went.

    Exits 1 with the failed step and the reason on stderr; the published warehouse is unchanged.
    """
    from migsys.flows.nightly import NightlyConfigError, NightlySettings, run_nightly
    from migsys.warehouse.refresh import RefreshFailed, RefreshInProgress

    paths = MigsysPaths.from_env()
    settings = NightlySettings.from_paths(
        paths, rerun_studies=rerun_studies, fetch=fetch, rebuild=rebuild
    )
    try:
        result = run_nightly(settings)
    except RefreshFailed as error:
        err_console.print(f"[red]refresh failed at step '{error.step}':[/red] {error.reason}")
        if error.step == "report":
            err_console.print(
                f"The new warehouse {paths.warehouse} was published; only the report failed."
            )
        else:
            err_console.print(f"The published warehouse {paths.warehouse} was left unchanged.")
        raise typer.Exit(1) from error
    except (RefreshInProgress, NightlyConfigError) as error:
        err_console.print(f"[red]refresh refused:[/red] {error}")
        raise typer.Exit(1) from error
    refresh = result.refresh
    if not result.rebuilt:
        console.print("Warehouse up to date: inputs unchanged, the published build was kept.")
    if refresh.absent_sources:
        console.print(
            "[yellow]Absent sources[/yellow] (built from the paper's seeds for these): "
            + ", ".join(refresh.absent_sources)
        )
    for study in result.studies:
        console.print(f"Study {study.name}: {study.action} ({study.reason})")
    console.print(f"Warehouse: {refresh.warehouse}")
    console.print(f"Report:    {result.report}")
    console.print(f"Docs:      {refresh.docs}")
    console.print("Seconds:   " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))


def serve(
    cron: Annotated[
        str | None,
        typer.Option(
            envvar="MIGSYS_SCHEDULE_CRON",
            help="Cron schedule (default from studies/nightly.toml: 0 2 * * *).",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            envvar="MIGSYS_SCHEDULE_TZ",
            help="IANA time zone of the schedule (default America/Mexico_City).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Nightly config with the standing studies (default studies/nightly.toml)."
        ),
    ] = None,
    fetch: Annotated[
        bool | None,
        typer.Option(
            "--fetch/--no-fetch",
            envvar="MIGSYS_FETCH",
            help="Download new releases before each run.",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            envvar="MIGSYS_DASK_SCHEDULER",
            help="Dask scheduler for the studies, e.g. tcp://dask-scheduler:8786.",
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "nightly",
) -> None:
    """Register the nightly refresh as a deployment and serve it on its schedule (runs until stopped)."""
    from prefect import serve as prefect_serve

    from migsys.flows.nightly import (
        DEFAULT_NIGHTLY_CONFIG,
        NightlyConfigError,
        NightlySettings,
        load_nightly_config,
        nightly_deployment,
    )

    config_file = (config or DEFAULT_NIGHTLY_CONFIG).resolve()
    try:
        nightly = load_nightly_config(config_file)
        settings = NightlySettings.from_paths(
            MigsysPaths.from_env(), config_file=config_file, fetch=fetch, scheduler=scheduler
        )
        deployment = nightly_deployment(
            settings,
            cron=cron or nightly.schedule.cron,
            timezone=timezone or nightly.schedule.timezone,
            name=name,
        )
    except NightlyConfigError as error:
        err_console.print(f"[red]cannot serve:[/red] {error}")
        raise typer.Exit(2) from error
    console.print(
        f"Serving deployment nightly-refresh/{name}: cron {cron or nightly.schedule.cron!r} "
        f"({timezone or nightly.schedule.timezone}); MIGSYS_HOME={settings.home}"
    )
    prefect_serve(deployment)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the migsys app."""
    app.command()(serve)
