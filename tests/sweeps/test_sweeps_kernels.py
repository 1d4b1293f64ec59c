"""Kernel adapters on the real warehouse: engine results equal direct kernel calls; fallbacks."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pytest

from migsys.kernels.depopulation import project_depopulation
from migsys.kernels.remittances import project_remittances
from migsys.projections.store import (
    Calibration,
    FitStatistics,
    load_projection_tables,
    save_calibration,
)
from migsys.sweeps import registry
from migsys.sweeps.analysis import analyze_study
from migsys.sweeps.engine import ChunkTask, parameter_matrix, prepare_study, run_study
from migsys.sweeps.evaluators import InProcess
from migsys.sweeps.models import ModelContext, build_model
from migsys.sweeps.spec import MissingInputs, SpecError, parse_spec


def _remittance_spec(**study: object):
    base = {
        "name": "rem",
        "kernel": "remittances",
        "seed": 4,
        "chunk_size": 100,
        "years": [2005, 2020],
    }
    return parse_spec(
        {
            "study": base | study,
            "design": {"method": "sobol", "n": 64},
            "parameters": {
                "inflow_base": {"low": 150000.0, "high": 600000.0},
                "amount_base": {"low": 2500.0, "high": 8000.0},
                "us_wage_growth": {"low": 0.0, "high": 0.03},
                "return_rate_initial": {"value": 0.1},
            },
        }
    )


def _table(directory: Path):
    return (
        ds.dataset(directory / "parts", format="parquet", partitioning="hive")
        .to_table()
        .sort_by("scenario_id")
    )


def test_remittance_study_equals_direct_kernel_calls(published_home, sweeps_root: Path) -> None:
    context = ModelContext(warehouse=published_home.warehouse)
    spec = _remittance_spec()
    run = run_study(spec, sweeps_root, evaluator=InProcess(), progress=False, context=context)
    assert run.n_scenarios == 64 * 5
    table = _table(run.directory)
    prepared = prepare_study(spec, context)
    task = ChunkTask(
        "", spec, prepared.model, tuple(sorted(prepared.fixed.items())), 0, spec.n_scenarios
    )
    _, params = parameter_matrix(task)
    assert np.all(params[:, 3] == 0.1)  # the fixed value, not the default
    direct = project_remittances(params, prepared.model.inputs["remittance_inputs"], 2005, 2020)
    assert np.array_equal(
        table.column("remittances_usd__2020").to_numpy(), direct.remittances_usd[:, -1]
    )
    assert np.array_equal(table.column("peak_year").to_numpy(), direct.peak_year.astype(float))
    analysis = analyze_study(sweeps_root, spec)
    bands = analysis.series_quantiles
    usd = bands[bands["series"] == "remittances_usd"].pivot(
        index="year", columns="quantile", values="value"
    )
    assert list(usd.index) == list(range(2005, 2021))
    assert (np.diff(usd.to_numpy(), axis=1) >= 0).all()  # p05 <= p25 <= ... <= p95 every year
    sobol = analysis.sensitivity[analysis.sensitivity["outcome"] == "remittances_usd_horizon"]
    assert set(sobol["parameter"]) == {"inflow_base", "amount_base", "us_wage_growth"}
    # Remittances are proportional to amount_base: it must dominate the first-order indices.
    s1 = sobol[sobol["index"] == "S1"].set_index("parameter")["value"]
    assert s1.idxmax() == "amount_base"


def test_depopulation_runs_over_every_municipality(published_home, sweeps_root: Path) -> None:
    context = ModelContext(warehouse=published_home.warehouse)
    spec = parse_spec(
        {
            "study": {
                "name": "dep",
                "kernel": "depopulation",
                "seed": 2,
                "chunk_size": 3,
                "years": [2000, 2010],
            },
            "design": {"method": "lhs", "n": 6},
            "parameters": {"emigration_scale": {"low": 0.0, "high": 2.5}},
        }
    )
    run = run_study(spec, sweeps_root, evaluator=InProcess(), progress=False, context=context)
    prepared = prepare_study(spec, context)
    model = prepared.model
    assert model.inputs["units"].n_units == 2443
    assert model.data_fingerprint.startswith("municipalities2000")
    task = ChunkTask("", spec, model, tuple(sorted(prepared.fixed.items())), 0, 6)
    swept, params = parameter_matrix(task)
    direct = project_depopulation(params, model.inputs["units"], 2000, 2010)
    table = _table(run.directory)
    assert np.array_equal(
        table.column("depopulating_units").to_numpy(),
        direct.depopulating_units[:, -1].astype(float),
    )
    assert np.array_equal(
        table.column("national_population__2010").to_numpy(), direct.national_population[:, -1]
    )
    # More emigration, more depopulating municipalities.
    order = np.argsort(swept[:, 0])
    assert (
        table.column("depopulating_units").to_numpy()[order][-1]
        > table.column("depopulating_units").to_numpy()[order][0]
    )


def test_depopulation_falls_back_to_table_1_degrees(paper_only_home) -> None:
    spec = parse_spec(
        {
            "study": {"name": "deg", "kernel": "depopulation", "seed": 2},
            "design": {"method": "lhs", "n": 4},
            "parameters": {"tfr_target": {"low": 1.4, "high": 2.1}},
        }
    )
    model = build_model(spec, registry.get(spec.kernel), ModelContext(paper_only_home.warehouse))
    assert (
        model.data_fingerprint.startswith("table1_degrees") and model.inputs["units"].n_units == 6
    )


def test_kernel_without_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    spec = _remittance_spec()
    with pytest.raises(SpecError, match=r"kernel remittances: needs the published warehouse"):
        build_model(spec, registry.get(spec.kernel), ModelContext(tmp_path / "warehouse.duckdb"))


def _spec_from_calibration():
    return parse_spec(
        {
            "study": {"name": "cal", "kernel": "remittances", "seed": 1, "years": [2015, 2020]},
            "design": {"method": "lhs", "n": 4},
            "parameters": {
                "gdp_growth": {"low": 0.0, "high": 0.07},
                "amount_base": {"from": "calibration"},
            },
        }
    )


def test_from_calibration_takes_the_latest_calibration(published_home, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(published_home.warehouse, warehouse)
    with pytest.raises(
        MissingInputs, match=r"has no calibration of kernel 'remittances'|no main.calibrations"
    ):
        prepare_study(_spec_from_calibration(), ModelContext(warehouse))
    fit = FitStatistics("log remittances", 0.1, 0.05, 0.9, 20)
    for amount, stamp in ((4100.0, datetime(2026, 1, 1)), (4321.0, datetime(2026, 6, 1))):
        save_calibration(
            Calibration(
                "remittances",
                {"amount_base": amount},
                {"amount_base": 10.0},
                fit,
                (1995, 2015),
                2015,
                "test fit",
                created_at=stamp,
            ),
            tmp_path / "home",
        )
    with duckdb.connect(str(warehouse)) as con:
        load_projection_tables(con, tmp_path / "home")
    prepared = prepare_study(_spec_from_calibration(), ModelContext(warehouse))
    assert prepared.fixed["amount_base"] == 4321.0


def test_iamc_export_of_a_kernel_study(published_home, sweeps_root: Path) -> None:
    import pandas as pd

    from migsys.sweeps.export import IAMC_COLUMNS, export_iamc

    context = ModelContext(warehouse=published_home.warehouse)
    spec = parse_spec(
        {
            "study": {
                "name": "dep-iamc",
                "kernel": "depopulation",
                "seed": 2,
                "chunk_size": 2,
                "years": [2000, 2010],
                "outputs": ["national_population", "depopulating_units"],
            },
            "design": {"method": "lhs", "n": 4},
            "parameters": {"emigration_scale": {"low": 0.0, "high": 2.5}},
        }
    )
    run_study(spec, sweeps_root, evaluator=InProcess(), progress=False, context=context)
    bands = pd.read_csv(export_iamc(sweeps_root, "dep-iamc", sweeps_root / "bands.csv"))
    assert tuple(bands.columns) == IAMC_COLUMNS
    assert set(bands["scenario"]) == {f"dep-iamc|p{q}" for q in ("05", "25", "50", "75", "95")}
    assert set(bands["variable"]) == {"Population"} and set(bands["year"]) == {2000, 2005, 2010}
    every = pd.read_csv(
        export_iamc(sweeps_root, "dep-iamc", sweeps_root / "all.csv", all_scenarios=True)
    )
    assert len(every) == 4 * 3 and every["value"].gt(0).all()
    p50 = bands[bands["scenario"] == "dep-iamc|p50"].set_index("year")["value"]
    assert p50[2010] == pytest.approx(every[every["year"] == 2010]["value"].median())


def _kernel_study_files() -> list[Path]:
    from migsys.sweeps.spec import load_spec

    studies = Path(__file__).resolve().parents[2] / "studies"
    return [
        path
        for path in sorted(studies.glob("*.toml"))
        if path.name != "nightly.toml" and load_spec(path).kernel not in ("ishigami", "sobol_g")
    ]


@pytest.mark.parametrize("path", _kernel_study_files(), ids=lambda p: p.name)
def test_shipped_kernel_studies_fit_their_kernels(published_home, path: Path) -> None:
    from migsys.sweeps.spec import load_spec

    spec = load_spec(path)
    model = build_model(spec, registry.get(spec.kernel), ModelContext(published_home.warehouse))
    assert set(spec.parameters) <= {p.name for p in model.parameters}
