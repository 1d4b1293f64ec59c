"""``migsys sweep``: run, follow, analyse and export sensitivity studies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

sweep_app = typer.Typer(
    name="sweep", help="Sensitivity studies: run, status, analyze, export.", no_args_is_help=True
)
_console = Console()
_errors = Console(stderr=True)

StudyArgument = Annotated[str, typer.Argument(help="study name, or the path of its TOML spec")]


def _paths():
    from migsys.warehouse.paths import MigsysPaths

    return MigsysPaths.from_env()


def _fail(error: Exception) -> None:
    _errors.print(f"[red]error:[/red] {error}", highlight=False)
    raise typer.Exit(code=2)


def _spec_for(study: str):
    """A study given as a TOML path (the spec) or as a name (the spec stored with its results)."""
    from migsys.sweeps.engine import load_study_spec
    from migsys.sweeps.spec import load_spec

    if study.endswith(".toml") or Path(study).is_file():
        return load_spec(study)
    return load_study_spec(_paths().sweeps, study)


@sweep_app.command("run")
def run(
    spec_path: Annotated[Path, typer.Argument(help="study spec (TOML)")],
    workers: Annotated[
        int | None, typer.Option(help="local worker processes (default: cores)")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="existing Dask scheduler, tcp://HOST:PORT")
    ] = None,
    slurm: Annotated[
        bool,
        typer.Option(
            help="run on Slurm jobs via dask-jobqueue (settings from its jobqueue.slurm "
            "configuration unless given below; --workers = worker processes in all)"
        ),
    ] = False,
    slurm_queue: Annotated[str | None, typer.Option(help="Slurm partition")] = None,
    slurm_account: Annotated[str | None, typer.Option(help="Slurm account")] = None,
    slurm_walltime: Annotated[str | None, typer.Option(help="job time limit, HH:MM:SS")] = None,
    slurm_cores: Annotated[
        int | None, typer.Option(help="cores per job (one worker process each)")
    ] = None,
    slurm_memory: Annotated[str | None, typer.Option(help="memory per job, e.g. 4GiB")] = None,
    slurm_prologue: Annotated[
        list[str] | None, typer.Option(help="job script line run before the workers (repeat)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
) -> None:
    """Run a study, or finish an interrupted one (only missing chunks run)."""
    from migsys.sweeps.engine import StudyConflict, run_study
    from migsys.sweeps.evaluators import Slurm, evaluator_for
    from migsys.sweeps.models import ModelContext
    from migsys.sweeps.spec import SpecError, load_spec

    paths = _paths()
    slurm_options = {
        "--slurm-queue": ("queue", slurm_queue),
        "--slurm-account": ("account", slurm_account),
        "--slurm-walltime": ("walltime", slurm_walltime),
        "--slurm-cores": ("cores", slurm_cores),
        "--slurm-memory": ("memory", slurm_memory),
        "--slurm-prologue": ("job_script_prologue", tuple(slurm_prologue or ()) or None),
    }
    try:
        given = [flag for flag, (_, value) in slurm_options.items() if value is not None]
        if given and not slurm:
            raise ValueError(f"{given[0]}: Slurm options need --slurm")
        slurm_evaluator = Slurm(**dict(slurm_options.values())) if slurm else False
        evaluator = evaluator_for(workers, scheduler, slurm_evaluator)
        spec = load_spec(spec_path)
        result = run_study(
            spec,
            paths.sweeps,
            evaluator=evaluator,
            progress=progress,
            context=ModelContext(warehouse=paths.warehouse),
        )
    except (SpecError, StudyConflict, ValueError) as error:
        _fail(error)
    _console.print(
        f"{result.name}: {result.chunks_run} of {result.chunks_total} chunks run "
        f"({result.scenarios_run:,} scenarios in {result.seconds:.1f} s) -> {result.directory}"
    )


@sweep_app.command("status")
def status(study: StudyArgument) -> None:
    """State of a running or past study."""
    from migsys.sweeps.engine import study_status
    from migsys.sweeps.spec import SpecError, load_spec

    name = study
    if study.endswith(".toml"):
        try:
            name = load_spec(study).name
        except SpecError as error:
            _fail(error)
    state = study_status(_paths().sweeps, name)
    table = Table(title=f"study {name}", show_header=False)
    for label, value in (
        ("state", state.state),
        ("scenarios", f"{state.scenarios_done:,} / {state.n_scenarios:,}"),
        ("chunks done", str(state.chunks_done)),
        ("started", state.started_at or "-"),
        ("finished", state.finished_at or "-"),
        ("run time (s)", "-" if state.seconds is None else f"{state.seconds:.1f}"),
        ("folder", str(state.directory)),
    ):
        table.add_row(label, value)
    _console.print(table)
    if state.state == "missing":
        raise typer.Exit(code=1)


@sweep_app.command("analyze")
def analyze(
    study: StudyArgument,
    second_order: Annotated[bool, typer.Option(help="also second-order Sobol indices")] = False,
) -> None:
    """Sensitivity indices, quantile bands and PRIM boxes of a finished study."""
    from migsys.sweeps.analysis import analyze_study
    from migsys.sweeps.spec import SpecError

    try:
        spec = _spec_for(study)
        result = analyze_study(_paths().sweeps, spec, second_order=second_order or None)
    except (SpecError, ValueError) as error:
        _fail(error)
    table = Table(title=f"sensitivity of {spec.name}")
    for column in ("outcome", "method", "index", "parameter", "value", "conf"):
        table.add_column(column)
    for row in result.sensitivity.itertuples():
        parameter = (
            row.parameter if row.parameter_2 is None else f"{row.parameter} x {row.parameter_2}"
        )
        conf = "" if row.conf is None or row.conf != row.conf else f"± {row.conf:.3g}"
        table.add_row(row.outcome, row.method, row.index, parameter, f"{row.value:.4g}", conf)
    _console.print(table)
    if len(result.prim_boxes):
        _console.print(result.prim_boxes.drop(columns=["study"]).to_string(index=False))
    for warning in result.warnings:
        _errors.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


@sweep_app.command("export")
def export(
    study: StudyArgument,
    format: Annotated[str, typer.Option("--format", help="output format (iamc)")] = "iamc",
    output: Annotated[
        Path | None, typer.Option(help="CSV path (default: <study>/export/iamc.csv)")
    ] = None,
    all_scenarios: Annotated[
        bool, typer.Option(help="every scenario, not only quantile bands")
    ] = False,
) -> None:
    """Write the study's yearly series in the IAMC long format (pyam)."""
    from migsys.sweeps.export import export_iamc
    from migsys.sweeps.spec import SpecError

    if format != "iamc":
        _fail(ValueError(f"--format {format!r}: only 'iamc' is supported"))
    try:
        name = _spec_for(study).name
        root = _paths().sweeps
        target = output or root / name / "export" / (
            "iamc_all.csv" if all_scenarios else "iamc.csv"
        )
        path = export_iamc(root, name, target, all_scenarios=all_scenarios)
    except (SpecError, ValueError) as error:
        _fail(error)
    _console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` sub-app to the migsys app."""
    app.add_typer(sweep_app, name="sweep")
