"""Calibration recovers the parameters of data the kernels generated themselves."""

from __future__ import annotations

import pytest
from projection_warehouses import (
    REMITTANCE_TRUTH,
    depopulation_truth,
    depopulation_warehouse,
    remittance_warehouse,
)

from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, REMITTANCE_PARAMETERS, parameter_index
from migsys.kernels.remittances import project_remittances
from migsys.projections.calibration import calibrate, default_train_until
from migsys.projections.depopulation import (
    calibrate_depopulation,
    fit_kernel,
    read_depopulation_data,
    rebase_parameters,
)
from migsys.projections.remittances import calibrate_remittances
from migsys.projections.remittances import rebase_parameters as rebase_remittance_parameters


@pytest.fixture(scope="module")
def depopulation_con():
    con = depopulation_warehouse(depopulation_truth())
    yield con
    con.close()


@pytest.fixture(scope="module")
def remittance_con():
    con = remittance_warehouse(REMITTANCE_TRUTH)
    yield con
    con.close()


def test_depopulation_calibration_recovers_known_parameters(depopulation_con):
    data = read_depopulation_data(depopulation_con)
    fitted = fit_kernel(data, 2000)
    assert (fitted.start_year, fitted.index_year) == (1990, 2000)
    for name in ("tfr_base", "emigration_scale"):
        column = parameter_index(DEPOPULATION_PARAMETERS, name)
        assert fitted.params_row[column] == pytest.approx(depopulation_truth()[column], rel=0.01)
    calibration = fitted.calibration
    assert calibration.fit.r2 > 0.99
    assert calibration.data_years == (1990, 2000)  # censuses and the CONAPO index; no count
    # stored parameters are carried along their paths to the origin's exact date
    years = data.panel.date(2000) - data.panel.date(1990)
    column = parameter_index(DEPOPULATION_PARAMETERS, "tfr_base")
    rebased = rebase_parameters(depopulation_truth(), years)[0, column]
    assert calibration.parameters["tfr_base"] == pytest.approx(rebased, rel=0.01)
    assert calibrate_depopulation(depopulation_con, 2000).train_until == 2000


def test_remittance_calibration_recovers_known_parameters(remittance_con):
    fitted = calibrate_remittances(remittance_con, 2012)
    assert fitted.start_year == 1995
    for name, value in REMITTANCE_TRUTH.items():
        column = parameter_index(REMITTANCE_PARAMETERS, name)
        assert fitted.params_row[column] == pytest.approx(value, rel=0.03), name
    assert fitted.calibration.fit.mape < 1e-3


def test_stored_remittance_levels_refer_to_train_until(remittance_con):
    fitted = calibrate_remittances(remittance_con, 2012)
    run = project_remittances(fitted.params_row[None, :], fitted.inputs, 1995, 2012)
    stored = fitted.calibration.parameters
    # a run from 1995 has, in 2012, exactly the amount per remitter and the arrivals stored
    amount_2012 = run.remittances_usd[0, -1] / run.remitters[0, -1]
    assert stored["amount_base"] == pytest.approx(amount_2012, rel=1e-9)
    rebased = rebase_remittance_parameters(fitted.params_row, fitted.inputs, 2011)
    assert rebased[parameter_index(REMITTANCE_PARAMETERS, "inflow_base")] == pytest.approx(
        run.arrivals[0, -1], rel=1e-9
    )
    assert stored["remitter_share_decay"] == pytest.approx(
        fitted.params_row[parameter_index(REMITTANCE_PARAMETERS, "remitter_share_decay")]
    )


def test_train_until_limits_the_data_used(remittance_con):
    fitted = calibrate_remittances(remittance_con, 2005)
    assert max(fitted.calibration.data_years) == 2005
    assert int(fitted.inputs.years[-1]) == 2005  # paths after train_until are not read


def test_calibrate_all_defaults_to_all_the_data(remittance_con):
    assert default_train_until(remittance_con, "remittances") == 2012
    (only,) = calibrate(remittance_con, "remittances")
    assert only.train_until == 2012 and only.kernel == "remittances"


@pytest.mark.parametrize(
    ("kernel", "train_until", "message"),
    [
        ("depopulation", 2005, "train_until: 2005 is after the last census"),
        ("depopulation", 1990, "leaves only census 1990"),
        ("depopulation", 1985, "before the first census"),
        ("volcanoes", 2000, "kernel: unknown kernel 'volcanoes'"),
    ],
)
def test_bad_calibration_requests_are_named(depopulation_con, kernel, train_until, message):
    with pytest.raises(ValueError, match=message):
        calibrate(depopulation_con, kernel, train_until)


def test_remittances_after_the_data_is_refused(remittance_con):
    with pytest.raises(ValueError, match="train_until: 2013 is after the last complete year"):
        calibrate_remittances(remittance_con, 2013)


def test_missing_mart_is_named():
    import duckdb

    with pytest.raises(ValueError, match="a mart this projection reads is missing"):
        calibrate(duckdb.connect(), "depopulation", 2000)
