"""Backtests on kernel-generated warehouses: rows, baselines recomputed by hand, bad requests."""

from __future__ import annotations

import numpy as np
import pytest
from projection_warehouses import (
    REMITTANCE_TRUTH,
    depopulation_truth,
    depopulation_warehouse,
    remittance_warehouse,
)

from migsys.projections.backtest import backtest_depopulation, backtest_remittances, run_backtest


@pytest.fixture(scope="module")
def depopulation_con():
    con = depopulation_warehouse(depopulation_truth(), years=(1990, 1995, 2000, 2005, 2010))
    yield con
    con.close()


@pytest.fixture(scope="module")
def depopulation_backtest(depopulation_con):
    return backtest_depopulation(depopulation_con, 2000, [2010, 2005, 2015], draws=20)


def _census(con, year: int) -> dict[str, float]:
    rows = con.execute(
        "SELECT cve_mun, population_total FROM fct_municipal_population WHERE census_year = ?",
        [year],
    ).fetchall()
    return dict(rows)


def _by_method(rows: list[dict], year: int) -> dict[str, dict]:
    return {row["method"]: row for row in rows if row["target_year"] == year}


def test_depopulation_rows_cover_every_target_and_method(depopulation_backtest):
    rows = depopulation_backtest.rows
    assert {(r["target_year"], r["method"]) for r in rows} == {
        *(
            (year, method)
            for year in (2005, 2010)
            for method in ("model", "zero_growth", "last_period_growth", "national_growth")
        ),
        (2015, "model"),
    }
    unscored = _by_method(rows, 2015)["model"]
    assert unscored["n_units"] == 0 and unscored["mean_ape"] is None
    assert len({r["backtest_id"] for r in rows}) == 1
    assert all(r["train_until"] == 2000 for r in rows)


def test_depopulation_baselines_match_a_hand_computation(depopulation_con, depopulation_backtest):
    p1995, p2000, p2010 = (_census(depopulation_con, y) for y in (1995, 2000, 2010))
    keys = sorted(p2010)
    base = np.array([p2000[k] for k in keys])
    previous = np.array([p1995[k] for k in keys])
    observed = np.array([p2010[k] for k in keys])
    own = base * (base / previous) ** (10 / 5)  # each unit's 1995-2000 growth for 10 more years
    national = base * (base.sum() / previous.sum()) ** (10 / 5)
    rows = _by_method(depopulation_backtest.rows, 2010)
    for method, projected in (
        ("zero_growth", base),
        ("last_period_growth", own),
        ("national_growth", national),
    ):
        ape = np.abs(projected - observed) / observed
        assert rows[method]["mean_ape"] == pytest.approx(ape.mean(), rel=1e-9), method
        assert rows[method]["median_ape"] == pytest.approx(np.median(ape), rel=1e-9), method
        right = (projected < base) == (observed < base)
        assert rows[method]["sign_share"] == pytest.approx(right.mean()), method
        assert rows[method]["n_units"] == len(keys)


def test_depopulation_model_is_close_on_kernel_generated_data(depopulation_backtest):
    model = _by_method(depopulation_backtest.rows, 2010)["model"]
    # the only model error left is the base-year age structure, rebuilt as a stable population
    assert model["mean_ape"] < 0.05
    assert (
        model["mean_ape"] < _by_method(depopulation_backtest.rows, 2010)["zero_growth"]["mean_ape"]
    )


def test_depopulation_projections_have_ordered_quantiles(depopulation_backtest):
    frame = depopulation_backtest.projections
    assert list(frame.columns) == [
        "cve_mun",
        "year",
        "population_p05",
        "population_p50",
        "population_p95",
    ]
    assert sorted(frame["year"].unique()) == [2005, 2010, 2015]  # 2015 has no census, still out
    assert (frame["population_p05"] <= frame["population_p50"]).all()
    assert (frame["population_p50"] <= frame["population_p95"]).all()
    assert frame.groupby("year")["cve_mun"].nunique().eq(120).all()


def test_remittance_backtest_scores_against_the_series():
    con = remittance_warehouse(REMITTANCE_TRUTH)
    result = backtest_remittances(con, 2008, [2009, 2012, 2014], draws=30)
    usd = dict(con.execute("SELECT year, remittances_usd FROM fct_remittances_annual").fetchall())
    rows = _by_method(result.rows, 2012)
    assert set(rows) == {"model", "zero_growth", "last_period_growth"}
    assert rows["zero_growth"]["mean_ape"] == pytest.approx(abs(usd[2008] - usd[2012]) / usd[2012])
    continued = usd[2008] * (usd[2008] / usd[2007]) ** 4
    assert rows["last_period_growth"]["mean_ape"] == pytest.approx(
        abs(continued - usd[2012]) / usd[2012]
    )
    assert rows["model"]["mean_ape"] < 0.1
    assert _by_method(result.rows, 2014)["model"]["n_units"] == 0  # no data for 2014
    assert list(result.projections.columns) == [
        "year",
        "remittances_usd_p05",
        "remittances_usd_p50",
        "remittances_usd_p95",
    ]
    assert result.projections["year"].tolist() == [2009, 2012, 2014]


@pytest.mark.parametrize(
    ("kernel", "train_until", "targets", "message"),
    [
        ("depopulation", 2000, [1995], "target_years: 1995 is not after train_until 2000"),
        ("depopulation", 2000, [2000], "target_years: 2000 is not after train_until 2000"),
        ("depopulation", 2000, [], "target_years: give at least one year"),
        ("depopulation", 2015, [2020], "train_until: 2015 is after the last census"),
        ("weather", 2000, [2010], "kernel: unknown kernel 'weather'"),
    ],
)
def test_bad_backtest_requests_are_named(depopulation_con, kernel, train_until, targets, message):
    with pytest.raises(ValueError, match=message):
        run_backtest(depopulation_con, kernel, train_until, targets, draws=5)
