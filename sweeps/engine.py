"""The study engine: cut the design into chunks, fan them out with Dask, stream results to Parquet.

Memory stays bounded: the client holds at most a window of chunk futures (each result is a few
numbers, the data goes straight to disk from the worker), workers hold one chunk at a time, and
Sobol designs are generated per chunk. Results do not depend on chunk size, worker count or
interruptions: scenario ``i`` always gets the same parameters, every kernel evaluates each
scenario independently, and a re-run only fills the missing scenario ranges.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from migsys.sweeps import design, store
from migsys.sweeps.calibration import calibrated_values
from migsys.sweeps.evaluators import Evaluator, evaluator_for
from migsys.sweeps.models import (
    ModelContext,
    SweepModel,
    build_model,
    kept_outputs,
    output_years,
    series_column,
)
from migsys.sweeps.spec import SpecError, StudySpec, spec_to_dict
from migsys.warehouse.paths import PACKAGE_ROOT

_ANALYTIC_KERNELS = ("ishigami", "sobol_g")


class StudyConflict(RuntimeError):
    """A study directory holds results of a different spec or code version."""


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to run one chunk (small: no scenario data travels)."""

    study_dir: str
    spec: StudySpec
    model: SweepModel
    fixed: tuple[tuple[str, float], ...]
    start: int
    stop: int


@dataclass(frozen=True)
class ChunkDone:
    start: int
    stop: int
    seconds: float  # wall time in the worker
    cpu_seconds: float  # CPU time of the worker process (a busy machine inflates wall time only)
    worker: str


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

    @property
    def scenarios_per_second(self) -> float:
        return self.scenarios_run / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True)
class StudyStatus:
    name: str
    directory: Path
    state: str  # missing | running | interrupted | finished
    n_scenarios: int
    scenarios_done: int
    chunks_done: int
    started_at: str | None
    finished_at: str | None
    seconds: float | None


# Source files that decide a study's numbers (not export, analysis, CLI...): changing one of
# them invalidates the results of the studies that use it.
_ANALYTIC_SOURCES = (
    "sweeps/spec.py",
    "sweeps/design.py",
    "sweeps/models.py",
    "sweeps/testfunctions.py",
)
_KERNEL_SOURCES = (
    *_ANALYTIC_SOURCES,
    "sweeps/kernel_models.py",
    "kernels/*.py",
    "projections/inputs.py",
    "projections/remittances.py",
)


def code_version(kernel: str, root: Path = PACKAGE_ROOT) -> str:
    """Hash of the source files that determine a kernel's results.

    Analytic test functions depend on ``sweeps/`` only; the projection kernels also on
    ``kernels/`` and on the unit inputs built in ``projections/``.
    """
    patterns = _ANALYTIC_SOURCES if kernel in _ANALYTIC_KERNELS else _KERNEL_SOURCES
    digest = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def study_fingerprint(spec: StudySpec, code_version: str, data_fingerprint: str) -> str:
    """Identity of a study's results: what is evaluated, by which code, on which data.

    Chunk size, description, analysis and discovery settings are left out: they do not change
    the scenario results.
    """
    payload = spec_to_dict(spec)
    for key in ("chunk_size", "description", "analysis", "discovery"):
        payload.pop(key, None)
    # The order of the swept parameters is the column order of the design: part of the identity.
    text = json.dumps(
        {
            "spec": payload,
            "swept": list(spec.swept_names),
            "code": code_version,
            "data": data_fingerprint,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def model_data_fingerprint(model: SweepModel) -> str:
    return str(getattr(model, "data_fingerprint", "none"))


def fixed_parameter_values(
    spec: StudySpec, model: SweepModel, warehouse: Path | None
) -> dict[str, float]:
    """Values of the parameters that do not vary: spec value, calibration, else model default."""
    calibrated = calibrated_values(spec, warehouse)
    fixed = {}
    for parameter in model.parameters:
        given = spec.parameters.get(parameter.name)
        if given is None:
            fixed[parameter.name] = parameter.default
        elif given.value is not None:
            fixed[parameter.name] = given.value
        elif given.from_ == "calibration":
            fixed[parameter.name] = calibrated[parameter.name]
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
            years = output_years(task.model, output)
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


def run_chunk(task: ChunkTask) -> ChunkDone:
    """Evaluate one chunk in batch and write its Parquet part atomically (idempotent)."""
    import numba

    # One worker process = one core, no oversubscription. Numba's setting is per thread, so it
    # is made here, in the thread that runs the chunk, wherever the worker was started.
    numba.set_num_threads(1)
    began, began_cpu = time.perf_counter(), time.process_time()
    swept, params = parameter_matrix(task)
    results = task.model.evaluate(params)
    table = chunk_table(task, swept, results)
    study = store.StudyDir(Path(task.study_dir))
    store.write_part(study.part(task.start), table)
    return ChunkDone(
        task.start,
        task.stop,
        time.perf_counter() - began,
        time.process_time() - began_cpu,
        socket.gethostname(),
    )


@dataclass(frozen=True)
class PreparedStudy:
    """A spec resolved against its model: fixed values, fingerprint, chunks to run."""

    spec: StudySpec
    model: SweepModel
    directory: store.StudyDir
    fixed: dict[str, float]
    fingerprint: str
    code: str
    data: str


def prepare_study(
    spec: StudySpec, root: Path, context: ModelContext | None = None
) -> PreparedStudy:
    """Build the model, resolve fixed values and check the study dir belongs to this spec."""
    context = context or ModelContext()
    model = build_model(spec, context)
    fixed = fixed_parameter_values(spec, model, context.warehouse)
    code = code_version(spec.kernel)
    data = model_data_fingerprint(model)
    fingerprint = study_fingerprint(spec, code, data)
    directory = store.StudyDir(Path(root) / spec.name)
    if directory.study_file.exists():
        previous = store.read_json(directory.study_file)
        if previous.get("fingerprint") != fingerprint:
            raise StudyConflict(
                f"{directory.path} holds results of another spec, code or data version "
                f"(fingerprint {previous.get('fingerprint')} != {fingerprint}); "
                "remove that folder or rename the study"
            )
    return PreparedStudy(spec, model, directory, fixed, fingerprint, code, data)


def _study_record(prepared: PreparedStudy, **timing: object) -> dict:
    spec = prepared.spec
    return {
        "name": spec.name,
        "kernel": spec.kernel,
        "design": spec.design.method,
        "fingerprint": prepared.fingerprint,
        "code_version": prepared.code,
        "data_fingerprint": prepared.data,
        "n_scenarios": spec.n_scenarios,
        "chunk_size": spec.chunk_size,
        "spec": spec_to_dict(spec),
        # The spec verbatim: JSON objects written with sorted keys would lose the parameter order.
        "spec_json": spec.model_dump_json(by_alias=True, exclude_none=True),
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
                "years": list(output_years(prepared.model, o)) if o.kind == "series" else [],
            }
            for o in kept_outputs(spec, prepared.model)
        ],
        "years": list(prepared.model.years),
        "parameter_units": {
            p.name: (
                spec.parameters[p.name].unit
                if p.name in spec.parameters and spec.parameters[p.name].unit
                else p.unit
            )
            for p in prepared.model.parameters
        },
        **timing,
    }


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


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
    """Run (or finish) a study under ``root / spec.name``; only missing chunks are evaluated.

    Chunks run on ``evaluator`` (``sweeps.evaluators``); without one, ``workers``,
    ``scheduler`` and ``slurm`` choose it as the CLI options do.
    """
    evaluator = evaluator or evaluator_for(workers, scheduler, slurm)
    prepared = prepare_study(spec, root, context)
    directory = prepared.directory
    directory.path.mkdir(parents=True, exist_ok=True)
    store.remove_temporaries(directory)
    previous = store.read_json(directory.study_file) if directory.study_file.exists() else {}
    started_at = previous.get("started_at") or _now()
    elapsed_before = float(previous.get("run_seconds") or 0.0)
    chunks = store.missing_ranges(store.done_ranges(directory), spec.n_scenarios, spec.chunk_size)
    chunks_total = len(store.done_ranges(directory)) + len(chunks)
    began = time.perf_counter()
    if chunks:
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
        with evaluator.client() as client:
            _fan_out(client, prepared, chunks, progress)
    seconds = time.perf_counter() - began
    store.atomic_write_json(
        directory.study_file,
        _study_record(
            prepared,
            state="finished",
            pid=None,
            started_at=started_at,
            finished_at=previous.get("finished_at") if not chunks else _now(),
            run_seconds=elapsed_before + seconds,
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
    )


def _fan_out(
    client, prepared: PreparedStudy, chunks: list[tuple[int, int]], progress: bool
) -> None:
    """Submit chunks with a bounded window, record each finished one in the manifest."""
    from distributed import as_completed

    from migsys.sweeps.progress import StudyProgress

    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = max(4, 3 * n_workers)
    fixed = tuple(sorted(prepared.fixed.items()))
    key_prefix = f"sweep-{prepared.spec.name}-{prepared.fingerprint[:8]}"

    def submit(chunk: tuple[int, int]):
        task = ChunkTask(str(prepared.directory.path), prepared.spec, prepared.model, fixed, *chunk)
        return client.submit(run_chunk, task, key=f"{key_prefix}-{chunk[0]}", retries=2)

    queue = iter(chunks)
    running = as_completed([submit(chunk) for chunk in _take(queue, window)])
    with StudyProgress(
        prepared.spec.name,
        total_chunks=len(chunks),
        total_scenarios=sum(b - a for a, b in chunks),
        dashboard=getattr(client, "dashboard_link", None),
        enabled=progress,
    ) as bar:
        for future in running:
            done: ChunkDone = future.result()
            future.release()
            store.append_manifest(
                prepared.directory,
                {
                    "start": done.start,
                    "stop": done.stop,
                    "seconds": round(done.seconds, 4),
                    "cpu_seconds": round(done.cpu_seconds, 4),
                },
            )
            bar.advance(done.stop - done.start)
            for chunk in _take(queue, 1):
                running.add(submit(chunk))


def _take(iterator: Iterator, count: int) -> list:
    items = []
    for item in iterator:
        items.append(item)
        if len(items) == count:
            break
    return items


def study_status(root: Path, name: str) -> StudyStatus:
    """State of a study on disk: missing, running (its client is alive), interrupted or finished."""
    directory = store.StudyDir(Path(root) / name)
    if not directory.study_file.exists():
        return StudyStatus(name, directory.path, "missing", 0, 0, 0, None, None, None)
    record = store.read_json(directory.study_file)
    done = store.done_ranges(directory)
    scenarios_done = sum(stop - start for start, stop in done)
    n = int(record["n_scenarios"])
    if scenarios_done >= n and record.get("state") == "finished":
        state = "finished"
    elif record.get("pid") and _pid_alive(int(record["pid"])):
        state = "running"
    else:
        state = "interrupted"
    return StudyStatus(
        name,
        directory.path,
        state,
        n,
        scenarios_done,
        len(done),
        record.get("started_at"),
        record.get("finished_at"),
        record.get("run_seconds"),
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def load_study_spec(root: Path, name: str) -> StudySpec:
    """The spec a stored study was run with, parameters in their original order."""
    record = load_study_record(root, name)
    if "spec_json" not in record:
        raise SpecError(
            f"study {name}: study.json has no spec_json; give the study's TOML file instead"
        )
    return StudySpec.model_validate_json(record["spec_json"])


def load_study_record(root: Path, name: str) -> dict:
    """``study.json`` of a study, with a clear error when it was never run."""
    directory = store.StudyDir(Path(root) / name)
    if not directory.study_file.exists():
        raise SpecError(
            f"study {name}: no results under {directory.path} (run `migsys sweep run` first)"
        )
    return store.read_json(directory.study_file)
