"""The study engine: cut the design into chunks, fan them out with Dask, stream results to Parquet.

Memory stays bounded: the client holds at most a window of chunk futures (each result is a few
numbers, the data goes straight to disk from the worker), workers hold one chunk at a time, and
Sobol designs are generated per chunk. Results do not depend on chunk size, worker count or
interruptions: scenario ``i`` always gets the same parameters, every kernel evaluates each
scenario independently, and a re-run only fills the missing scenario ranges.
"""

from __future__ import annotations

import dataclasses
import os
import random
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from migsys.fingerprint import fingerprint
from migsys.sweeps import design, registry, store
from migsys.sweeps.calibration import Calibrated, calibrated
from migsys.sweeps.evaluators import Evaluator, InProcess, Runner, evaluator_for
from migsys.sweeps.models import (
    KernelModel,
    ModelContext,
    build_model,
    kept_outputs,
    series_column,
)
from migsys.sweeps.registry import Kernel
from migsys.sweeps.spec import (
    SpecError,
    StudySpec,
    UnusableCalibration,
    kernel_problems,
    spec_to_dict,
)
from migsys.sweeps.store import StudyLocked

__all__ = ["StudyConflict", "StudyCorrupt", "StudyLocked", "run_study", "prepare_study"]


class StudyConflict(RuntimeError):
    """A study directory holds results of another spec, calibration, kernel code or data."""


class StudyCorrupt(RuntimeError):
    """A study's results do not verify (see ``migsys sweep status``)."""


class StudyStoreError(RuntimeError):
    """The study folder cannot be written (e.g. a read-only MIGSYS_HOME)."""


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to run one chunk (small: no scenario data travels)."""

    study_dir: str
    spec: StudySpec
    model: KernelModel
    fixed: tuple[tuple[str, float], ...]
    start: int
    stop: int
    fingerprint: str = ""  # the study's, written into the part's metadata


@dataclass(frozen=True)
class ChunkDone:
    start: int
    stop: int
    seconds: float  # wall time in the worker
    cpu_seconds: float  # CPU time of the worker process (a busy machine inflates wall time only)
    worker: str
    rows: int = 0
    sha256: str = ""  # of the part file as written


@dataclass(frozen=True)
class StudyRun:
    """What one ``run_study`` call did."""

    name: str
    directory: Path
    fingerprint: str
    n_scenarios: int
    chunks_total: int
    chunks_run: int
    scenarios_run: int
    seconds: float
    chunks_repaired: int = 0  # chunks re-run because their parts were missing or changed
    # What was moved to quarantine/ before running, and why (one line each, for the operator).
    set_aside: tuple[str, ...] = ()

    @property
    def scenarios_per_second(self) -> float:
        return self.scenarios_run / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True)
class StudyStatus:
    name: str
    directory: Path
    state: str  # missing | running | corrupt | interrupted | finished
    n_scenarios: int
    scenarios_done: int
    chunks_done: int
    started_at: str | None
    finished_at: str | None
    seconds: float | None
    check: store.StudyCheck | None = None
    lock_holder: str | None = None


def study_code(kernel: Kernel) -> str:
    """Label of the code that computes a study's numbers, e.g. ``remittances-3fa2c91b07de``: the
    kernel's name and the fingerprint of its ``evaluate`` and of the design code (the modules
    they import, transitively; docstrings and comments aside)."""
    return f"{kernel.name}-{fingerprint(code=[kernel.evaluate, design])[:12]}"


def _spec_payload(spec: StudySpec) -> dict:
    payload = spec_to_dict(spec)
    for key in ("chunk_size", "description", "analysis", "discovery"):
        payload.pop(key, None)
    for parameter in payload.get("parameters", {}).values():
        parameter.pop("unit", None)
    return payload


def study_identity(
    spec: StudySpec,
    fixed: dict[str, float],
    code: str,
    data_fingerprint: str,
    source_spec: StudySpec | None = None,
) -> dict:
    """What decides a study's numbers, as plain data.

    The spec as written (``source_spec``, default ``spec``) less chunking, description, units,
    analysis and discovery; the concrete distributions of the parameters swept around the
    calibration (from the resolved ``spec``); the order of the swept parameters (the design's
    column order); the values of every fixed parameter (spec values, calibrated values and table
    defaults); the code of the kernel and the design (:func:`study_code`); and the fingerprint
    of the kernel's input data. A docstring edit keeps the identity, an edit of the kernel's code
    or a new calibration (another fixed value or centre) changes it.
    """
    source = source_spec or spec
    resolved = _spec_payload(spec)["parameters"]
    centred = {
        name: resolved[name]
        for name, parameter in source.parameters.items()
        if parameter.from_calibration and parameter.is_swept
    }
    return {
        "spec": _spec_payload(source),
        "calibrated_spreads": centred,
        "swept": list(spec.swept_names),
        "fixed": {name: float(value) for name, value in sorted(fixed.items())},
        "code": code,
        "data": data_fingerprint,
    }


def study_fingerprint(
    spec: StudySpec,
    fixed: dict[str, float],
    code: str,
    data_fingerprint: str,
    source_spec: StudySpec | None = None,
) -> str:
    """Identity of a study's results (see :func:`study_identity`), 24 hex digits."""
    return fingerprint(inputs=[study_identity(spec, fixed, code, data_fingerprint, source_spec)])


def identity_changes(previous: dict, prepared: PreparedStudy) -> list[str]:
    """What differs between a stored ``study.json`` and a prepared run, in words (e.g.
    ``calibration or fixed values (amount_base 4100 -> 4321)``); empty when nothing does."""
    before = previous.get("identity") or {}
    now = prepared.identity
    if not before:
        return ["results written by an older migsys (no identity recorded)"]
    changes = []
    if before.get("spec") != now["spec"] or before.get("swept") != now["swept"]:
        changes.append("spec")
    spreads_before, spreads_now = before.get("calibrated_spreads", {}), now["calibrated_spreads"]
    moved_spreads = sorted(
        name
        for name in set(spreads_before) | set(spreads_now)
        if spreads_before.get(name) != spreads_now.get(name)
    )
    if moved_spreads and "spec" not in changes:
        changes.append(f"spreads around the calibration ({', '.join(moved_spreads)})")
    old_fixed, new_fixed = before.get("fixed", {}), now["fixed"]
    moved = [
        f"{name} {old_fixed.get(name)} -> {new_fixed.get(name)}"
        for name in sorted(set(old_fixed) | set(new_fixed))
        if old_fixed.get(name) != new_fixed.get(name)
    ]
    if moved:
        shown = ", ".join(moved[:3]) + (f" and {len(moved) - 3} more" if len(moved) > 3 else "")
        changes.append(f"fixed or calibrated values ({shown})")
    if before.get("code") != now["code"]:
        was = before.get("code") or f"{before.get('kernel')}, design v{before.get('design')}"
        changes.append(f"kernel or design code ({was} -> {now['code']})")
    if before.get("data") != now["data"]:
        changes.append("input data")
    return changes


def fixed_parameter_values(
    spec: StudySpec, kernel: Kernel, fitted: Calibrated | None = None
) -> dict[str, float]:
    """Values of the parameters that do not vary: spec value, calibration (``fitted``), else the
    table's default (or the calibration's value when the spec says ``defaults = "calibration"``)."""
    fitted = fitted or Calibrated()
    fixed = {}
    for parameter in kernel.parameters:
        given = spec.parameters.get(parameter.name)
        if given is None and spec.defaults == "calibration":
            fixed[parameter.name] = fitted.values[parameter.name]
        elif given is None:
            fixed[parameter.name] = parameter.default
        elif given.is_swept:
            continue
        elif given.value is not None:
            fixed[parameter.name] = given.value
        else:
            fixed[parameter.name] = fitted.values[parameter.name]
    return fixed


def parameter_matrix(task: ChunkTask) -> tuple[np.ndarray, np.ndarray]:
    """(swept values [m, k], full kernel parameter matrix [m, n_params] in model order)."""
    swept = design.scenario_values(task.spec, task.start, task.stop)
    fixed = dict(task.fixed)
    swept_index = {name: j for j, name in enumerate(task.spec.swept_names)}
    # Filled column by column in place: no per-column temporaries (a chunk's arrays are large).
    params = np.empty((task.stop - task.start, len(task.model.parameters)), dtype=np.float64)
    for column, parameter in enumerate(task.model.parameters):
        if parameter.name in swept_index:
            params[:, column] = swept[:, swept_index[parameter.name]]
        else:
            params[:, column] = fixed[parameter.name]
    return swept, params


def chunk_table(task: ChunkTask, swept: np.ndarray, results: dict[str, np.ndarray]) -> pa.Table:
    """One chunk's rows: scenario_id, swept parameters, scalar outputs, one column per series year."""
    n = task.stop - task.start
    columns: dict[str, np.ndarray] = {
        "scenario_id": np.arange(task.start, task.stop, dtype=np.int64)
    }
    for j, name in enumerate(task.spec.swept_names):
        columns[name] = swept[:, j]
    for output in kept_outputs(task.spec, task.model):
        values = np.asarray(results[output.name], dtype=np.float64)
        if output.kind == "scalar":
            if values.shape != (n,):
                raise ValueError(
                    f"{task.model.name}.{output.name}: expected shape ({n},), got {values.shape}"
                )
            columns[output.name] = values
        else:
            years = task.model.output_years(output)
            if values.shape != (n, len(years)):
                raise ValueError(
                    f"{task.model.name}.{output.name}: expected shape ({n}, {len(years)}),"
                    f" got {values.shape}"
                )
            for t, year in enumerate(years):
                columns[series_column(output.name, year)] = values[:, t]
    # Required (non-nullable) columns: a part never holds a null, and Parquet then stores no
    # definition levels (measured: 0.13 us less per scenario to write a remittance chunk).
    arrays = [pa.array(values) for values in columns.values()]
    schema = pa.schema(
        [
            pa.field(name, array.type, nullable=False)
            for name, array in zip(columns, arrays, strict=True)
        ]
    )
    return pa.Table.from_arrays(arrays, schema=schema)


def evaluate_chunk(task: ChunkTask) -> pa.Table:
    """One chunk's rows, evaluated in batch (see :func:`chunk_table`)."""
    swept, params = parameter_matrix(task)
    return chunk_table(task, swept, task.model.evaluate(params))


def run_chunk(task: ChunkTask) -> ChunkDone:
    """Evaluate one chunk in batch and write its Parquet part atomically (idempotent)."""
    from migsys.kernels import set_threads

    # One worker process = one core, no oversubscription. Numba's setting is per thread, so it
    # is made here, in the thread that runs the chunk, wherever the worker was started.
    set_threads(1)
    began, began_cpu = time.perf_counter(), time.process_time()
    table = evaluate_chunk(task)
    study = store.StudyDir(Path(task.study_dir))
    # The manifest records the digest of what was written, so that `sweep status` can verify it.
    digest = store.write_part(
        study.part(task.start), table, fingerprint=task.fingerprint, chunk=(task.start, task.stop)
    )
    return ChunkDone(
        task.start,
        task.stop,
        time.perf_counter() - began,
        time.process_time() - began_cpu,
        socket.gethostname(),
        table.num_rows,
        digest,
    )


@dataclass(frozen=True)
class PreparedStudy:
    """A study resolved once, before anything fans out: its kernel, the inputs loaded, the
    calibration taken, the fixed values and the identity of its results.

    ``spec`` is the spec that runs (``from = "calibration"`` replaced by the fitted values or
    by distributions around them); ``source_spec`` the spec as written; ``model`` the kernel
    with its inputs (``model.kernel``); ``code`` the label of the kernel's and the design's code
    (:func:`study_code`); ``data`` the fingerprint of the inputs' content.
    """

    spec: StudySpec
    source_spec: StudySpec
    model: KernelModel
    calibration: Calibrated
    fixed: dict[str, float]
    code: str
    identity: dict
    fingerprint: str

    @property
    def kernel(self) -> Kernel:
        return self.model.kernel

    @property
    def data(self) -> str:
        return self.model.data_fingerprint


def resolve_spec(spec: StudySpec, kernel: Kernel, fitted: Calibrated) -> StudySpec:
    """``spec`` with its calibration resolved, checked against its kernel again."""
    if not fitted.values:
        return spec
    try:
        resolved = spec.resolved(fitted.values)
    except ValueError as error:
        message = str(error).splitlines()[-1].strip().removeprefix("Value error, ")
        raise UnusableCalibration(
            f"study {spec.name}: parameters from calibration: {message}"
        ) from None
    problems = kernel_problems(resolved, kernel)
    if problems:
        where, message = problems[0]
        raise UnusableCalibration(
            f"study {spec.name}: {where} around the calibrated value "
            f"{fitted.values.get(where.split('.')[-1])}: {message}"
        )
    return resolved


def prepare_study(spec: StudySpec, context: ModelContext | None = None) -> PreparedStudy:
    """Resolve a study once: look its kernel up, check the spec against it, load the inputs,
    take the calibration, fix the other values and compute the identity of its results."""
    context = context or ModelContext()
    kernel = registry.get(spec.kernel)
    problems = kernel_problems(spec, kernel)
    if problems:
        raise SpecError(
            f"study {spec.name}: " + "; ".join(f"{where}: {message}" for where, message in problems)
        )
    model = build_model(spec, kernel, context)
    fitted = calibrated(spec, kernel, context.warehouse)
    resolved = resolve_spec(spec, kernel, fitted)
    fixed = fixed_parameter_values(resolved, kernel, fitted)
    code = study_code(kernel)
    identity = study_identity(resolved, fixed, code, model.data_fingerprint, spec)
    return PreparedStudy(
        spec=resolved,
        source_spec=spec,
        model=model,
        calibration=fitted,
        fixed=fixed,
        code=code,
        identity=identity,
        fingerprint=fingerprint(inputs=[identity]),
    )


def check_conflict(prepared: PreparedStudy, directory: store.StudyDir) -> None:
    """Refuse a study folder whose results have another fingerprint: resuming would mix them."""
    if not directory.study_file.exists():
        return
    try:
        previous = store.read_json(directory.study_file)
    except ValueError as error:
        raise StudyCorrupt(f"{error}; move the folder {directory.path} away") from None
    if previous.get("fingerprint") != prepared.fingerprint:
        changed = ", ".join(identity_changes(previous, prepared)) or "identity"
        raise StudyConflict(
            f"{directory.path} holds results of another version of this study (changed: "
            f"{changed}; fingerprint {previous.get('fingerprint')} != {prepared.fingerprint}); "
            "its chunks cannot be mixed with new ones: remove that folder or rename the study"
        )


def _study_record(prepared: PreparedStudy, **timing: object) -> dict:
    spec = prepared.spec
    source = prepared.source_spec
    return {
        "name": spec.name,
        "kernel": spec.kernel,
        "design": spec.design.method,
        "fingerprint": prepared.fingerprint,
        "identity": prepared.identity,
        "code_version": prepared.code,
        "data_fingerprint": prepared.data,
        "n_scenarios": spec.n_scenarios,
        "chunk_size": spec.chunk_size,
        "spec": spec_to_dict(spec),
        # The spec verbatim: JSON objects written with sorted keys would lose the parameter order.
        # spec_json is what ran (calibration resolved); source_spec_json what the file said.
        "spec_json": spec.model_dump_json(by_alias=True, exclude_none=True),
        "source_spec_json": source.model_dump_json(by_alias=True, exclude_none=True),
        "calibrations": prepared.calibration.record(),
        "calibrated_parameters": prepared.calibration.values,
        "fixed_parameters": prepared.fixed,
        "swept_parameters": list(spec.swept_names),
        "outputs": [
            {
                "name": o.name,
                "kind": o.kind,
                "unit": o.unit,
                "variable": o.variable or o.name,
                "region": o.region,
                "description": o.description,
                "years": list(prepared.model.output_years(o)) if o.kind == "series" else [],
            }
            for o in kept_outputs(spec, prepared.model)
        ],
        "years": list(prepared.model.years),
        "parameter_units": {p.name: p.unit for p in prepared.model.parameters},
        **timing,
    }


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RepairPlan:
    """What a run does before computing: chunks kept, parts adopted, chunks to (re-)run."""

    kept: tuple[store.ChunkRecord, ...]
    adopted: tuple[store.ChunkRecord, ...]
    rerun: tuple[tuple[int, int], ...]  # exact ranges of chunks whose parts are missing/changed
    chunks: tuple[tuple[int, int], ...]  # everything to run: rerun + gaps cut by chunk_size
    set_aside: tuple[Path, ...]  # parts and strays to move to quarantine/

    @classmethod
    def fresh(cls, n_scenarios: int, chunk_size: int) -> RepairPlan:
        """A study with nothing on disk: every chunk runs."""
        return cls((), (), (), tuple(store.missing_ranges([], n_scenarios, chunk_size)), ())


# Scenarios of an unrecorded part recomputed before it is adopted: its first, its last and one
# drawn at random (a part whose every value was scaled, or a few rows edited, is caught).
SPOT_CHECKS = 3


def spot_check(prepared: PreparedStudy, directory: store.StudyDir, chunk: store.ChunkRecord) -> str:
    """Recompute a few scenarios of an unrecorded part with the kernel; '' when they match,
    else what differs. Cheap: a handful of kernel evaluations in this process."""
    part = pq.read_table(directory.part(chunk.start))
    fixed = tuple(sorted(prepared.fixed.items()))
    ids = sorted({chunk.start, chunk.stop - 1, random.Random().randrange(chunk.start, chunk.stop)})[
        :SPOT_CHECKS
    ]
    for scenario in ids:
        task = ChunkTask("", prepared.spec, prepared.model, fixed, scenario, scenario + 1)
        expected = evaluate_chunk(task)
        found = part.slice(scenario - chunk.start, 1)
        if found.column_names != expected.column_names:
            return f"its columns differ from the study's outputs ({found.column_names[:4]}...)"
        for name in expected.column_names:
            want, got = expected.column(name).to_numpy(), found.column(name).to_numpy()
            if not np.allclose(got, want, rtol=1e-9, atol=0.0, equal_nan=True):
                return (
                    f"scenario {scenario} recomputed with the kernel gives {name} = "
                    f"{want[0]:.6g}, the part holds {got[0]:.6g}"
                )
    return ""


def vet_unrecorded(
    prepared: PreparedStudy, directory: store.StudyDir, check: store.StudyCheck
) -> store.StudyCheck:
    """Intact parts the manifest lacks are adopted only if a recomputed sample matches; the
    others become problems (quarantined, their chunks run again)."""
    kept, problems = [], list(check.problems)
    for chunk in check.unrecorded:
        why = spot_check(prepared, directory, chunk)
        if why:
            problems.append(
                store.PartProblem(
                    directory.part(chunk.start),
                    f"not in the manifest and {why}",
                    chunk.start,
                    chunk.stop,
                    "quarantine",
                )
            )
        else:
            kept.append(chunk)
    return dataclasses.replace(check, unrecorded=tuple(kept), problems=tuple(problems))


def plan_repair(check: store.StudyCheck, chunk_size: int) -> RepairPlan:
    """From a verification: keep verified chunks, adopt intact unrecorded parts, re-run exactly
    the recorded chunks whose parts are missing or changed, fill the remaining gaps."""
    kept, adopted = check.verified, check.unrecorded
    verified_starts = {chunk.start for chunk in kept}
    taken = [(c.start, c.stop) for c in (*kept, *adopted)]
    rerun: list[tuple[int, int]] = []
    set_aside: list[Path] = []
    for problem in check.problems:
        if problem.repair == "rerun":
            assert problem.start is not None and problem.stop is not None
            if not any(problem.start < b and a < problem.stop for a, b in taken + rerun):
                rerun.append((problem.start, problem.stop))
            if problem.path.exists():
                set_aside.append(problem.path)
        elif (
            problem.repair == "quarantine"
            and problem.start not in verified_starts
            and problem.path.exists()
        ):
            set_aside.append(problem.path)
    gaps = store.missing_ranges(taken + rerun, check.n_scenarios, chunk_size)
    chunks = tuple(sorted(rerun + gaps))
    return RepairPlan(tuple(kept), tuple(adopted), tuple(sorted(rerun)), chunks, tuple(set_aside))


def _prepare_folder(directory: store.StudyDir) -> None:
    try:
        directory.path.mkdir(parents=True, exist_ok=True)
        probe = directory.path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise StudyStoreError(
            f"{directory.path}: cannot write study results ({error.strerror}); "
            "MIGSYS_HOME must be a writable folder"
        ) from None


def run_study(
    spec: StudySpec,
    root: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    slurm: bool = False,
    progress: bool = True,
    context: ModelContext | None = None,
    evaluator: Evaluator | None = None,
) -> StudyRun:
    """Run, finish or repair a study under ``root / spec.name``.

    Holds the study's lock throughout (a second run of the same study is refused with
    :class:`StudyLocked`), verifies what is on disk, re-runs exactly the chunks whose parts are
    missing or changed (moving bad files to ``quarantine/``), runs the missing ranges, and
    checks the finished study verifies.

    Chunks run on ``evaluator`` (``sweeps.evaluators``); without one, ``workers``,
    ``scheduler`` and ``slurm`` choose it as the CLI options do.
    """
    evaluator = evaluator or evaluator_for(workers, scheduler, slurm)
    prepared = prepare_study(spec, context)
    spec = prepared.spec
    directory = store.study_dir(root, spec.name)
    check_conflict(prepared, directory)
    _prepare_folder(directory)
    with store.study_lock(directory):
        check_conflict(prepared, directory)  # again, under the lock: another run just finished?
        store.remove_temporaries(directory)
        previous = store.read_json(directory.study_file) if directory.study_file.exists() else {}
        if previous:
            # Verified against the spec's own count: study.json's could have been edited.
            verified = store.verify_study(directory.path, spec.n_scenarios)
            check = vet_unrecorded(prepared, directory, verified)
            plan = plan_repair(check, spec.chunk_size)
        else:
            # No record of what is there: parts or a manifest without a study.json are set aside.
            check = None
            for leftover in (directory.parts, directory.manifest):
                if leftover.exists():
                    store.quarantine(directory, leftover)
            plan = RepairPlan.fresh(spec.n_scenarios, spec.chunk_size)
        for path in plan.set_aside:
            store.quarantine(directory, path)
        set_aside = tuple(
            problem.describe(directory.path)
            for problem in (check.problems if check is not None else ())
            if problem.path in plan.set_aside
        )
        if check is not None and (check.problems or check.notes or check.unrecorded):
            store.write_manifest(
                directory, sorted((*plan.kept, *plan.adopted), key=lambda r: r.start)
            )
        started_at = previous.get("started_at") or _now()
        elapsed_before = float(previous.get("run_seconds") or 0.0)
        chunks = list(plan.chunks)
        chunks_total = len(plan.kept) + len(plan.adopted) + len(chunks)
        began = time.perf_counter()
        if chunks or previous.get("state") != "finished":
            store.atomic_write_json(
                directory.study_file,
                _study_record(
                    prepared,
                    state="running",
                    pid=os.getpid(),
                    started_at=started_at,
                    finished_at=None,
                    run_seconds=elapsed_before,
                ),
            )
        if chunks:
            with evaluator.open() as runner:
                _fan_out(runner, prepared, directory, chunks, progress)
        seconds = time.perf_counter() - began
        after = store.verify_study(directory.path, spec.n_scenarios)
        if not after.complete or after.problems or after.unrecorded:
            raise StudyCorrupt(
                f"study {spec.name}: results do not verify after the run:\n{after.describe()}"
            )
        store.atomic_write_json(
            directory.study_file,
            _study_record(
                prepared,
                state="finished",
                pid=None,
                started_at=started_at,
                finished_at=previous.get("finished_at") if not chunks else _now(),
                run_seconds=elapsed_before + seconds,
                repaired_chunks=[list(r) for r in plan.rerun],
            ),
        )
    return StudyRun(
        name=spec.name,
        directory=directory.path,
        fingerprint=prepared.fingerprint,
        n_scenarios=spec.n_scenarios,
        chunks_total=chunks_total,
        chunks_run=len(chunks),
        scenarios_run=sum(stop - start for start, stop in chunks),
        seconds=seconds,
        chunks_repaired=len(plan.rerun),
        set_aside=set_aside,
    )


def _chunk_tasks(
    prepared: PreparedStudy, chunks: Iterable[tuple[int, int]], study_dir: str = ""
) -> Iterator[ChunkTask]:
    fixed = tuple(sorted(prepared.fixed.items()))
    for start, stop in chunks:
        yield ChunkTask(
            study_dir, prepared.spec, prepared.model, fixed, start, stop, prepared.fingerprint
        )


def _task_key(prepared: PreparedStudy) -> Callable[[ChunkTask], str]:
    prefix = f"sweep-{prepared.spec.name}-{prepared.fingerprint[:8]}"
    return lambda task: f"{prefix}-{task.start}"


def _fan_out(
    runner: Runner,
    prepared: PreparedStudy,
    directory: store.StudyDir,
    chunks: list[tuple[int, int]],
    progress: bool,
) -> None:
    """Run the chunks on ``runner``, record each finished one in the manifest."""
    from migsys.sweeps.progress import StudyProgress

    tasks = _chunk_tasks(prepared, chunks, str(directory.path))
    with StudyProgress(
        prepared.spec.name,
        total_chunks=len(chunks),
        total_scenarios=sum(b - a for a, b in chunks),
        dashboard=runner.dashboard,
        enabled=progress,
    ) as bar:
        for done in runner.map_unordered(run_chunk, tasks, _task_key(prepared)):
            record = store.ChunkRecord(
                done.start,
                done.stop,
                done.rows,
                done.sha256,
                prepared.fingerprint,
                round(done.seconds, 4),
                round(done.cpu_seconds, 4),
            )
            store.append_manifest(directory, record.as_dict())
            bar.advance(done.stop - done.start)


def run_in_memory(
    spec: StudySpec, context: ModelContext | None = None, evaluator: Evaluator | None = None
) -> pa.Table:
    """A study's results as one table (the columns of its parts, in scenario order), computed
    on ``evaluator`` (default: in this process) with nothing written: no study folder, no
    manifest, no lock. The same numbers as :func:`run_study` gives."""
    prepared = prepare_study(spec, context)
    spec = prepared.spec
    chunks = store.missing_ranges([], spec.n_scenarios, spec.chunk_size)
    with (evaluator or InProcess()).open() as runner:
        tables = list(
            runner.map_unordered(
                evaluate_chunk, _chunk_tasks(prepared, chunks), _task_key(prepared)
            )
        )
    return pa.concat_tables(sorted(tables, key=lambda t: t.column("scenario_id")[0].as_py()))


def study_status(root: Path, name: str) -> StudyStatus:
    """State of a study on disk, verified: missing, running (its lock is held), corrupt (parts
    missing or changed, a manifest that does not add up), interrupted or finished."""
    directory = store.study_dir(root, name)
    if not directory.study_file.exists():
        return StudyStatus(name, directory.path, "missing", 0, 0, 0, None, None, None)
    check = store.verify_study(directory.path)
    record = check.record
    holder = store.lock_holder(directory)
    if holder is not None:
        state = "running"
    elif not check.ok:
        state = "corrupt"
    elif check.loadable:
        state = "finished"
    else:
        state = "interrupted"
    return StudyStatus(
        name,
        directory.path,
        state,
        check.n_scenarios,
        check.scenarios_verified + sum(r.rows for r in check.unrecorded),
        len(check.verified) + len(check.unrecorded),
        record.get("started_at"),
        record.get("finished_at"),
        record.get("run_seconds"),
        check,
        holder,
    )


def load_study_spec(root: Path, name: str) -> StudySpec:
    """The spec a stored study ran with (calibration resolved), parameters in their order."""
    record = load_study_record(root, name)
    if "spec_json" not in record:
        raise SpecError(
            f"study {name}: study.json has no spec_json; give the study's TOML file instead"
        )
    return StudySpec.model_validate_json(record["spec_json"])


def load_study_record(root: Path, name: str) -> dict:
    """``study.json`` of a study, with a clear error when it was never run."""
    directory = store.study_dir(root, name)
    if not directory.study_file.exists():
        raise SpecError(
            f"study {name}: no results under {directory.path} (run `migsys sweep run` first)"
        )
    return store.read_json(directory.study_file)
