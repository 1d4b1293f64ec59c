"""``migsys calibrate`` and ``migsys backtest`` on a warehouse refreshed from the real files:
the forecast file keeps its columns, the skill rows land in the store and in the mart."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from migsys.cli.app import app
from migsys.cli.projections import parse_years

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def home(published_home, tmp_path_factory):
    """A MIGSYS_HOME of our own holding a copy of the shared published warehouse."""
    home = tmp_path_factory.mktemp("projections_home")
    shutil.copy(published_home.warehouse, home / "warehouse.duckdb")
    return home


def _run(home, *args: str):
    result = CliRunner().invoke(app, list(args), env={"MIGSYS_HOME": str(home), "COLUMNS": "120"})
    return result


def _stored_rows(home, kernel: str) -> pd.DataFrame:
    frames = [pd.read_parquet(path) for path in sorted((home / "backtests").glob("*.parquet"))]
    rows = pd.concat(frames, ignore_index=True)
    return rows[rows["kernel"] == kernel]


def test_depopulation_backtest_writes_todays_columns(home, tmp_path):
    out = tmp_path / "depopulation.parquet"
    result = _run(
        home,
        "backtest",
        "--kernel",
        "depopulation",
        "--train-until",
        "2000",
        "--target-years",
        "2010,2030",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "damped_trend" in result.output and "share_of_state" in result.output
    rows = _stored_rows(home, "depopulation")
    scored = rows[rows["size_class"] == "all"].set_index(["target_year", "method"])
    assert scored.loc[(2010, "model"), "n_units"] == 2403
    assert 0.85 <= scored.loc[(2010, "model"), "coverage_90"] <= 0.97
    assert 2030 not in rows["target_year"].tolist()  # no 2030 census to score against
    projections = pd.read_parquet(out)
    assert list(projections.columns) == [
        "cve_mun",
        "year",
        "population_p05",
        "population_p50",
        "population_p95",
    ]
    assert set(projections["year"]) == {2010, 2030}  # written even without an observation
    assert not projections.duplicated(["cve_mun", "year"]).any()
    assert projections["population_p50"].gt(0).all()
    assert (projections["population_p05"] <= projections["population_p95"]).all()


def test_remittance_backtest_is_reported_for_2011_to_2015(home):
    result = _run(
        home,
        "backtest",
        "--kernel",
        "remittances",
        "--train-until",
        "2010",
        "--target-years",
        "2011-2015",
    )
    assert result.exit_code == 0, result.output
    rows = _stored_rows(home, "remittances")
    model = rows[rows["method"] == "model"]
    assert sorted(model["target_year"]) == [2011, 2012, 2013, 2014, 2015]
    assert model["n_units"].eq(1).all() and model["mape"].notna().all()


def test_skill_mart_of_the_published_warehouse(published_home):
    import duckdb

    con = duckdb.connect(str(published_home.warehouse), read_only=True)
    try:
        pairs = con.execute(
            "SELECT kernel, count(DISTINCT (origin, target_year)) FROM fct_forecast_skill "
            "WHERE method = 'model' AND size_class = 'all' GROUP BY kernel ORDER BY kernel"
        ).fetchall()
        published = con.execute(
            "SELECT kernel, min(origin), min(year), max(year) FROM fct_forecasts "
            "WHERE is_published GROUP BY kernel ORDER BY kernel"
        ).fetchall()
        origins = con.execute(
            "SELECT kernel, list(DISTINCT origin ORDER BY origin), list(DISTINCT method), "
            "count(*) FILTER (WHERE observed IS NOT NULL) FROM fct_forecasts "
            "GROUP BY kernel ORDER BY kernel"
        ).fetchall()
        chosen = con.execute(
            "SELECT kernel, choice, candidate FROM fct_forecast_method_choice WHERE is_chosen "
            "ORDER BY kernel, choice"
        ).fetchall()
        flagged = con.execute(
            "SELECT kernel, list(DISTINCT method) FROM fct_forecast_skill "
            "WHERE is_published_method GROUP BY kernel ORDER BY kernel"
        ).fetchall()
    finally:
        con.close()
    # depopulation 2000->2005/2010/2020, 2005->2010/2020, 2010->2020; remittances every origin
    # 2003-2023 to every year 1-5 ahead up to 2024
    assert pairs == [("depopulation", 6), ("remittances", 95)]
    # published from the latest data: the 2020 census and the year 2024
    assert published == [("depopulation", 2020, 2025, 2030), ("remittances", 2024, 2025, 2029)]
    # fct_forecasts holds the published method's forecast from every origin, observed beside it
    (municipal, remittances) = origins
    assert municipal[1] == [2000, 2005, 2010, 2020] and remittances[1] == list(range(2003, 2025))
    assert municipal[3] > 0 and remittances[3] == 95
    # the rule's pick, as docs/forecast_method.md records it (fixed on the pairs up to 2010/2012)
    assert chosen == [
        ("depopulation", "method", "model_and_average"),
        ("remittances", "interval_rule", "per_horizon"),
        ("remittances", "method", "model"),
    ]
    assert [method for _, method in flagged] == [["model_and_average"], ["model"]]
    # municipalities the published method cannot forecast (enumerated once by the origin) take a
    # labelled fallback; the chosen method forecasts the rest, and remittances need no fallback
    from migsys.projections.evaluation import UNFORECASTABLE_FALLBACKS

    assert "model_and_average" in municipal[2]
    assert set(municipal[2]) <= {"model_and_average", *UNFORECASTABLE_FALLBACKS}
    assert remittances[2] == ["model"]


def test_backtest_beyond_the_data_writes_the_published_forecast(home, published_home, tmp_path):
    """The issue's crash: forecasting years not yet observed from the CLI (2015 has no census,
    2025 and 2030 are in the future); the rows are the published forecast of fct_forecasts."""
    import duckdb

    out = tmp_path / "f.parquet"
    result = _run(
        home,
        "backtest",
        "--kernel",
        "depopulation",
        "--train-until",
        "2010",
        "--target-years",
        "2015,2020",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "published method: model_and_average" in result.output
    written = pd.read_parquet(out)
    assert set(written["year"]) == {2015, 2020}
    # every municipality enumerated in 2000 and 2010: the average's trends need both
    assert written.groupby("year").size().to_dict() == {2015: 2443, 2020: 2443}
    future = tmp_path / "future.parquet"
    result = _run(
        home,
        "backtest",
        "--kernel",
        "depopulation",
        "--train-until",
        "2020",
        "--target-years",
        "2025,2030",
        "--out",
        str(future),
    )
    assert result.exit_code == 0, result.output
    assert "nothing scored" in " ".join(result.output.split())
    cli = pd.read_parquet(future).set_index(["cve_mun", "year"])
    con = duckdb.connect(str(published_home.warehouse), read_only=True)
    try:
        mart = con.execute(
            "SELECT unit AS cve_mun, year, p05, p50, p95 FROM fct_forecasts "
            "WHERE kernel = 'depopulation' AND is_published"
        ).df()
    finally:
        con.close()
    mart = mart.set_index(["cve_mun", "year"]).reindex(cli.index)
    np.testing.assert_allclose(cli["population_p50"], mart["p50"], rtol=1e-9)
    np.testing.assert_allclose(cli["population_p95"], mart["p95"], rtol=1e-9)
    remittances = tmp_path / "remittances.parquet"
    result = _run(
        home,
        "backtest",
        "--kernel",
        "remittances",
        "--train-until",
        "2024",
        "--target-years",
        "2025-2029",
        "--out",
        str(remittances),
    )
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(remittances)
    assert written["year"].tolist() == [2025, 2026, 2027, 2028, 2029]
    assert list(written.columns) == [
        "year",
        "remittances_usd_p05",
        "remittances_usd_p50",
        "remittances_usd_p95",
    ]


def test_calibrate_prints_parameters_and_fit(home):
    result = _run(home, "calibrate", "--kernel", "remittances", "--train-until", "2010")
    assert result.exit_code == 0, result.output
    assert "amount_wage_elasticity" in result.output and "fit: RMSE" in result.output
    assert "data years: 1995" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--kernel", "depopulation", "--train-until", "2025", "--target-years", "2030"],
            "train_until: 2025 is after the last census",
        ),
        (
            ["--kernel", "depopulation", "--train-until", "1995", "--target-years", "2000"],
            "the published method model_and_average needs 3",
        ),
        (
            ["--kernel", "depopulation", "--train-until", "2000", "--target-years", "1995"],
            "target_years: 1995 is not after train_until 2000",
        ),
        (
            ["--kernel", "tides", "--train-until", "2000", "--target-years", "2010"],
            "kernel: unknown kernel 'tides'",
        ),
        (
            ["--kernel", "remittances", "--train-until", "2025", "--target-years", "2026"],
            "train_until: 2025 is after the last complete year",
        ),
        (
            ["--kernel", "depopulation", "--train-until", "2000", "--target-years", "20x0"],
            "--target-years: '20x0' is not a year",
        ),
    ],
)
def test_bad_backtest_requests_fail_with_a_clear_message(home, args, message):
    result = _run(home, "backtest", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_year_lists_and_ranges_parse():
    assert parse_years("2011-2013, 2015,2011") == [2011, 2012, 2013, 2015]
    with pytest.raises(ValueError, match="runs backwards"):
        parse_years("2015-2011")


def test_unit_inputs_from_the_real_warehouse(home):
    import duckdb
    import numpy as np

    from migsys.projections.inputs import degree_units_from_table1, depopulation_units

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        units, cve_mun = depopulation_units(con, 2000, index_year=2000)
        table1, degrees = degree_units_from_table1(con)
    finally:
        con.close()
    assert units.n_units == len(cve_mun) == 2443
    assert units.population.sum() == pytest.approx(97_483_412, rel=1e-9)
    assert (units.degree_code == 5).sum() == 93  # CONAPO's 'null' municipalities
    assert units.emigration_intensity[units.degree_code == 5].max() == 0.0
    assert list(degrees) == ["very_high", "high", "medium", "low", "very_low", "null"]
    assert table1.population.sum() == pytest.approx(97_483_412, rel=1e-9)
    # more intense degrees emigrate more
    assert np.all(np.diff(table1.emigration_intensity) <= 0)
