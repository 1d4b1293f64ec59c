"""The kernel registry: one declaration per kernel, everything else derived from it.

A toy kernel defined here (``toy_kernel.py`` + ``toy_kernel.csv`` + one ``register`` call) runs
through ``migsys sweep run`` and ``migsys sweep analyze`` and lands in the warehouse; parameter
tables are the single source of names, bounds and units; the outputs of the built-in kernels are
pinned on fixed inputs so that an unintended change of numbers fails here (an intended one
re-runs the studies by itself: their fingerprint holds the kernel's code).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pytest
import yaml
from toy_kernel import TOY
from typer.testing import CliRunner

from migsys.cli.app import app
from migsys.kernels.defaults import (
    DEPOPULATION_PARAMETERS,
    REMITTANCE_PARAMETERS,
    parse_parameter_table,
)
from migsys.sweeps import registry
from migsys.sweeps.spec import SpecError, parse_spec
from migsys.sweeps.warehouse import load_sweeps

pytestmark = pytest.mark.filterwarnings("ignore:.*(Port|port).*:UserWarning")

REPO_ROOT = Path(__file__).resolve().parents[2]
PINS = Path(__file__).with_name("kernel_outputs.json")
HEADER = "name,default,low,high,valid_low,valid_high,unit,description,source\n"


@pytest.fixture()
def toy():
    with registry.registered(TOY):
        yield TOY


TOY_SPEC = """
[study]
name = "toy-study"
kernel = "toy_logistic"
seed = 3
chunk_size = 40
years = [2000, 2010]

[design]
method = "sobol"
n = 32

[parameters]
rate = { low = 0.02, high = 0.3, unit = "per year" }
capacity = { low = 50.0, high = 200.0 }
start = { value = 12.0 }

[[discovery]]
outcome = "stock_horizon"
above = 30.0
"""


def test_a_toy_kernel_runs_through_sweep_run_and_analyze(toy, tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("MIGSYS_HOME", str(home))
    spec = tmp_path / "toy.toml"
    spec.write_text(TOY_SPEC)
    runner = CliRunner()
    result = runner.invoke(app, ["sweep", "run", str(spec), "--in-process", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "toy-study: 4 of 4 chunks run (128 scenarios" in result.output
    result = runner.invoke(app, ["sweep", "analyze", "toy-study", "--plots"])
    assert result.exit_code == 0, result.output
    assert "rate" in result.output and "S1" in result.output
    study = home / "sweeps" / "toy-study"
    table = ds.dataset(study / "parts", format="parquet", partitioning="hive").to_table()
    rows = table.sort_by("scenario_id")
    params = np.column_stack(
        [rows.column("rate").to_numpy(), rows.column("capacity").to_numpy(), np.full(128, 12.0)]
    )
    direct = toy_evaluate(params)
    assert np.array_equal(rows.column("stock__2010").to_numpy(), direct["stock"][:, -1])
    assert np.array_equal(rows.column("stock_horizon").to_numpy(), direct["stock_horizon"])
    record = json.loads((study / "study.json").read_text())
    assert record["code_version"] == f"toy_logistic-{study_code_fingerprint(toy)}"
    assert record["fixed_parameters"] == {"start": 12.0}
    assert {p.name for p in (study / "plots").iterdir()} >= {
        "envelope_stock.png",
        "sensitivity_stock_horizon.png",
        "prim_tradeoff_stock_horizon_above_30.0_box1.png",
    }
    con = duckdb.connect()
    assert load_sweeps(con, home / "sweeps").loaded == ["toy-study"]
    assert con.execute(
        "select kernel, code_fingerprint from sweeps.kernels where kernel = 'toy_logistic'"
    ).fetchall() == [("toy_logistic", registry.code_fingerprint(toy))]
    assert con.execute("select kernel from sweeps.studies").fetchall() == [("toy_logistic",)]


def toy_evaluate(params: np.ndarray) -> dict[str, np.ndarray]:
    return TOY.evaluate(params, {}, (2000, 2010))


def study_code_fingerprint(kernel: registry.Kernel) -> str:
    from migsys.fingerprint import fingerprint
    from migsys.sweeps import design

    return fingerprint(code=[kernel.evaluate, design])[:12]


def test_spec_validation_comes_from_the_registry(toy) -> None:
    base = {
        "study": {"name": "t", "kernel": "toy_logistic", "seed": 1},
        "design": {"method": "lhs", "n": 10},
    }
    with pytest.raises(SpecError, match=r"parameters.growth: kernel toy_logistic has no such"):
        parse_spec({**base, "parameters": {"growth": {"low": 0, "high": 1}}}, "t.toml")
    with pytest.raises(SpecError, match=r"parameters.rate: \[0.5, 1.5\] leaves the range"):
        parse_spec({**base, "parameters": {"rate": {"low": 0.5, "high": 1.5}}}, "t.toml")
    with pytest.raises(
        SpecError, match=r"parameters.rate.unit: 'percent', but kernel toy_logistic"
    ):
        parse_spec(
            {**base, "parameters": {"rate": {"low": 0.1, "high": 0.2, "unit": "percent"}}},
            "t.toml",
        )
    with pytest.raises(SpecError, match=r"discovery.0.outcome: 'stock' is not a kept scalar"):
        parse_spec(
            {
                **base,
                "parameters": {"rate": {"low": 0.1, "high": 0.2}},
                "discovery": [{"outcome": "stock", "above": 1.0}],
            },
            "t.toml",
        )
    registry.unregister("toy_logistic")
    with pytest.raises(SpecError, match=r"kernel: unknown kernel 'toy_logistic'"):
        parse_spec({**base, "parameters": {"rate": {"low": 0.1, "high": 0.2}}}, "t.toml")
    registry.register(TOY)


def test_parameter_tables_are_the_one_source() -> None:
    assert registry.get("depopulation").parameters == DEPOPULATION_PARAMETERS
    assert registry.get("remittances").parameters == REMITTANCE_PARAMETERS
    assert registry.get("coupled").parameters == DEPOPULATION_PARAMETERS + REMITTANCE_PARAMETERS
    for kernel in registry.BUILTIN_KERNELS:
        assert kernel.parameter_table.startswith("kernels/parameters/")
        for name in kernel.parameter_table.removeprefix("kernels/parameters/").split(" + "):
            table = REPO_ROOT / "kernels" / "parameters" / name
            assert table.is_file(), table
    # The shipped studies' stated units agree with the tables (the spec refuses otherwise).
    from migsys.sweeps.spec import load_spec

    for path in sorted((REPO_ROOT / "studies").glob("*.toml")):
        if path.name != "nightly.toml":
            load_spec(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a,1,0,2,-1,3,u,d,s\na,1,0,2,-1,3,u,d,s\n", r"t.csv, row 3: name: 'a' appears twice"),
        ("a,one,0,2,-1,3,u,d,s\n", r"t.csv, row 2: default: 'one' is not a number"),
        ("a,inf,0,2,-1,3,u,d,s\n", r"t.csv, row 2: default: must be a finite number"),
        ("a,5,0,2,-1,3,u,d,s\n", r"t.csv, row 2: parameter 'a': need valid_low <= low <= default"),
        ("a b,1,0,2,-1,3,u,d,s\n", r"t.csv, row 2: name: 'a b' is not a valid parameter name"),
        ("a,1,0,2,-1,3,u,d\n", r"t.csv, row 2: expected 9 fields"),
    ],
)
def test_parameter_table_errors_name_file_row_and_column(row: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_parameter_table(HEADER + row, "t.csv")


def test_dbt_kernel_test_refers_to_the_registry_table() -> None:
    models = REPO_ROOT / "dbt_project" / "models" / "staging" / "sweeps"
    studies = yaml.safe_load((models / "stg_sweeps__studies.yml").read_text())
    kernel = next(c for c in studies["models"][0]["columns"] if c["name"] == "kernel")
    relationship = next(t["relationships"] for t in kernel["data_tests"] if "relationships" in t)
    assert relationship["arguments"] == {"to": "source('sweeps', 'kernels')", "field": "kernel"}
    sources = yaml.safe_load((models / "_sweeps__sources.yml").read_text())
    assert "kernels" in {t["name"] for t in sources["sources"][0]["tables"]}
    text = "\n".join(p.read_text() for p in models.glob("*.yml"))
    assert "ishigami" not in text  # no hand-kept list of kernel names


def test_spec_parsing_and_the_registry_stay_light() -> None:
    """Reading the registry (every spec validation, ``migsys sweep status``) loads neither the
    Numba kernels nor DuckDB nor the projections: the adapters import them when they run."""
    code = (
        "import sys; import migsys.sweeps.spec, migsys.sweeps.models; "
        "heavy = {'migsys.kernels.depopulation', 'migsys.kernels.remittances', 'duckdb', "
        "'migsys.projections.inputs'}; "
        "assert not heavy & set(sys.modules), sorted(heavy & set(sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _pin_inputs() -> dict[str, object]:
    """Fixed synthetic inputs (built here, so that only the kernels can move the pins)."""
    from migsys.kernels.depopulation import DepopulationUnits
    from migsys.kernels.remittances import RemittanceInputs, initial_stock_from_total

    rng = np.random.default_rng(20060101)
    n_units = 40
    population = rng.lognormal(5.0, 1.0, size=(n_units, 2, 18))
    units = DepopulationUnits(
        population=population,
        emigration_intensity=rng.uniform(0.0, 0.02, n_units),
        return_intensity=rng.uniform(0.0, 0.6, n_units),
        degree_code=rng.integers(0, 6, n_units),
        households=population.sum(axis=(1, 2)) / 4.2,
        remittance_household_share=rng.uniform(0.0, 0.3, n_units),
    )
    steps = np.arange(21)

    def path(level: float, growth: float) -> np.ndarray:
        return level * np.exp(growth * steps + rng.normal(0.0, 0.02, steps.size).cumsum())

    paths = RemittanceInputs(
        years=np.arange(1995, 2016),
        us_wage_index=path(100.0, 0.03),
        mx_wage_index=path(100.0, 0.02),
        us_labour_demand_index=path(100.0, 0.01),
        gdp_usd=path(3.6e11, 0.05),
        usdmxn=path(6.4, 0.04),
        households=path(2.0e7, 0.02),
        initial_stock=initial_stock_from_total(8.0e6),
    )
    return {"units": units, "remittance_inputs": paths}


def _pinned_outputs(kernel: registry.Kernel, inputs: dict) -> dict[str, list[float]]:
    rows = np.array([[p.default for p in kernel.parameters], [p.low for p in kernel.parameters]])
    rows[1] = [p.low + 0.37 * (p.high - p.low) for p in kernel.parameters]
    years = kernel.default_years
    values = kernel.evaluate(rows, inputs, years)
    return {
        o.name: np.asarray(values[o.name], dtype=float).reshape(2, -1)[:, -1].tolist()
        for o in kernel.outputs
    }


@pytest.mark.parametrize("kernel", registry.BUILTIN_KERNELS, ids=lambda k: k.name)
def test_kernel_outputs_stay_pinned(kernel: registry.Kernel) -> None:
    """Outputs at fixed inputs are pinned: a change of a kernel's numbers must be meant. (Its
    studies re-run by themselves either way: their fingerprint holds the kernel's code.)"""
    pins = json.loads(PINS.read_text())[kernel.name]
    now = _pinned_outputs(kernel, _pin_inputs())
    message = (
        f"kernel {kernel.name}: outputs differ from those pinned. If the change is intended, "
        f"pin the new outputs in {PINS.name}: {json.dumps(now)}"
    )
    assert now.keys() == pins.keys(), message
    for name, values in pins.items():
        assert np.allclose(now[name], values, rtol=1e-9, atol=0), f"{name}: {message}"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_dbt_accepts_registered_kernels_and_refuses_others(toy, tmp_path: Path) -> None:
    from migsys.sweeps.engine import run_study
    from migsys.sweeps.evaluators import InProcess
    from migsys.warehouse.dbt_runner import run_dbt

    spec = parse_spec(
        {
            "study": {
                "name": "toy-dbt",
                "kernel": "toy_logistic",
                "seed": 1,
                "years": [2000, 2005],
            },
            "design": {"method": "lhs", "n": 20},
            "parameters": {"rate": {"low": 0.05, "high": 0.2}},
        }
    )
    run_study(spec, tmp_path / "sweeps", evaluator=InProcess(), progress=False)
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        assert load_sweeps(con, tmp_path / "sweeps").loaded == ["toy-dbt"]
    select = ("--select", "path:models/staging/sweeps")
    report = run_dbt("build", database, tmp_path / "dbt", *select)
    assert report.success, report.describe_failures()
    with duckdb.connect(str(database)) as con:
        con.execute("delete from sweeps.kernels where kernel = 'toy_logistic'")
    report = run_dbt("build", database, tmp_path / "dbt", *select)
    assert not report.success
    assert "relationships_stg_sweeps__studies_kernel" in report.describe_failures()
