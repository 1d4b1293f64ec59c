"""Analysis of a finished study: sensitivity indices, quantile bands, scenario discovery.

Reads only the columns it needs from the Parquet parts (one outcome, or one series year, at a
time), so memory is a few vectors of ``n_scenarios`` doubles whatever the study size.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze

from migsys.sweeps import design, prim, store
from migsys.sweeps.models import series_column
from migsys.sweeps.spec import SpecError, StudySpec

PRIM_MAX_SCENARIOS = 200_000  # PRIM on a seeded subsample: boxes are stable well before this

SENSITIVITY_COLUMNS = [
    "study",
    "outcome",
    "method",
    "index",
    "parameter",
    "parameter_2",
    "value",
    "conf",
]
QUANTILE_COLUMNS = ["study", "series", "year", "quantile", "value"]
PRIM_COLUMNS = [
    "study",
    "outcome",
    "rule",
    "box",
    "parameter",
    "low",
    "high",
    "coverage",
    "density",
    "mass",
    "n_scenarios",
]


PRIM_TRAJECTORY_COLUMNS = [
    "study",
    "outcome",
    "rule",
    "box",
    "step",
    "phase",
    "coverage",
    "density",
    "mass",
    "n_restricted",
    "chosen",
]


@dataclass
class Analysis:
    """Results of ``analyze_study``; also written to ``<study>/analysis/``.

    ``prim_trajectories`` holds every box along each PRIM peeling/pasting trajectory (the
    coverage-density trade-off); it stays in ``analysis/`` (the warehouse gets the chosen boxes).
    """

    study: str
    sensitivity: pd.DataFrame
    series_quantiles: pd.DataFrame
    prim_boxes: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    prim_trajectories: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=PRIM_TRAJECTORY_COLUMNS)
    )


def read_column(
    study: store.StudyDir, column: str, n_scenarios: int, parts: list[Path] | None = None
) -> np.ndarray:
    """One column of the study's parts (the verified ``parts`` when given), in scenario
    order, checked complete."""
    files = parts if parts is not None else sorted(study.parts.glob(f"*/{store.PART_NAME}"))
    dataset = ds.dataset([str(path) for path in files], format="parquet")
    if column not in dataset.schema.names:
        raise SpecError(f"{study.path}: results have no column {column!r}")
    table = dataset.to_table(columns=["scenario_id", column])
    ids = table.column("scenario_id").to_numpy()
    values = table.column(column).to_numpy()
    order = np.argsort(ids, kind="stable")
    ids, values = ids[order], values[order]
    if len(ids) != n_scenarios or (len(ids) and (ids[0] != 0 or ids[-1] != n_scenarios - 1)):
        raise SpecError(
            f"{study.path}: results hold {len(ids)} of {n_scenarios} scenarios; "
            "finish the study with `migsys sweep run` first"
        )
    return np.ascontiguousarray(values, dtype=np.float64)


def _power_of_two_at_least(value: float) -> int:
    return 2 ** max(1, math.ceil(math.log2(max(value, 2.0))))


def sobol_rows(
    name: str, outcome: str, problem: dict, y: np.ndarray, spec: StudySpec, second_order: bool
) -> tuple[list[dict], list[str]]:
    """First-order and total indices (and second order) with bootstrap intervals, plus warnings."""
    result = sobol_analyze.analyze(
        problem,
        y,
        calc_second_order=second_order,
        num_resamples=spec.analysis.bootstrap,
        conf_level=spec.analysis.conf_level,
        seed=spec.seed,
    )
    rows, warnings = [], []
    n = spec.design.n
    for index in ("S1", "ST"):
        for j, parameter in enumerate(problem["names"]):
            value, conf = float(result[index][j]), float(result[f"{index}_conf"][j])
            rows.append(_row(name, outcome, "sobol", index, parameter, None, value, conf))
            warnings.extend(_interval_warnings(outcome, index, parameter, value, conf, n, spec))
    if second_order:
        names = problem["names"]
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                value, conf = float(result["S2"][i, j]), float(result["S2_conf"][i, j])
                rows.append(_row(name, outcome, "sobol", "S2", names[i], names[j], value, conf))
    return rows, warnings


def _interval_warnings(
    outcome: str, index: str, parameter: str, value: float, conf: float, n: int, spec: StudySpec
) -> list[str]:
    """Intervals wider than ``analysis.max_conf`` or indices negative beyond noise."""
    limit = spec.analysis.max_conf
    warnings = []
    if conf > limit:
        needed = _power_of_two_at_least(n * (conf / limit) ** 2)
        warnings.append(
            f"{outcome}: {index}[{parameter}] = {value:.3f} ± {conf:.3f} is wider than ± {limit}; "
            f"design.n = {needed} (now {n}) would narrow it to about ± {limit}"
        )
    if value + conf < 0:
        warnings.append(
            f"{outcome}: {index}[{parameter}] = {value:.3f} ± {conf:.3f} is negative beyond noise; "
            f"the sample is too small for this outcome: try design.n = {_power_of_two_at_least(4 * n)}"
        )
    return warnings


def morris_rows(
    name: str, outcome: str, problem: dict, y: np.ndarray, spec: StudySpec
) -> tuple[list[dict], list[str]]:
    """mu, mu* (with its bootstrap interval) and sigma of the elementary effects (unit scale)."""
    x = design.unit_rows(spec, 0, spec.n_scenarios)
    result = morris_analyze.analyze(
        problem,
        x,
        y,
        num_resamples=spec.analysis.bootstrap,
        conf_level=spec.analysis.conf_level,
        num_levels=spec.design.levels or 4,
        seed=spec.seed,
    )
    rows, warnings = [], []
    scale = max(float(np.max(result["mu_star"])), 1e-300)
    r = spec.design.n
    for j, parameter in enumerate(problem["names"]):
        mu_star, conf = float(result["mu_star"][j]), float(result["mu_star_conf"][j])
        rows.append(_row(name, outcome, "morris", "mu_star", parameter, None, mu_star, conf))
        rows.append(
            _row(name, outcome, "morris", "mu", parameter, None, float(result["mu"][j]), None)
        )
        rows.append(
            _row(name, outcome, "morris", "sigma", parameter, None, float(result["sigma"][j]), None)
        )
        relative = conf / scale
        if relative > spec.analysis.max_conf:
            needed = math.ceil(r * (relative / spec.analysis.max_conf) ** 2)
            warnings.append(
                f"{outcome}: mu*[{parameter}] = {mu_star:.4g} ± {conf:.4g} is wider than "
                f"{spec.analysis.max_conf:.0%} of the largest mu*; design.n = {needed} trajectories "
                f"(now {r}) would narrow it"
            )
    return rows, warnings


def rbd_fast_rows(
    name: str, outcome: str, problem: dict, x: np.ndarray, y: np.ndarray, spec: StudySpec
) -> tuple[list[dict], list[str]]:
    """First-order indices by RBD-FAST, which works on any sample (LHS and grid designs)."""
    from SALib.analyze import rbd_fast

    result = rbd_fast.analyze(
        problem,
        x,
        y,
        num_resamples=spec.analysis.bootstrap,
        conf_level=spec.analysis.conf_level,
        seed=spec.seed,
    )
    rows, warnings = [], []
    n = spec.n_scenarios
    for j, parameter in enumerate(problem["names"]):
        value, conf = float(result["S1"][j]), float(result["S1_conf"][j])
        rows.append(_row(name, outcome, "rbd_fast", "S1", parameter, None, value, conf))
        if conf > spec.analysis.max_conf:
            needed = math.ceil(n * (conf / spec.analysis.max_conf) ** 2)
            warnings.append(
                f"{outcome}: S1[{parameter}] = {value:.3f} ± {conf:.3f} is wider than "
                f"± {spec.analysis.max_conf}; about {needed:,} scenarios (now {n:,}) would narrow it"
            )
    return rows, warnings


def _row(study, outcome, method, index, parameter, parameter_2, value, conf) -> dict:
    return {
        "study": study,
        "outcome": outcome,
        "method": method,
        "index": index,
        "parameter": parameter,
        "parameter_2": parameter_2,
        "value": value,
        "conf": conf,
    }


def series_quantile_rows(
    study: store.StudyDir,
    name: str,
    record: dict,
    quantiles: tuple[float, ...],
    parts: list[Path] | None = None,
) -> list[dict]:
    """Quantile bands of every kept yearly series, one year column at a time."""
    rows = []
    for output in record["outputs"]:
        if output["kind"] != "series":
            continue
        for year in output["years"]:
            values = read_column(
                study, series_column(output["name"], year), record["n_scenarios"], parts
            )
            for q, value in zip(quantiles, np.quantile(values, quantiles), strict=True):
                rows.append(
                    {
                        "study": name,
                        "series": output["name"],
                        "year": int(year),
                        "quantile": float(q),
                        "value": float(value),
                    }
                )
    return rows


def prim_rows(
    study: store.StudyDir, spec: StudySpec, record: dict, parts: list[Path] | None = None
) -> tuple[list[dict], list[dict]]:
    """PRIM boxes of each discovery rule, on a seeded subsample of at most PRIM_MAX_SCENARIOS,
    and the steps of their peeling/pasting trajectories."""
    if not spec.discovery:
        return [], []
    n = record["n_scenarios"]
    keep = None
    if n > PRIM_MAX_SCENARIOS:
        keep = np.sort(
            np.random.default_rng(spec.seed).choice(n, PRIM_MAX_SCENARIOS, replace=False)
        )
    names = spec.swept_names
    x = np.column_stack([read_column(study, p, n, parts) for p in names])
    x = x if keep is None else x[keep]
    rows, steps = [], []
    for rule in spec.discovery:
        y = read_column(study, rule.outcome, n, parts)
        y = y if keep is None else y[keep]
        interest = y > rule.above if rule.above is not None else y < rule.below
        label = (
            f"{rule.outcome} > {rule.above}"
            if rule.above is not None
            else f"{rule.outcome} < {rule.below}"
        )
        if not interest.any():
            continue
        boxes = prim.find_boxes(
            x, interest, min_coverage=rule.min_coverage, max_boxes=rule.max_boxes
        )
        for number, box in enumerate(boxes, start=1):
            steps.extend(
                {
                    "study": spec.name,
                    "outcome": rule.outcome,
                    "rule": label,
                    "box": number,
                    "step": step.step,
                    "phase": step.phase,
                    "coverage": step.coverage,
                    "density": step.density,
                    "mass": step.mass,
                    "n_restricted": step.n_restricted,
                    "chosen": step.chosen,
                }
                for step in box.trajectory
            )
            restricted = list(box.restricted)
            for j in restricted or [None]:
                rows.append(
                    {
                        "study": spec.name,
                        "outcome": rule.outcome,
                        "rule": label,
                        "box": number,
                        "parameter": None if j is None else names[j],
                        "low": None if j is None else float(box.low[j]),
                        "high": None if j is None else float(box.high[j]),
                        "coverage": box.coverage,
                        "density": box.density,
                        "mass": box.mass,
                        "n_scenarios": box.n_scenarios,
                    }
                )
    return rows, steps


_IDENTITY_FREE = ("analysis", "discovery", "description", "chunk_size")


def _without_settings(spec_json: str | dict) -> dict:
    data = json.loads(spec_json) if isinstance(spec_json, str) else dict(spec_json)
    return {k: v for k, v in data.items() if k not in _IDENTITY_FREE}


def verified_study(root: Path, name: str) -> store.StudyCheck:
    """The verification of a finished study; a clear error when it was never run or does not
    verify (``migsys sweep run`` repairs it)."""
    study = store.study_dir(root, name)
    if not study.study_file.exists():
        raise SpecError(
            f"study {name}: no results under {study.path} (run `migsys sweep run` first)"
        )
    check = store.verify_study(study.path)
    if not check.loadable:
        raise StudyNotVerified(
            f"study {name}: results do not verify, refusing to analyse them; "
            f"`migsys sweep run` on its spec re-runs what is missing or changed:\n{check.describe()}"
        )
    return check


class StudyNotVerified(SpecError):
    """A study's results are unfinished, missing parts, or changed since they were written."""


def stored_spec(check: store.StudyCheck, given: StudySpec | None = None) -> StudySpec:
    """The spec the results were run with (calibration resolved), with the analysis and
    discovery settings of ``given`` if any; refuses a ``given`` spec the results do not match."""
    record = check.record
    if "spec_json" not in record:
        raise SpecError(
            f"study {check.name}: study.json has no spec_json (written by an older migsys)"
        )
    stored = StudySpec.model_validate_json(record["spec_json"])
    if given is None:
        return stored
    mine = _without_settings(given.model_dump_json(by_alias=True, exclude_none=True))
    ran = {_json_key(_without_settings(record["spec_json"]))}
    if "source_spec_json" in record:
        ran.add(_json_key(_without_settings(record["source_spec_json"])))
    if _json_key(mine) not in ran:
        raise SpecError(
            f"study {given.name}: the spec differs from the one its results were run with "
            "(only analysis, discovery, description and chunk_size may change); run it again"
        )
    return stored.model_copy(update={"analysis": given.analysis, "discovery": given.discovery})


def _json_key(data: dict) -> str:
    return json.dumps(data, sort_keys=True)


def analyze_study(
    root: Path, spec: StudySpec, *, second_order: bool | None = None, write: bool = True
) -> Analysis:
    """Analyse the finished study ``root / spec.name`` and (by default) write ``analysis/``.

    Refuses a study that does not verify (:func:`sweeps.store.verify_study`) and a spec that
    is not the one the results were run with.
    """
    check = verified_study(root, spec.name)
    spec = stored_spec(check, spec)
    record = check.record
    parts = check.part_files()
    study = store.StudyDir(Path(root) / spec.name)
    n = record["n_scenarios"]
    problem = design.unit_problem(spec)
    want_second = spec.design.second_order if second_order is None else second_order
    if want_second and not spec.design.second_order:
        raise SpecError(
            f"study {spec.name}: second-order indices need design.second_order = true in the spec "
            "(the design must contain the B_A matrices)"
        )
    rows: list[dict] = []
    warnings: list[str] = []
    scalars = [o["name"] for o in record["outputs"] if o["kind"] == "scalar"]
    x = None
    for outcome in scalars:
        y = read_column(study, outcome, n, parts)
        if not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise SpecError(f"study {spec.name}: outcome {outcome} is not finite in scenario {bad}")
        if np.ptp(y) == 0:
            warnings.append(f"{outcome}: constant over all scenarios; no sensitivity indices")
            continue
        method = spec.design.method
        if method == "sobol":
            new_rows, new_warnings = sobol_rows(spec.name, outcome, problem, y, spec, want_second)
        elif method == "morris":
            new_rows, new_warnings = morris_rows(spec.name, outcome, problem, y, spec)
        else:
            if x is None:
                x = np.column_stack([read_column(study, p, n, parts) for p in spec.swept_names])
            new_rows, new_warnings = rbd_fast_rows(spec.name, outcome, problem, x, y, spec)
        rows.extend(new_rows)
        warnings.extend(new_warnings)
    boxes, trajectories = prim_rows(study, spec, record, parts)
    analysis = Analysis(
        study=spec.name,
        sensitivity=pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS),
        series_quantiles=pd.DataFrame(
            series_quantile_rows(study, spec.name, record, spec.analysis.quantiles, parts),
            columns=QUANTILE_COLUMNS,
        ),
        prim_boxes=pd.DataFrame(boxes, columns=PRIM_COLUMNS),
        warnings=warnings,
        prim_trajectories=pd.DataFrame(trajectories, columns=PRIM_TRAJECTORY_COLUMNS),
    )
    if write:
        write_analysis(study, analysis, record["fingerprint"])
    return analysis


ARROW_SCHEMAS = {
    "sensitivity": pa.schema(
        [
            ("study", pa.string()),
            ("outcome", pa.string()),
            ("method", pa.string()),
            ("index", pa.string()),
            ("parameter", pa.string()),
            ("parameter_2", pa.string()),
            ("value", pa.float64()),
            ("conf", pa.float64()),
        ]
    ),
    "series_quantiles": pa.schema(
        [
            ("study", pa.string()),
            ("series", pa.string()),
            ("year", pa.int32()),
            ("quantile", pa.float64()),
            ("value", pa.float64()),
        ]
    ),
    "prim_boxes": pa.schema(
        [
            ("study", pa.string()),
            ("outcome", pa.string()),
            ("rule", pa.string()),
            ("box", pa.int32()),
            ("parameter", pa.string()),
            ("low", pa.float64()),
            ("high", pa.float64()),
            ("coverage", pa.float64()),
            ("density", pa.float64()),
            ("mass", pa.float64()),
            ("n_scenarios", pa.int64()),
        ]
    ),
    "prim_trajectories": pa.schema(
        [
            ("study", pa.string()),
            ("outcome", pa.string()),
            ("rule", pa.string()),
            ("box", pa.int32()),
            ("step", pa.int32()),
            ("phase", pa.string()),
            ("coverage", pa.float64()),
            ("density", pa.float64()),
            ("mass", pa.float64()),
            ("n_restricted", pa.int32()),
            ("chosen", pa.bool_()),
        ]
    ),
}


def write_analysis(study: store.StudyDir, analysis: Analysis, fingerprint: str) -> None:
    """Write the analysis tables and the warnings under ``analysis/`` (each file atomically)."""
    for name, schema in ARROW_SCHEMAS.items():
        frame = getattr(analysis, name)
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        store.atomic_write_parquet(study.analysis / f"{name}.parquet", table)
    store.atomic_write_json(
        study.analysis / "analysis.json",
        {"fingerprint": fingerprint, "warnings": analysis.warnings},
    )


def read_analysis_meta(study: store.StudyDir) -> dict | None:
    path = study.analysis / "analysis.json"
    return json.loads(path.read_text()) if path.exists() else None
