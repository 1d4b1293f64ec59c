"""``migsys refresh``, ``migsys serve`` and ``migsys server``: the nightly flow, once, on a
schedule, and a local Prefect UI to watch both.

The console gets one line per step (a progress bar while dbt builds) and a closing block with
where things are and what to try next; the full log goes to ``MIGSYS_HOME/logs/``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from migsys.cli.help import area_app

if TYPE_CHECKING:  # imported where used: `migsys -h` loads neither pydantic nor rich.progress
    from rich.progress import Progress

    from migsys.settings import MigsysSettings
    from migsys.warehouse.paths import MigsysPaths

app = area_app()
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

REFRESH_EXAMPLES = """Examples:

\b
  migsys refresh                 # MIGSYS_SOURCES, else the embedded snapshot
  MIGSYS_SOURCES=../shared/data migsys refresh --rebuild
  migsys refresh --allow-shrink  # publish although marts lose rows (logged)
"""


class ConsoleReporter:
    """One line per step on the console; a transient progress bar while dbt builds.

    A ``flows.runner.Reporter`` by its methods (importing that module here would slow `migsys -h`).
    """

    def __init__(self, out: Console) -> None:
        self.out = out
        self._progress: Progress | None = None
        self._task = None

    def step_started(self, name: str) -> None:
        # Only on a terminal: written to a file or pipe, a stopped bar leaves a blank line.
        if name.startswith("dbt build") and self.out.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

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


def _sources_explicit(paths: MigsysPaths) -> bool:
    """Sources named by MIGSYS_SOURCES or the home's migsys.toml: a missing or empty folder is
    then an error (an unmounted volume), never the cue to use the embedded data."""
    return paths.sources_from != "default"


def _settings_or_exit() -> MigsysSettings:
    """This process's environment as settings (a broken MIGSYS_HOME/migsys.toml, or a variable
    that breaks its rule, refused in one line)."""
    from migsys.settings import MigsysSettings

    try:
        return MigsysSettings.from_env()
    except ValueError as error:  # HomeConfigError, SettingsError
        err_console.print(f"refused: {error}", markup=False)
        raise typer.Exit(2) from None


def run_refresh_command(
    *,
    rerun_studies: bool = False,
    fetch: bool | None = None,
    rebuild: bool = False,
    allow_shrink: bool = False,
    use_embedded: bool = False,
    verbose: bool = False,
    config: Path | None = None,
    settings: MigsysSettings | None = None,
) -> Path:
    """Run the nightly flow once and print where everything went; returns the warehouse path.

    Exits 1 with the failed step and the reason on stderr (published warehouse unchanged),
    1 when the Prefect server it reports to stops answering (said in one paragraph), 130 when
    interrupted.
    """
    import logging

    from migsys.flows.prefect_server import answers
    from migsys.flows.runtime import (
        SERVER_LOST,
        Interrupted,
        ServerLost,
        configure_prefect,
        exit_code,
        home_write_problem,
        interruptible,
        log_to_file,
        prefect_settings,
        reap_leftovers,
        start_ephemeral_api_in_background,
    )

    log = logging.getLogger("migsys.refresh")
    settings = settings or _settings_or_exit()
    paths = settings.paths
    problem = home_write_problem(paths)  # before Prefect or a log file would stumble on it
    if problem is not None:
        err_console.print(f"refresh refused: {problem}", markup=False)
        raise typer.Exit(1)
    mode = configure_prefect(settings)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    log_file = paths.logs / f"refresh-{stamp}.log"
    log_to_file(log_file, verbose=verbose)
    for line in reap_leftovers(paths):
        console.print(line, markup=False)
    with prefect_settings(mode):
        api_starting = start_ephemeral_api_in_background() if mode.api_url is None else None

        # What the steps import, loaded while the API starts.
        import migsys.reports.build  # noqa: F401
        import migsys.warehouse.ingest  # noqa: F401
        from migsys.flows.config import NightlyConfigError, NightlySettings
        from migsys.flows.nightly import run_nightly
        from migsys.warehouse.publish import (
            RefreshFailed,
            RefreshInProgress,
            failure_in,
            is_disk_full,
        )

        nightly = NightlySettings.from_paths(
            paths,
            sources_explicit=_sources_explicit(paths),
            rerun_studies=rerun_studies,
            fetch=fetch,
            rebuild=rebuild,
            allow_shrink=allow_shrink,
            use_embedded=use_embedded,
            **({"config_file": config.resolve()} if config else {}),
        )
        console.print(f"migsys refresh · home {paths.home} · sources {paths.sources}", markup=False)
        console.print(mode.describe(), markup=False)

        published_before = _identity(paths.warehouse)

        def say_interrupted(signum: int) -> None:
            if signum == SERVER_LOST:
                err_console.print(
                    server_lost_message(mode.api_url, paths, published_before, log_file)
                )
                return
            err_console.print(
                f"interrupted: stopping the refresh; {paths.warehouse} stays as it was",
                markup=False,
            )

        try:
            with interruptible(say_interrupted, log_file=log_file, watch_api_url=mode.api_url):
                if api_starting is not None:
                    api_starting.join()
                result = run_nightly(nightly, ConsoleReporter(console))
        except ServerLost:
            raise typer.Exit(1) from None
        except Interrupted as stopped:
            raise typer.Exit(exit_code(stopped.signum)) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except (RefreshInProgress, NightlyConfigError) as error:
            err_console.print(f"refresh refused: {error}", markup=False)
            raise typer.Exit(1) from error
        except Exception as error:  # a failed step, or Prefect failing to record the run after one
            failure = failure_in(error) or (
                _disk_full(paths, error) if is_disk_full(error) else None
            )
            if failure is None:
                # Prefect's client fails with connection errors when its server went away between
                # two health checks: say that, not a traceback (which stays in the log).
                if mode.api_url is None or answers(mode.api_url):
                    raise
                log.exception("the Prefect server stopped answering")
                err_console.print(
                    server_lost_message(mode.api_url, paths, published_before, log_file)
                )
                raise typer.Exit(1) from None
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
        from_files = any(s.get("origin") == "sources" for s in result.summary.get("sources", []))
        if paths.sources_from == "environment" and from_files:
            from migsys.warehouse.paths import remember_sources

            remembered = remember_sources(paths.home, paths.sources)
            if remembered is not None:
                console.print(
                    f"Sources folder remembered in {remembered}: a plain `migsys refresh` of this "
                    "home reads it from now on (MIGSYS_SOURCES still wins).",
                    markup=False,
                )
        _closing_block(paths, result, log_file, settings.search_path)
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


def _identity(path: Path) -> tuple[int, int] | None:
    """What tells a published warehouse from the next one: its inode and modification time."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def server_lost_message(
    api_url: str | None, paths: MigsysPaths, published_before, log_file: Path
) -> Text:
    """One paragraph: the server went away, what happened to the warehouse, what to do."""
    published = _identity(paths.warehouse) != published_before
    outcome = (
        f"the new warehouse had already been published to {paths.warehouse}, but the run "
        "stopped before its report"
        if published
        else f"the published warehouse {paths.warehouse} was left unchanged"
    )
    ui = (api_url or "").removesuffix("/api")
    return Text(
        f"refresh stopped: the Prefect server at {ui} stopped answering, so the run could not "
        f"be recorded; {outcome}. Start the server again (`migsys server`) or unset "
        f"PREFECT_API_URL to use Prefect's ephemeral API, then run `migsys refresh` again. "
        f"Full log: {log_file}"
    )


def _closing_block(paths: MigsysPaths, result, log_file: Path, search_path: str) -> None:
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
    for command in next_commands(Path.cwd(), search_path):
        console.print(f"  {command}", markup=False)


def as_typed(path: Path, cwd: Path) -> str:
    """A path as the user would type it from ``cwd``: relative inside it, absolute outside."""
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


def migsys_program(cwd: Path, search_path: str) -> str:
    """How to run this migsys from ``cwd``: ``migsys`` when that name on PATH is this one, else
    its path (``.venv/bin/migsys`` in a fresh clone, where it is not on PATH)."""
    mine = Path(sys.executable).parent / "migsys"
    found = shutil.which("migsys", path=search_path)
    if found and Path(found).resolve() == mine.resolve():
        return "migsys"
    return as_typed(mine.absolute(), cwd)


def next_commands(cwd: Path, search_path: str) -> list[str]:
    """The closing block's suggestions, written so that each runs as printed from ``cwd``."""
    from migsys.warehouse.paths import STUDIES_DIR

    program = migsys_program(cwd, search_path)
    study = as_typed(STUDIES_DIR / "remittances_tour.toml", cwd.resolve())
    return [
        f'{program} sql "select * from fct_intensity_degree_summary where index_year = 2000"',
        f"{program} sql                    # interactive prompt: .tables, .schema, .help",
        f"{program} sweep run {study}    # a small remittance study, then: sweep analyze",
    ]


@app.command(epilog=REFRESH_EXAMPLES)
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


@app.command()
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
    from migsys.flows.runtime import configure_prefect, prefect_settings

    migsys_settings = _settings_or_exit()
    paths = migsys_settings.paths
    mode = configure_prefect(migsys_settings)

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
            sources_explicit=_sources_explicit(paths),
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
    with prefect_settings(mode):
        prefect_serve(deployment)


@app.command()
def server(
    port: Annotated[
        int | None,
        typer.Option(help="Port of the Prefect UI and API (default 4200, or a free one if taken)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Start this home's Prefect server (UI and API) for refresh and serve to report to.

    One server per MIGSYS_HOME: its database lives in MIGSYS_HOME/prefect and where it listens
    is recorded there, so `migsys refresh` and `migsys serve` of this home report to it (and
    print the flow run's URL), never to another home's server. When it is not running they use
    Prefect's ephemeral API and say so. Its own output goes to MIGSYS_HOME/logs/prefect-server.log.

    Example: migsys server   (then open the URL it prints; Ctrl-C stops it)
    """
    from migsys.flows.prefect_server import ServerFailed, run_server

    paths = _settings_or_exit().paths

    def say(text: str) -> None:
        console.print(text, markup=False)

    try:
        code = run_server(paths, host, port, say)
    except ServerFailed as error:
        err_console.print(f"migsys server: {error}", markup=False)
        raise typer.Exit(1) from None
    raise typer.Exit(code)
