"""``migsys refresh``, ``migsys serve`` and ``migsys server``: the nightly flow, once, on a
schedule, and a local Prefect UI to watch both.

The console gets one line per step (a progress bar while dbt builds) and a closing block with
where things are and what to try next; the full log goes to ``MIGSYS_HOME/logs/``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from migsys.warehouse.paths import MigsysPaths

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

REFRESH_EXAMPLES = """Examples:

\b
  migsys refresh                 # MIGSYS_SOURCES, else the embedded snapshot
  MIGSYS_SOURCES=../shared/data migsys refresh --rebuild
  migsys refresh --allow-shrink  # publish although marts lose rows (logged)
"""


class ConsoleReporter:
    """One line per step on the console; a transient progress bar while dbt builds."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self._progress: Progress | None = None
        self._task = None

    def step_started(self, name: str) -> None:
        # Only on a terminal: written to a file or pipe, a stopped bar leaves a blank line.
        if name.startswith("dbt build") and self.out.is_terminal:
            self._progress = Progress(
                TextColumn("  [bold]dbt build"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.out,
                transient=True,
            )
            self._task = self._progress.add_task("dbt", total=None)
            self._progress.start()

    def step_finished(self, name: str, seconds: float, ok: bool) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        self.out.print(f"{mark} {name:<32} {seconds:6.1f} s")

    def note(self, text: str) -> None:
        self.out.print(f"  {text}", markup=False)

    def dbt_node(self, event) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=event.done, total=event.total or None)


def _sources_explicit() -> bool:
    return bool(os.environ.get("MIGSYS_SOURCES"))


def run_refresh_command(
    *,
    rerun_studies: bool = False,
    fetch: bool | None = None,
    rebuild: bool = False,
    allow_shrink: bool = False,
    use_embedded: bool = False,
    verbose: bool = False,
    config: Path | None = None,
    paths: MigsysPaths | None = None,
) -> Path:
    """Run the nightly flow once and print where everything went; returns the warehouse path.

    Exits 1 with the failed step and the reason on stderr (published warehouse unchanged),
    130 when interrupted.
    """
    from migsys.flows.runtime import (
        Interrupted,
        configure_prefect,
        home_write_problem,
        interruptible,
        log_to_file,
        reap_leftovers,
        start_ephemeral_api_in_background,
    )

    paths = paths or MigsysPaths.from_env()
    problem = home_write_problem(paths)  # before Prefect or a log file would stumble on it
    if problem is not None:
        err_console.print(f"refresh refused: {problem}", markup=False)
        raise typer.Exit(1)
    mode = configure_prefect(paths)
    api_starting = start_ephemeral_api_in_background() if mode.api_url is None else None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    log_file = paths.logs / f"refresh-{stamp}.log"
    log_to_file(log_file, verbose=verbose)
    for line in reap_leftovers(paths):
        console.print(line, markup=False)

    # What the steps import, loaded while the API starts.
    import migsys.reports.build  # noqa: F401
    import migsys.warehouse.ingest  # noqa: F401
    from migsys.flows.config import NightlyConfigError, NightlySettings
    from migsys.flows.nightly import run_nightly
    from migsys.flows.runner import use_reporter
    from migsys.warehouse.publish import RefreshFailed, RefreshInProgress, failure_in, is_disk_full

    settings = NightlySettings.from_paths(
        paths,
        sources_explicit=_sources_explicit(),
        rerun_studies=rerun_studies,
        fetch=fetch,
        rebuild=rebuild,
        allow_shrink=allow_shrink,
        use_embedded=use_embedded,
        **({"config_file": config.resolve()} if config else {}),
    )
    use_reporter(ConsoleReporter(console))
    console.print(f"migsys refresh · home {paths.home} · sources {paths.sources}", markup=False)
    console.print(mode.describe(), markup=False)

    def say_interrupted(signum: int) -> None:
        err_console.print(
            f"interrupted: stopping the refresh; {paths.warehouse} stays as it was", markup=False
        )

    try:
        with interruptible(say_interrupted, log_file=log_file):
            if api_starting is not None:
                api_starting.join()
            result = run_nightly(settings)
    except Interrupted as stopped:
        raise typer.Exit(128 + stopped.signum) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except (RefreshInProgress, NightlyConfigError) as error:
        err_console.print(f"refresh refused: {error}", markup=False)
        raise typer.Exit(1) from error
    except Exception as error:  # a failed step, or Prefect failing to record the run after one
        failure = failure_in(error) or (_disk_full(paths, error) if is_disk_full(error) else None)
        if failure is None:
            raise
        err_console.print(
            f"refresh failed at step '{failure.step}': {failure.reason}", markup=False
        )
        if failure is not error and not isinstance(error, RefreshFailed):
            first = str(error).splitlines()[0] if str(error) else ""
            err_console.print(
                f"(Prefect could not record the failed run: {type(error).__name__}: {first})",
                markup=False,
            )
        where = (
            f"The new warehouse {paths.warehouse} was published; only the report failed."
            if failure.step == "report"
            else f"The published warehouse {paths.warehouse} was left unchanged."
        )
        err_console.print(f"{where} Full log: {log_file}", markup=False)
        raise typer.Exit(1) from error
    _closing_block(paths, result, log_file)
    return result.warehouse


def _disk_full(paths: MigsysPaths, error: BaseException):
    """A full disk outside the refresh's own steps (Prefect's database, say): measured, and the
    build removed if no other refresh holds the lock meanwhile."""
    from migsys.warehouse.publish import RefreshInProgress, disk_full_failure, refresh_lock

    try:
        with refresh_lock(paths):
            return disk_full_failure(paths, error)
    except (RefreshInProgress, OSError):
        return disk_full_failure(paths, error, remove_build=False)


def _closing_block(paths: MigsysPaths, result, log_file: Path) -> None:
    if not result.rebuilt:
        console.print(
            "Warehouse up to date: its inputs are unchanged, the published build was kept."
        )
    # The stable link (swapped to each new report) is the one worth bookmarking.
    latest = paths.reports / "latest" / "index.html"
    report = latest if latest.is_file() else result.report
    console.print()
    console.print(f"Warehouse  {result.warehouse}", markup=False)
    console.print(f"Report     [link={report.as_uri()}]{report.as_uri()}[/link]")
    console.print(f"Log        {log_file}", markup=False)
    console.print("Next:")
    for command in (
        'migsys sql "select * from fct_intensity_degree_summary where index_year = 2000"',
        "migsys sql                    # interactive prompt: .tables, .schema, .help",
        "migsys sweep run studies/ishigami_sobol.toml",
    ):
        console.print(f"  {command}", markup=False)


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
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Publish even if the build lost a source or marts lost rows (logged in the run record).",
        ),
    ] = False,
    use_embedded: Annotated[
        bool,
        typer.Option(
            "--use-embedded",
            help="Replace a warehouse built from source files with the embedded snapshot.",
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the full log live (dbt, Prefect).")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            metavar="NIGHTLY.toml",
            help="Nightly config: standing studies, publish guard (default studies/nightly.toml).",
        ),
    ] = None,
) -> None:
    """Run the nightly job once: ingest, dbt build and tests, studies, guard, publish, report.

    Uses a local Prefect server when `migsys server` runs, else Prefect's ephemeral API. On
    failure the published warehouse is left byte-for-byte unchanged and the failed step is
    named on stderr.
    """
    run_refresh_command(
        rerun_studies=rerun_studies,
        fetch=fetch,
        rebuild=rebuild,
        allow_shrink=allow_shrink,
        use_embedded=use_embedded,
        verbose=verbose,
        config=config,
    )


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
    """Serve the nightly refresh on its cron schedule (runs until stopped).

    Example: migsys serve --cron "0 3 * * *" --timezone America/Mexico_City
    """
    from migsys.flows.runtime import configure_prefect

    paths = MigsysPaths.from_env()
    mode = configure_prefect(paths)

    from prefect import serve as prefect_serve

    from migsys.flows.config import (
        DEFAULT_NIGHTLY_CONFIG,
        NightlyConfigError,
        NightlySettings,
        load_nightly_config,
    )
    from migsys.flows.nightly import nightly_deployment

    config_file = (config or DEFAULT_NIGHTLY_CONFIG).resolve()
    try:
        nightly = load_nightly_config(config_file)
        settings = NightlySettings.from_paths(
            paths,
            sources_explicit=_sources_explicit(),
            config_file=config_file,
            fetch=fetch,
            scheduler=scheduler,
        )
        deployment = nightly_deployment(
            settings,
            cron=cron or nightly.schedule.cron,
            timezone=timezone or nightly.schedule.timezone,
            name=name,
        )
    except NightlyConfigError as error:
        err_console.print(f"cannot serve: {error}", markup=False)
        raise typer.Exit(2) from error
    console.print(mode.describe(), markup=False)
    console.print(
        f"Serving deployment nightly-refresh/{name}: cron {cron or nightly.schedule.cron!r} "
        f"({timezone or nightly.schedule.timezone}); MIGSYS_HOME={settings.home}",
        markup=False,
    )
    prefect_serve(deployment)


def server(
    port: Annotated[int, typer.Option(help="Port of the Prefect UI and API.")] = 4200,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Start a persistent local Prefect server (UI and API) for refresh and serve to report to.

    Its database lives in MIGSYS_HOME/prefect. While it runs, `migsys refresh` and `migsys serve`
    report to it and print the flow run's URL; when it is not running they use Prefect's
    ephemeral API and say so.

    Example: migsys server --port 4200   (then open http://127.0.0.1:4200)
    """
    from migsys.flows.runtime import SERVER_URL_ENV

    paths = MigsysPaths.from_env()
    env = {
        **os.environ,
        "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(paths.home / "prefect")),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": f"http://{host}:{port}/api",
    }
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    console.print(
        f"Prefect server on http://{host}:{port} (database in {env['PREFECT_HOME']}); "
        f"refresh and serve find it there (or set {SERVER_URL_ENV}). Stop with Ctrl-C.",
        markup=False,
    )
    sys.stdout.flush()
    # Become the server (exec): Ctrl-C and SIGTERM reach it directly, and no child is orphaned.
    os.execve(prefect, [prefect, "server", "start", "--host", host, "--port", str(port)], env)


def register(app: typer.Typer) -> None:
    """Add ``refresh``, ``serve`` and ``server`` to the migsys app."""
    app.command(epilog=REFRESH_EXAMPLES)(refresh)
    app.command()(serve)
    app.command()(server)
