"""Analysis against analytic answers: Sobol indices of Ishigami and Sobol' G, Morris ranking, PRIM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from migsys.sweeps.analysis import analyze_study, read_column
from migsys.sweeps.engine import run_study
from migsys.sweeps.evaluators import InProcess
from migsys.sweeps.spec import SpecError, load_spec, parse_spec
from migsys.sweeps.store import StudyDir
from migsys.sweeps.testfunctions import ishigami_indices, sobol_g_indices

REPO_ROOT = Path(__file__).resolve().parents[2]


def _indices(analysis, index: str) -> tuple[np.ndarray, np.ndarray]:
    rows = analysis.sensitivity[analysis.sensitivity["index"] == index]
    return rows["value"].to_numpy(), rows["conf"].to_numpy()


def _assert_within_intervals(analysis, expected: dict[str, np.ndarray]) -> None:
    for index in ("S1", "ST"):
        value, conf = _indices(analysis, index)
        assert np.all(np.abs(value - expected[index]) <= conf), (
            index,
            value,
            expected[index],
            conf,
        )


def test_ishigami_sobol_indices_match_analytic_values(sweeps_root: Path) -> None:
    spec = load_spec(REPO_ROOT / "studies" / "ishigami_sobol.toml")
    run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    analysis = analyze_study(sweeps_root, spec)
    _assert_within_intervals(analysis, ishigami_indices())
    assert analysis.warnings == []
    # PRIM: y > 10 needs sin(x1) > 0 and sin(x2)^2 near 1: boxes must restrict x1 and be
    # several times denser in such scenarios than the whole space.
    y = read_column(StudyDir(sweeps_root / spec.name), "y", spec.n_scenarios)
    base_rate = float(np.mean(y > 10.0))
    boxes = analysis.prim_boxes
    assert "x1" in set(boxes["parameter"])
    assert (boxes["density"] > 3 * base_rate).all()
    assert boxes.groupby("box")["coverage"].first().sum() >= 0.5
    assert (sweeps_root / spec.name / "analysis" / "sensitivity.parquet").is_file()


def _sobol_g_spec(method: dict, name: str):
    parameters = {f"x{i}": {"low": 0.0, "high": 1.0} for i in range(1, 9)}
    study = {"name": name, "kernel": "sobol_g", "seed": 3, "chunk_size": 5000}
    return parse_spec({"study": study, "design": method, "parameters": parameters})


def test_sobol_g_sobol_indices_match_analytic_values(sweeps_root: Path) -> None:
    spec = _sobol_g_spec({"method": "sobol", "n": 8192}, "sobol-g-sobol")
    run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    analysis = analyze_study(sweeps_root, spec)
    _assert_within_intervals(analysis, sobol_g_indices())


def test_morris_ranks_influential_sobol_g_factors_first(sweeps_root: Path) -> None:
    spec = load_spec(REPO_ROOT / "studies" / "sobol_g_morris.toml")
    run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    analysis = analyze_study(sweeps_root, spec)
    mu_star = analysis.sensitivity[analysis.sensitivity["index"] == "mu_star"]
    ranked = list(mu_star.sort_values("value", ascending=False)["parameter"])
    assert ranked[:4] == ["x1", "x2", "x3", "x4"]
    assert set(ranked[4:]) == {"x5", "x6", "x7", "x8"}
    negligible = mu_star.set_index("parameter")["value"]
    assert negligible[["x5", "x6", "x7", "x8"]].max() < 0.05 * negligible["x1"]


def test_small_sample_warns_with_the_size_that_would_fix_it(sweeps_root: Path) -> None:
    spec = _sobol_g_spec({"method": "sobol", "n": 32}, "sobol-g-tiny")
    run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    analysis = analyze_study(sweeps_root, spec)
    assert any("design.n = " in w and "(now 32)" in w for w in analysis.warnings), analysis.warnings


def test_second_order_needs_the_design(sweeps_root: Path) -> None:
    spec = _sobol_g_spec({"method": "sobol", "n": 16}, "sobol-g-s2")
    run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    with pytest.raises(SpecError, match="second-order indices need design.second_order"):
        analyze_study(sweeps_root, spec, second_order=True)


def test_analysis_of_unfinished_study_is_refused(sweeps_root: Path) -> None:
    spec = _sobol_g_spec({"method": "lhs", "n": 300}, "sobol-g-lhs")
    with pytest.raises(SpecError, match="no results under"):
        analyze_study(sweeps_root, spec)
    run = run_study(
        spec.model_copy(update={"chunk_size": 100}),
        sweeps_root,
        evaluator=InProcess(),
        progress=False,
    )
    first_order = analyze_study(sweeps_root, spec).sensitivity.set_index("parameter")["value"]
    assert first_order.idxmax() == "x1"
    next(run.directory.glob("parts/chunk=000000000100")).joinpath("part.parquet").unlink()
    with pytest.raises(
        SpecError, match=r"results do not verify(.|\n)*200 of 300 scenarios"
    ) as error:
        analyze_study(sweeps_root, spec)
    assert "chunk=000000000100/part.parquet (scenarios 100..199): missing" in str(error.value)
