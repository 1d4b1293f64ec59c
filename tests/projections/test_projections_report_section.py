"""The report's forecast section from the forecast marts (hand-made rows)."""

from __future__ import annotations

import html
import re

import duckdb
import pandas as pd

from migsys.projections.skill import SKILL_COLUMNS
from migsys.reports.forecast_section import (
    FORECAST_STATEMENT,
    TITLE,
    coverage_figure,
    fan_figure,
    forecast_section,
    municipal_mdape_table,
    skill_verdicts,
)

ROLES = {
    "model": "model",
    "linear": "single_baseline",
    "damped_trend": "single_baseline",
    "average": "average",
    "model_and_average": "combination",
    "last_level": "single_baseline",
    "drift": "single_baseline",
}


def _row(kernel, origin, target, method, size, mdape, published, **scores) -> dict:
    row = {
        "kernel": kernel,
        "origin": origin,
        "target_year": target,
        "horizon_years": float(target - origin),
        "method": method,
        "size_class": size,
        "n_units": 100 if kernel == "depopulation" else 1,
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
    row.update(scores)
    assert list(row) == list(SKILL_COLUMNS)
    return {**row, "role": ROLES[method], "is_published_method": method == published}


def _skill() -> pd.DataFrame:
    rows = []
    municipal = {"model": 0.05, "linear": 0.06, "damped_trend": 0.065, "average": 0.055}
    municipal["model_and_average"] = 0.048
    for (origin, target), scale in (((2000, 2010), 1.0), ((2010, 2020), 0.8)):
        for method, mdape in municipal.items():
            for size in ("all", "q1", "q2"):
                rows.append(
                    _row(
                        "depopulation",
                        origin,
                        target,
                        method,
                        size,
                        mdape * scale,
                        "model_and_average",
                    )
                )
    for origin in (2010, 2014):
        for method, mape in (("model", 0.05), ("last_level", 0.07), ("drift", 0.04)):
            rows.append(
                _row("remittances", origin, origin + 1, method, "all", mape, "model", mape=mape)
            )
    return pd.DataFrame(rows)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    choice = pd.DataFrame(
        {
            "kernel": ["depopulation", "depopulation", "remittances", "remittances"],
            "choice": ["method", "method", "method", "interval_rule"],
            "candidate": ["model_and_average", "model", "model", "per_horizon"],
            "role": ["combination", "model", "model", "interval_rule"],
            "criterion": ["geometric mean of MdAPE / best single baseline"] * 2
            + ["mean absolute percentage error", "mean interval score of model"],
            "value": [1.07, 1.15, 0.148, 0.566],
            "pairs": [3, 3, 35, 35],
            "is_chosen": [True, False, True, True],
            "rule": ["the lowest geometric mean ... target ≤ 2010"] * 2
            + ["the lowest mean APE ... target ≤ 2012"] * 2,
        }
    )
    fan = pd.DataFrame(
        {
            "kernel": "remittances",
            "method": "model",
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
    history = pd.DataFrame(
        {"year": [2014, 2015], "remittances_usd": [24e9, 25e9], "months_observed": 12}
    )
    for name, frame in (
        ("fct_forecast_skill", _skill()),
        ("fct_forecast_method_choice", choice),
        ("fct_forecasts", fan),
        ("fct_remittances_annual", history),
    ):
        con.register("_frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
        con.unregister("_frame")
    return con


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_section_names_the_published_method_its_rule_and_its_targets(tmp_path):
    section = forecast_section(_warehouse(), tmp_path)
    page = section.html()
    text = _text(page)
    assert section.anchor == "forecast" and section.absent is None
    assert TITLE in page and "sensitivity ranges" in page
    assert html.escape(FORECAST_STATEMENT)[:60] in page
    assert "the published forecast is model_and_average (half the cohort-component" in text
    assert "target ≤ 2010" in text and "model_and_average 1.070, model 1.150" in text
    assert "Its intervals read every earlier error of the same horizon (per_horizon)" in text
    # the rule's full statement travels with the report
    assert (tmp_path / "forecast_method.md").is_file()
    assert 'href="forecast_method.md"' in page
    # 10-year pair 2010→2020: 0.8×0.048 / (0.8×0.06) = 0.800 ≤ 1: met
    assert "2010→2020: MdAPE over the best single baseline's 0.800 ≤ 1.000 met" in text
    assert "2000→2010: direction accuracy minus the best single baseline's +0.0 pp" in text
    names = [image.name for image in section.images]
    assert names == ["forecast_coverage.png", "remittance_forecast.png"]
    assert all(image.is_file() for image in section.images)


def test_the_municipal_table_shows_every_baseline_to_one_decimal():
    table = municipal_mdape_table(_skill(), "model_and_average")
    assert list(table["origin → target"]) == ["2000 → 2010", "2010 → 2020"]
    assert table.loc[0, "model_and_average (published)"] == "4.8"
    assert table.loc[0, "linear"] == "6.0" and table.loc[0, "model"] == "5.0"
    percent = table.drop(columns=["origin → target", "units", "published over best single"])
    cells = [cell for cell in percent.to_numpy().ravel() if cell != "—"]
    assert cells and all(re.fullmatch(r"\d+\.\d", cell) for cell in cells)


def test_section_without_forecasts_is_none(tmp_path):
    assert forecast_section(duckdb.connect(), tmp_path) is None


def test_the_verdict_says_plainly_where_the_published_method_loses():
    skill = _skill()
    skill.loc[(skill["method"] == "model_and_average") & (skill["origin"] == 2010), "mdape"] = 0.06
    municipal, remittances = skill_verdicts(skill)
    assert "the published method (model_and_average) beats" in municipal
    assert "at 1 of 2 origin/target pairs" in municipal
    assert "2000→2010 0.80, 2010→2020 1.25" in municipal
    assert "a simple extrapolation was more accurate" in municipal
    # remittances: judged on the origins the rule did not see (2013 on)
    assert remittances == (
        "Remittances (origins 2014–2014, 1 origin/target pairs): the published method's (model) "
        "mean absolute percentage error is 5.0 % against 4.0 % for the best baseline (drift); "
        "90.0 % of outcomes fell inside its p05–p95."
    )


def test_charts_label_their_axes_in_words_and_plain_numbers():
    fan = pd.DataFrame(
        {
            "origin": 2024,
            "year": [2025, 2026],
            "p05": [60e9, 58e9],
            "p25": [63e9, 63e9],
            "p50": [66e9, 68e9],
            "p75": [69e9, 73e9],
            "p95": [72e9, 78e9],
        }
    )
    history = pd.DataFrame({"year": [2023, 2024], "remittances_usd": [63.3e9, 65.0e9]})
    figure = fan_figure(history, fan)
    figure.canvas.draw()
    (ax,) = figure.axes
    assert ax.get_xlabel() == "year" and ax.get_ylabel() == "remittances (USD billion)"
    assert "published forecast from 2024" in ax.get_title()
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert ax.xaxis.get_offset_text().get_text() == ""
    coverage = coverage_figure(_skill())
    for axis in coverage.axes:
        assert axis.get_ylabel().endswith("(%)") and axis.get_xlabel()
        assert "published" in axis.get_title() and "_" not in axis.get_title()
