"""``migsys sweep``: run, check, analyse and export sensitivity studies.

Error text is printed without Rich markup processing or wrapping (messages quote patterns such
as ``'^[a-z0-9]…'`` and paths that must come out intact): both consoles have ``markup=False``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from migsys.cli.help import area_app

app = area_app(
    name="sweep",
    help=(
        "Sensitivity studies: run a study spec on Dask workers, check its stored results, "
        "analyse them (Sobol, Morris, RBD-FAST, PRIM) and export them.\n\n"
        "Example: migsys sweep run studies/ishigami_sobol.toml && "
        "migsys sweep analyze ishigami-sobol --plots"
    ),
    no_args_is_help=True,
)
# No markup (messages quote patterns and paths), no wrapping of messages (a path split over two
# lines cannot be copied); tables still fit the terminal.
_console = Console(markup=False, highlight=False, soft_wrap=True)
_errors = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)

StudyArgument = Annotated[
    str, typer.Argument(help="Study name (its folder under MIGSYS_HOME/sweeps) or its TOML spec.")
]

# Exit codes of `sweep status` (documented in its help).
EXIT_OK, EXIT_MISSING, EXIT_ERROR, EXIT_CORRUPT, EXIT_INCOMPLETE = 0, 1, 2, 3, 4


def _settings():
    from migsys.settings import MigsysSettings

    return MigsysSettings.from_env()


def _paths():
    return _settings().paths


def _fail(error: BaseException, code: int = EXIT_ERROR) -> None:
    """Print ``error: <message>`` (plain text, no markup) and exit with ``code``."""
    text = str(error)
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{error.filename}: {error.strerror or text}"
    _errors.print(Text.assemble(("error: ", "bold red"), text))
    raise typer.Exit(code=code)


def _warn(message: str) -> None:
    _errors.print(Text.assemble(("warning: ", "yellow"), message))


def _spec_for(study: str):
    """A study given as a TOML path (the spec) or as a name (the spec stored with its results)."""
    from migsys.sweeps.engine import load_study_spec
    from migsys.sweeps.spec import load_spec

    if study.endswith(".toml") or Path(study).is_file():
        return load_spec(study)
    return load_study_spec(_paths().sweeps, study)


def _study_name(study: str) -> str:
    from migsys.sweeps.spec import load_spec

    if study.endswith(".toml") or Path(study).is_file():
        return load_spec(study).name
    return study


@app.command("run")
def run(
    spec_path: Annotated[Path, typer.Argument(help="Study spec (TOML).", metavar="SPEC")],
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes (default: one per core locally; with --slurm, in all jobs)."
        ),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Use an existing Dask scheduler, tcp://HOST:PORT.")
    ] = None,
    slurm: Annotated[
        bool,
        typer.Option(
            help="Run on Slurm jobs via dask-jobqueue (settings from its jobqueue.slurm "
            "configuration unless given by the --slurm-* options; --workers counts worker "
            "processes in all)."
        ),
    ] = False,
    slurm_queue: Annotated[str | None, typer.Option(help="Slurm partition (with --slurm).")] = None,
    slurm_account: Annotated[str | None, typer.Option(help="Slurm account (with --slurm).")] = None,
    slurm_walltime: Annotated[
        str | None, typer.Option(metavar="HH:MM:SS", help="Job time limit (with --slurm).")
    ] = None,
    slurm_cores: Annotated[
        int | None, typer.Option(help="Cores per job, one worker process each (with --slurm).")
    ] = None,
    slurm_memory: Annotated[
        str | None, typer.Option(help="Memory per job, e.g. 4GiB (with --slurm).")
    ] = None,
    slurm_prologue: Annotated[
        list[str] | None,
        typer.Option(
            metavar="LINE",
            help="Job script line run before the workers; repeat for more (with --slurm).",
        ),
    ] = None,
    in_process: Annotated[
        bool,
        typer.Option(
            "--in-process", help="Run every chunk in this process, one after another (no Dask)."
        ),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    max_scenarios: Annotated[
        int | None,
        typer.Option(
            help="Refuse specs with more scenarios than this (default 20,000,000 or "
            "MIGSYS_MAX_SCENARIOS).",
            min=1,
        ),
    ] = None,
) -> None:
    """Run a study, finish an interrupted one, or repair a damaged one.

    Results go to MIGSYS_HOME/sweeps/NAME. Only what is not yet on disk runs: chunks whose
    parts are missing or changed since they were written are run again exactly (bad files are
    moved to the study's quarantine folder) and the missing ranges are filled. Two runs of one
    study at once are refused.

    Chunks run on local worker processes (default), on the workers of an existing Dask
    scheduler (--scheduler), on workers started as Slurm jobs (--slurm; see docs/deploy.md), or
    one after another in this process (--in-process). The results are the same.

    Examples:

        migsys sweep run studies/ishigami_sobol.toml --workers 2

        migsys sweep run studies/remittances_sobol.toml --slurm --workers 8
    """

    from migsys.sweeps.engine import StudyConflict, StudyCorrupt, StudyStoreError, run_study
    from migsys.sweeps.evaluators import Slurm, evaluator_for
    from migsys.sweeps.models import ModelContext
    from migsys.sweeps.spec import SpecError, SpecLimits, load_spec
    from migsys.sweeps.store import StudyLocked

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
        evaluator = evaluator_for(workers, scheduler, slurm_evaluator, in_process)
        settings = _settings()
        paths = settings.paths
        # --max-scenarios wins over MIGSYS_MAX_SCENARIOS
        limit = settings.max_scenarios if max_scenarios is None else max_scenarios
        spec = load_spec(spec_path, limits=SpecLimits.for_max_scenarios(limit))
        result = run_study(
            spec,
            paths.sweeps,
            evaluator=evaluator,
            progress=progress,
            context=ModelContext(warehouse=paths.warehouse),
        )
    except (SpecError, StudyConflict, StudyCorrupt, StudyLocked, StudyStoreError) as error:
        message = str(error)
        _fail(ValueError(message if str(spec_path) in message else f"{spec_path}: {message}"))
    except (ValueError, OSError) as error:
        _fail(error)
    for reason in result.set_aside:
        _warn(f"quarantined {reason}")
    repaired = f", {result.chunks_repaired} repaired" if result.chunks_repaired else ""
    _console.print(
        f"{result.name}: {result.chunks_run} of {result.chunks_total} chunks run{repaired} "
        f"({result.scenarios_run:,} scenarios in {result.seconds:.1f} s) -> {result.directory}"
    )


@app.command("status")
def status(study: StudyArgument) -> None:
    """State of a study, with every part verified against the manifest.

    Each part's sha256, row count and scenario range are checked against chunks.jsonl.
    Exit codes: 0 finished and verified (or running), 1 no such study, 3 corrupt (missing or
    changed parts, stray files, a manifest that does not add up: `migsys sweep run SPEC`
    repairs it), 4 interrupted (unfinished, nothing corrupt).

    Example:

        migsys sweep status ishigami-sobol
    """
    from migsys.sweeps.engine import study_status
    from migsys.sweeps.spec import SpecError

    try:
        name = _study_name(study)
        state = study_status(_paths().sweeps, name)
    except (SpecError, ValueError, OSError) as error:
        _fail(error)
    table = Table(title=f"study {name}", show_header=False)
    for label, value in (
        ("state", state.state),
        ("scenarios", f"{state.scenarios_done:,} / {state.n_scenarios:,}"),
        ("chunks done", str(state.chunks_done)),
        ("started", state.started_at or "-"),
        ("finished", state.finished_at or "-"),
        ("run time (s)", "-" if state.seconds is None else f"{state.seconds:.1f}"),
        ("writer", state.lock_holder or "-"),
        ("folder", str(state.directory)),
    ):
        table.add_row(Text(label), Text(value))
    _console.print(table)
    if state.state == "missing":
        raise typer.Exit(code=EXIT_MISSING)
    check = state.check
    if state.state == "running":
        return  # a run is writing it: parts may be landing while we look
    if state.state == "corrupt" or (check is not None and not check.ok):
        _errors.print(Text.assemble(("corrupt: ", "bold red"), check.describe()))
        _errors.print(f"`migsys sweep run <spec of {name}>` re-runs exactly what is bad.")
        raise typer.Exit(code=EXIT_CORRUPT)
    if state.state == "interrupted":
        _errors.print(check.describe() if check is not None else "unfinished")
        raise typer.Exit(code=EXIT_INCOMPLETE)


@app.command("analyze")
def analyze(
    study: StudyArgument,
    second_order: Annotated[bool, typer.Option(help="Also second-order Sobol indices.")] = False,
    plots: Annotated[
        bool,
        typer.Option(
            help="Also draw envelope, Sobol and PRIM trade-off figures (PNG) into the "
            "study's plots folder."
        ),
    ] = False,
) -> None:
    """Sensitivity indices, quantile bands and PRIM boxes of a finished study.

    The study's results must verify (see `migsys sweep status`). Tables are written to the
    study's analysis folder and printed here.

    Example:

        migsys sweep analyze ishigami-sobol --plots
    """
    from migsys.sweeps.analysis import analyze_study
    from migsys.sweeps.spec import SpecError

    try:
        spec = _spec_for(study)
        paths = _paths()
        root = paths.sweeps
        result = analyze_study(root, spec, second_order=second_order or None)
        figures = []
        if plots:
            from migsys.sweeps.plots import write_plots

            figures = write_plots(root, spec.name, result, paths.warehouse)
    except (SpecError, ValueError, OSError) as error:
        _fail(error)
    _console.print(f"sensitivity of {spec.name}")
    _console.print(sensitivity_text(result.sensitivity, _console.width), end="")
    if len(result.prim_boxes):
        _console.print(result.prim_boxes.drop(columns=["study"]).to_string(index=False))
    for path in figures:
        _console.print(f"wrote {path}")
    for warning in result.warnings:
        _warn(warning)


@app.command("export")
def export(
    study: StudyArgument,
    format: Annotated[str, typer.Option("--format", help="Output format (iamc).")] = "iamc",
    output: Annotated[
        Path | None,
        typer.Option(help="CSV path (default: the study's export/iamc.csv)."),
    ] = None,
    all_scenarios: Annotated[
        bool, typer.Option(help="Every scenario, not only the quantile bands.")
    ] = False,
) -> None:
    """Write the study's yearly series in the IAMC long format (pyam reads it).

    Example:

        migsys sweep export remittances-nightly --output bands.csv
    """
    from migsys.sweeps.export import export_iamc
    from migsys.sweeps.spec import SpecError

    if format != "iamc":
        _fail(ValueError(f"--format {format!r}: only 'iamc' is supported"))
    try:
        name = _study_name(study)
        root = _paths().sweeps
        target = output or root / name / "export" / (
            "iamc_all.csv" if all_scenarios else "iamc.csv"
        )
        path = export_iamc(root, name, target, all_scenarios=all_scenarios)
    except (SpecError, ValueError, OSError) as error:
        _fail(error)
    _console.print(f"wrote {path}")


def sensitivity_text(sensitivity, width: int) -> str:
    """The indices as a table that fits ``width`` and never cuts a name or a number."""
    import pyarrow as pa

    from migsys.warehouse.sql_output import box_text

    rows: dict[str, list] = {
        name: [] for name in ("outcome", "method", "index", "parameter", "value", "conf ±")
    }
    for row in sensitivity.itertuples():
        pair = row.parameter_2 is not None and row.parameter_2 == row.parameter_2
        rows["outcome"].append(str(row.outcome))
        rows["method"].append(str(row.method))
        rows["index"].append(str(row.index))
        rows["parameter"].append(f"{row.parameter} x {row.parameter_2}" if pair else row.parameter)
        rows["value"].append(float(f"{row.value:.4g}"))
        conf = row.conf
        rows["conf ±"].append(None if conf is None or conf != conf else float(f"{conf:.3g}"))
    return box_text(pa.table(rows), width=width, max_rows=None)
