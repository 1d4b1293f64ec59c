"""The report's "How good are these projections?" section: skill, coverage, calibrated fans.

Reads the forecast marts (``fct_forecast_skill``, ``fct_forecasts``) of the published warehouse
and returns one HTML section with:

- a plain statement of what is a *forecast* here (the model's p05–p95, calibrated on its own
  errors at earlier origins) and what is a *sensitivity range* (the standing studies' sweeps over
  stated parameter ranges — where the spread comes from, not how likely an outcome is);
- the skill table: per kernel, origin and target year, the model next to the best single
  baseline (MdAPE, MAPE, bias, direction, CRPS, p05–p95 and p25–p75 coverage);
- a coverage plot: the model's p05–p95 coverage by size quintile (depopulation) and by horizon
  (remittances) against the nominal 90 %;
- the remittance forecast fan (history and the published p05/p25/p50/p75/p95) and a table of the
  published municipal forecast by CONAPO degree.

``reports.build`` calls :func:`forecast_section` (it returns a ``reports.build.Section``).
"""

from __future__ import annotations

import html
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

SECTION_ID = "forecast"  # the anchor reports.build links to
TITLE = "How good are these projections?"
NOMINAL_90 = 0.90
TARGET_RATIO = 0.9  # the model's MdAPE at most 0.9 × the best single baseline's
FORECAST_STATEMENT = (
    "A forecast here is the model's probabilistic projection: its p50 is the forecast and its "
    "p05–p95 band is calibrated on the errors the same model made at earlier origins (by size "
    "and growth class for municipalities; over the span of past years that would have served "
    "best for remittances), so that about 90 % of outcomes should fall inside it. Every method is "
    "scored only on years it could not see. The fan charts of the standing studies elsewhere in "
    "this report are not forecasts: they are sensitivity ranges — what the kernels do across "
    "the parameter ranges their specs state — and show what drives the spread, not how likely "
    "an outcome is."
)


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame | None:
    try:
        return con.execute(sql).df()
    except duckdb.Error:
        return None


def _percent(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * value:.1f}"


def skill_table(skill: pd.DataFrame) -> pd.DataFrame:
    """Model and best single baseline side by side, all units, one row per pair."""
    rows = skill[(skill["size_class"] == "all")]
    model = rows[rows["method"] == "model"].set_index(["kernel", "origin", "target_year"])
    out = []
    for key, row in model.sort_index().iterrows():
        kernel, origin, target = key
        pair = rows[
            (rows["kernel"] == kernel)
            & (rows["origin"] == origin)
            & (rows["target_year"] == target)
            & ~rows["method"].isin(["model", "average"])
        ]
        best = _best_single(pair)
        out.append(
            {
                "kernel": kernel,
                "origin → target": f"{origin} → {target}",
                "units": int(row["n_units"]),
                "model MdAPE %": _percent(row["mdape"]),
                "best baseline": "—" if best is None else best["method"],
                "its MdAPE %": "—" if best is None else _percent(best["mdape"]),
                "model MAPE %": _percent(row["mape"]),
                "bias %": _percent(row["median_log_error"]),
                "direction %": _percent(row["direction_accuracy"]),
                "best baseline direction %": "—"
                if best is None
                else _percent(pair["direction_accuracy"].max()),
                "model CRPS": "—" if pd.isna(row["crps"]) else f"{row['crps']:.4f}",
                "best baseline CRPS": "—"
                if best is None or pair["crps"].isna().all()
                else f"{pair['crps'].min():.4f}",
                "p05–p95 %": _percent(row["coverage_90"]),
                "p25–p75 %": _percent(row["coverage_50"]),
            }
        )
    return pd.DataFrame(out)


def _best_single(pair: pd.DataFrame) -> pd.Series | None:
    baselines = pair[~pair["method"].isin(["model", "average"])]
    return baselines.loc[baselines["mdape"].idxmin()] if len(baselines) else None


def skill_verdicts(skill: pd.DataFrame) -> list[str]:
    """One plain sentence per kernel: does the model beat the simple extrapolations, measured."""
    rows = skill[skill["size_class"] == "all"]
    verdicts = []
    municipal = rows[rows["kernel"] == "depopulation"]
    pairs = [
        (key, pair, _best_single(pair))
        for key, pair in municipal.groupby(["origin", "target_year"])
        if (pair["method"] == "model").any()
    ]
    pairs = [(key, pair, best) for key, pair, best in pairs if best is not None]
    if pairs:
        ratios = [
            float(pair.loc[pair["method"] == "model", "mdape"].iloc[0]) / float(best["mdape"])
            for _, pair, best in pairs
        ]
        better = sum(ratio < 1 for ratio in ratios)
        by_target = sum(ratio <= TARGET_RATIO for ratio in ratios)
        listed = ", ".join(
            f"{origin}→{target} {ratio:.2f}"
            for ((origin, target), _, _), ratio in zip(pairs, ratios, strict=True)
        )
        verdict = (
            f"Municipal population: the model's MdAPE beats the best single baseline's at "
            f"{better} of {len(pairs)} origin/target pairs, by 10 % or more at {by_target} "
            f"(model over best baseline: {listed})."
        )
        if better < len(pairs):
            verdict += (
                " Where it does not, a simple extrapolation was more accurate: read the published "
                "municipal forecast with the table below."
            )
        verdicts.append(verdict)
    remittances = rows[rows["kernel"] == "remittances"]
    if (remittances["method"] == "model").any():
        mape = remittances.groupby("method")["mape"].mean()
        baselines = mape.drop(index=["model"], errors="ignore")
        if len(baselines):
            best = baselines.idxmin()
            coverage = remittances.loc[remittances["method"] == "model", "coverage_90"].mean()
            verdicts.append(
                f"Remittances: the model's mean absolute percentage error is {_percent(mape['model'])} % "
                f"against {_percent(baselines[best])} % for the best baseline ({best}) over "
                f"{int((remittances['method'] == 'model').sum())} origin/target pairs; "
                f"{_percent(coverage)} % of outcomes fell inside its p05–p95."
            )
    return verdicts


def remittance_summary(skill: pd.DataFrame) -> pd.DataFrame:
    """Means over every remittance origin/target pair, per method."""
    rows = skill[(skill["kernel"] == "remittances") & (skill["size_class"] == "all")]
    if rows.empty:
        return pd.DataFrame()
    summary = rows.groupby("method").agg(
        pairs=("mape", "size"),
        mape=("mape", "mean"),
        crps=("crps", "mean"),
        coverage_90=("coverage_90", "mean"),
        coverage_50=("coverage_50", "mean"),
    )
    return pd.DataFrame(
        {
            "method": summary.index,
            "pairs": summary["pairs"].to_numpy(),
            "mean APE %": [_percent(v) for v in summary["mape"]],
            "mean CRPS": ["—" if pd.isna(v) else f"{v:.4f}" for v in summary["crps"]],
            "p05–p95 %": [_percent(v) for v in summary["coverage_90"]],
            "p25–p75 %": [_percent(v) for v in summary["coverage_50"]],
        }
    )


def remittance_by_horizon(skill: pd.DataFrame) -> pd.DataFrame:
    """Mean APE (%) per method (rows) and horizon in years (columns)."""
    rows = skill[(skill["kernel"] == "remittances") & (skill["size_class"] == "all")]
    table = rows.pivot_table(index="method", columns="horizon_years", values="mape", aggfunc="mean")
    table.columns = [f"{int(h)} y" for h in table.columns]
    return (100 * table).round(1)


def plot_coverage(skill: pd.DataFrame, path: Path) -> Path:
    """Model p05–p95 coverage by size quintile (depopulation) and horizon (remittances)."""
    model = skill[skill["method"] == "model"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    depopulation = model[(model["kernel"] == "depopulation") & (model["size_class"] != "all")]
    ax = axes[0]
    for (origin, target), rows in depopulation.groupby(["origin", "target_year"]):
        rows = rows.sort_values("size_class")
        ax.plot(rows["size_class"], rows["coverage_90"], marker="o", label=f"{origin}→{target}")
    ax.axhline(NOMINAL_90, color="black", linestyle="--", linewidth=1, label="nominal 90 %")
    ax.set_ylim(0.5, 1.02)
    ax.set_title("Municipal population: p05–p95 coverage", fontsize=10)
    ax.set_xlabel("size quintile at the origin (q1 smallest)")
    ax.legend(fontsize=8)
    remittances = model[model["kernel"] == "remittances"]
    ax = axes[1]
    if len(remittances):
        by_horizon = remittances.groupby("horizon_years")["coverage_90"].mean()
        ax.bar(by_horizon.index.astype(int).astype(str), by_horizon.to_numpy(), color="#4c72b0")
    ax.axhline(NOMINAL_90, color="black", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.05)
    ax.set_title("Remittances: share of years inside p05–p95", fontsize=10)
    ax.set_xlabel("horizon (years)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_remittance_fan(history: pd.DataFrame, fan: pd.DataFrame, path: Path) -> Path:
    """Observed annual remittances and the published forecast's bands, USD billion."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(history["year"], history["remittances_usd"] / 1e9, color="black", label="observed")
    fan = fan.sort_values("year")
    years = fan["year"]
    if fan["p05"].notna().all():
        ax.fill_between(years, fan["p05"] / 1e9, fan["p95"] / 1e9, alpha=0.2, label="p05–p95")
        ax.fill_between(years, fan["p25"] / 1e9, fan["p75"] / 1e9, alpha=0.35, label="p25–p75")
    ax.plot(years, fan["p50"] / 1e9, color="#c44e52", label="forecast (p50)")
    ax.set_ylabel("USD billion")
    ax.set_title("Remittances to Mexico: calibrated forecast from the latest year", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def municipal_outlook(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    """Published municipal forecast by CONAPO degree: municipalities whose p50 (and p95) for
    the last forecast year is below their population at the origin."""
    return _frame(
        con,
        """
        with published as (
            select f.unit as cve_mun, f.origin, f.year, f.p50, f.p95
            from fct_forecasts as f
            where f.kernel = 'depopulation' and f.is_published
        ),
        horizon as (select max(year) as year from published),
        base as (
            select cve_mun, census_year, population_total from fct_municipal_population
        ),
        degree as (
            select cve_mun, intensity_degree from fct_migration_intensity
            where index_year = (select max(index_year) from fct_migration_intensity)
        )
        select
            coalesce(degree.intensity_degree, 'no index') as intensity_degree,
            published.origin,
            published.year as forecast_year,
            count(*) as municipalities,
            count(*) filter (where published.p50 < base.population_total) as p50_below_origin,
            count(*) filter (where published.p95 < base.population_total) as p95_below_origin
        from published
        inner join horizon on published.year = horizon.year
        inner join base
            on base.cve_mun = published.cve_mun and base.census_year = published.origin
        left join degree on degree.cve_mun = published.cve_mun
        group by all
        order by municipalities desc
        """,
    )


def forecast_section(con: duckdb.DuckDBPyConnection, out_dir: Path):
    """The section (a :class:`reports.build.Section`), or None when the warehouse has no
    forecast skill rows (no census or remittance series to evaluate)."""
    from migsys.reports.build import Section

    skill = _frame(con, "select * from fct_forecast_skill")
    if skill is None or skill.empty:
        return None
    images: list[Path] = []
    parts = [f"<p>{html.escape(FORECAST_STATEMENT)}</p>"]
    parts += [
        f"<p><strong>{html.escape(verdict)}</strong></p>" for verdict in skill_verdicts(skill)
    ]
    table = skill_table(skill[skill["kernel"] == "depopulation"])
    if len(table):
        parts.append(
            "<h3>Municipal population: the model against the best single baseline, every "
            "origin and target (size quintiles in the coverage plot)</h3>"
        )
        parts.append(table.to_html(index=False, border=0, na_rep="—"))
    summary = remittance_summary(skill)
    if len(summary):
        parts.append(
            "<h3>Remittances: means over every origin/target pair (2003–2014 origins)</h3>"
        )
        parts.append(summary.to_html(index=False, border=0, na_rep="—"))
        parts.append("<h3>Remittances: mean absolute percentage error by horizon</h3>")
        parts.append(remittance_by_horizon(skill).to_html(border=0, na_rep="—"))
    image = plot_coverage(skill, out_dir / "forecast_coverage.png")
    images.append(image)
    parts.append(f'<p><img src="{image.name}" alt="p05–p95 coverage of the forecasts"></p>')
    fan = _frame(
        con,
        "select year, p05, p25, p50, p75, p95 from fct_forecasts "
        "where kernel = 'remittances' and is_published order by year",
    )
    history = _frame(
        con,
        "select year, remittances_usd from fct_remittances_annual where months_observed = 12 "
        "order by year",
    )
    if fan is not None and len(fan) and history is not None and len(history):
        image = plot_remittance_fan(history, fan, out_dir / "remittance_forecast.png")
        images.append(image)
        parts.append(f'<p><img src="{image.name}" alt="remittance forecast fan"></p>')
    outlook = municipal_outlook(con)
    if outlook is not None and len(outlook):
        parts.append(
            "<h3>Published municipal forecast: municipalities projected below their origin "
            "population</h3>"
        )
        parts.append(outlook.to_html(index=False, border=0))
    return Section(
        SECTION_ID,
        TITLE,
        "\n".join(parts),
        note="Scores: fct_forecast_skill; forecasts: fct_forecasts (is_published marks the "
        "forecast from the latest data). `migsys backtest --help` explains origins, horizons "
        "and scores.",
        images=tuple(images),
    )
