"""Parameters swept around the calibration, and the standing study centred on it."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest

from migsys.kernels.defaults import REMITTANCE_PARAMETERS
from migsys.projections.store import (
    Calibration,
    FitStatistics,
    load_projection_tables,
    save_calibration,
)
from migsys.sweeps import design, registry
from migsys.sweeps.calibration import calibrated, calibrations_needed
from migsys.sweeps.engine import prepare_study
from migsys.sweeps.models import ModelContext
from migsys.sweeps.spec import ParameterSpec, SpecError, load_spec, parse_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDING = REPO_ROOT / "studies" / "remittances_nightly.toml"


@pytest.mark.parametrize(
    ("given", "fitted", "expected"),
    [
        ({"relative_spread": 0.2}, 10.0, {"low": 8.0, "high": 12.0}),
        ({"relative_spread": 0.5}, -4.0, {"low": -6.0, "high": -2.0}),
        ({"spread": 0.01}, 0.02, {"low": 0.01, "high": 0.03}),
        (
            {"distribution": "triangular", "spread": 1.0},
            5.0,
            {"distribution": "triangular", "low": 4.0, "high": 6.0, "mode": 5.0},
        ),
        (
            {"distribution": "normal", "sd": 2.0},
            5.0,
            {"distribution": "normal", "mean": 5.0, "sd": 2.0},
        ),
        (
            {"distribution": "normal", "relative_sd": 0.1, "low": 0.0},
            50.0,
            {"distribution": "normal", "mean": 50.0, "sd": 5.0, "low": 0.0},
        ),
        ({}, 7.5, {"value": 7.5}),
    ],
)
def test_a_parameter_from_calibration_resolves_around_the_fitted_value(
    given: dict, fitted: float, expected: dict
) -> None:
    parameter = ParameterSpec.model_validate({"from": "calibration", **given})
    assert parameter.is_swept == (given != {})
    resolved = parameter.around(fitted)
    assert resolved.model_dump(exclude_none=True, by_alias=True) == expected
    if resolved.is_swept:
        low, high = resolved.support()
        assert low < fitted < high


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"low": 1.0, "high": 2.0}, "takes no low without a spread"),
        ({"spread": 0.1, "relative_spread": 0.1}, "needs spread or relative_spread"),
        ({"relative_spread": 0.1, "mean": 3.0}, "give no mean"),
        ({"distribution": "normal", "spread": 0.1}, "needs sd or relative_sd"),
        ({"distribution": "normal", "sd": 1.0, "spread": 0.1}, "spread/relative_spread are for"),
        ({"distribution": "uniform", "spread": 0.1, "low": 0.0}, "takes no low"),
        ({"spread": -1.0}, "greater than 0"),
        ({"value": 1.0}, "a fixed value takes no from"),
    ],
)
def test_bad_combinations_around_a_calibration_are_named(given: dict, message: str) -> None:
    data = {
        "study": {"name": "t", "kernel": "remittances", "seed": 1, "years": [2015, 2020]},
        "design": {"method": "lhs", "n": 10},
        "parameters": {"amount_base": {"from": "calibration", **given}},
    }
    with pytest.raises(SpecError, match=rf"t.toml(.|\n)*parameters\.amount_base[^\n]*{message}"):
        parse_spec(data, "t.toml")


def test_spread_parameters_are_refused_without_a_calibration() -> None:
    data = {
        "study": {"name": "t", "kernel": "ishigami", "seed": 1},
        "design": {"method": "lhs", "n": 10},
        "parameters": {"x1": {"low": 0.0, "high": 1.0, "spread": 0.1}},
    }
    with pytest.raises(SpecError, match=r"parameters.x1: spread is only for from = 'calibration'"):
        parse_spec(data, "t.toml")
    data["parameters"] = {"x1": {"from": "calibration"}, "x2": {"low": 0.0, "high": 1.0}}
    with pytest.raises(SpecError, match=r"parameters.x1: kernel ishigami has no calibration"):
        parse_spec(data, "t.toml")


def _fitted() -> dict[str, float]:
    """A remittances calibration as `migsys calibrate` stores it: every parameter, fitted values
    away from the table defaults (so a centre on the defaults would be caught)."""
    values = {p.name: p.default for p in REMITTANCE_PARAMETERS}
    values |= {
        "inflow_base": 287_000.0,
        "amount_base": 3_950.0,
        "return_rate_initial": 0.061,
        "us_wage_growth": 0.021,
        "mx_wage_growth": -0.004,
        "labour_demand_growth": 0.007,
        "remitter_share_decay": 0.0,
        "gdp_growth": 0.033,
    }
    return values


def _warehouse_with_calibration(tmp_path: Path, source: Path | None = None) -> Path:
    warehouse = tmp_path / "warehouse.duckdb"
    if source is not None:
        shutil.copy(source, warehouse)
    save_calibration(
        Calibration(
            "remittances",
            _fitted(),
            {"inflow_base": 20_000.0, "amount_base": 150.0},
            FitStatistics("log remittances", 0.1, 0.05, 0.9, 20),
            (1995, 2015),
            2015,
            "test fit",
            created_at=datetime(2026, 2, 1),
        ),
        tmp_path / "home",
    )
    with duckdb.connect(str(warehouse)) as con:
        load_projection_tables(con, tmp_path / "home")
    return warehouse


def test_the_standing_study_is_centred_on_the_calibration(tmp_path: Path) -> None:
    spec = load_spec(STANDING)
    assert spec.defaults == "calibration" and "not a forecast" in spec.description
    assert calibrations_needed(spec) == [("remittances", 2015)]
    fitted = calibrated(spec, registry.get(spec.kernel), _warehouse_with_calibration(tmp_path))
    assert fitted.values == _fitted()  # listed and unlisted parameters alike
    resolved = spec.resolved(fitted.values)
    values = design.scenario_values(resolved, 0, resolved.n_scenarios)
    assert set(resolved.swept_names) == set(spec.swept_names)
    for j, name in enumerate(resolved.swept_names):
        parameter = resolved.parameters[name]
        centre = fitted.values[name]
        half = (parameter.high - parameter.low) / 2
        assert (parameter.low + parameter.high) / 2 == pytest.approx(centre, rel=1e-12, abs=1e-15)
        assert centre != next(p.default for p in REMITTANCE_PARAMETERS if p.name == name)
        # The scenarios themselves spread evenly around the fitted value.
        assert np.median(values[:, j]) == pytest.approx(centre, abs=0.1 * half)
        assert values[:, j].min() >= parameter.low and values[:, j].max() <= parameter.high
        assert np.mean(values[:, j] < centre) == pytest.approx(0.5, abs=0.05)


def test_the_standing_study_resolves_against_a_real_warehouse(
    published_home, tmp_path: Path
) -> None:
    spec = load_spec(STANDING)
    warehouse = _warehouse_with_calibration(tmp_path, published_home.warehouse)
    prepared = prepare_study(spec, ModelContext(warehouse))
    fitted = _fitted()
    unlisted = {name for name in fitted if name not in spec.parameters}
    assert prepared.fixed == {name: fitted[name] for name in unlisted}
    for name in spec.swept_names:
        parameter = prepared.spec.parameters[name]
        assert (parameter.low + parameter.high) / 2 == pytest.approx(fitted[name])
    assert prepared.identity["fixed"]["remitter_share_decay"] == 0.0
