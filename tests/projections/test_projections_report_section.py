"""The report's forecast section from the forecast marts (hand-made rows)."""

from __future__ import annotations

import html

import duckdb
import pandas as pd

from migsys.projections.skill import SKILL_COLUMNS
from migsys.reports.forecast_section import FORECAST_STATEMENT, TITLE, forecast_section


def _skill_rows() -> pd.DataFrame:
    rows = []
    for method, mdape in (("model", 0.05), ("linear", 0.06), ("average", 0.055)):
        for size in ("all", "q1", "q2"):
            rows.append(
                {
                    "kernel": "depopulation",
                    "origin": 2000,
                    "target_year": 2005,
                    "horizon_years": 5.7,
                    "method": method,
                    "size_class": size,
                    "n_units": 100,
                    "mdape": mdape,
                    "mape": mdape * 1.3,
                    "median_log_error": 0.01,
                    "direction_accuracy": 0.7,
                    "decline_recall": 0.6,
                    "decline_precision": 0.5,
                    "decline_f1": 6 / 11,
                    "crps": 0.04,
                    "coverage_90": 0.9,
                    "coverage_50": 0.5,
                    "interval_score": 0.3,
                }
            )
    frame = pd.DataFrame(rows)
    assert list(frame.columns) == list(SKILL_COLUMNS)
    return frame


def test_section_shows_skill_coverage_and_the_fan(tmp_path):
    con = duckdb.connect()
    skill = _skill_rows()
    con.register("_skill", skill)
    con.execute("CREATE TABLE fct_forecast_skill AS SELECT * FROM _skill")
    fan = pd.DataFrame(
        {
            "kernel": "remittances",
            "origin": 2015,
            "unit": "national",
            "year": [2016, 2017],
            "p05": [20e9, 19e9],
            "p25": [23e9, 22e9],
            "p50": [25e9, 25.5e9],
            "p75": [27e9, 28e9],
            "p95": [30e9, 32e9],
            "observed": None,
            "is_published": True,
        }
    )
    con.register("_fan", fan)
    con.execute("CREATE TABLE fct_forecasts AS SELECT * FROM _fan")
    history = pd.DataFrame(
        {"year": [2014, 2015], "remittances_usd": [24e9, 25e9], "months_observed": 12}
    )
    con.register("_history", history)
    con.execute("CREATE TABLE fct_remittances_annual AS SELECT * FROM _history")
    section = forecast_section(con, tmp_path)
    page = section.html()
    assert section.anchor == "forecast" and section.absent is None
    assert TITLE in page and "sensitivity ranges" in page
    assert html.escape(FORECAST_STATEMENT)[:60] in page
    assert "2000 → 2005" in page and "linear" in page  # the best single baseline, not the average
    names = [image.name for image in section.images]
    assert names == ["forecast_coverage.png", "remittance_forecast.png"]
    assert all(image.is_file() for image in section.images)


def test_section_without_forecasts_is_none(tmp_path):
    assert forecast_section(duckdb.connect(), tmp_path) is None


def _pair_rows(kernel: str, origin: int, target: int, mdapes: dict[str, float]) -> list[dict]:
    return [
        {
            "kernel": kernel,
            "origin": origin,
            "target_year": target,
            "horizon_years": float(target - origin),
            "method": method,
            "size_class": "all",
            "n_units": 100,
            "mdape": value,
            "mape": value,
            "median_log_error": 0.0,
            "direction_accuracy": 0.7,
            "crps": 0.04,
            "coverage_90": 0.9 if method != "model" else (1.0 if target % 2 else 0.8),
            "coverage_50": 0.5,
        }
        for method, value in mdapes.items()
    ]


def test_the_verdict_says_plainly_where_the_model_loses():
    from migsys.reports.forecast_section import skill_verdicts

    rows = (
        _pair_rows("depopulation", 2000, 2005, {"model": 0.05, "linear": 0.06, "average": 0.04})
        + _pair_rows("depopulation", 2000, 2010, {"model": 0.08, "damped_trend": 0.06})
        + _pair_rows("depopulation", 2005, 2010, {"linear": 0.06})  # no model: not a pair
        + _pair_rows("remittances", 2010, 2011, {"model": 0.05, "last_level": 0.07})
        + _pair_rows("remittances", 2010, 2012, {"model": 0.09, "last_level": 0.11})
    )
    municipal, remittances = skill_verdicts(pd.DataFrame(rows, columns=list(SKILL_COLUMNS)))
    # 0.05/0.06 = 0.83 beats by more than 10 %; the average is not a single baseline
    assert "at 1 of 2 origin/target pairs, by 10 % or more at 1" in municipal
    assert "2000→2005 0.83, 2000→2010 1.33" in municipal
    assert "a simple extrapolation was more accurate" in municipal
    assert remittances == (
        "Remittances: the model's mean absolute percentage error is 7.0 % against 9.0 % for "
        "the best baseline (last_level) over 2 origin/target pairs; 90.0 % of outcomes fell "
        "inside its p05–p95."
    )
