"""The report's "How good are these projections?" section: the published forecast, the rule that
chose it, its record against each baseline, the targets met and missed, and calibrated fans.

Reads the forecast marts (``fct_forecast_skill``, ``fct_forecast_method_choice``,
``fct_forecasts``) of the published warehouse and returns one HTML section with:

- a plain statement of what is a *forecast* here (the published method's p05–p95, calibrated on
  its own errors at earlier origins) and what is a *sensitivity range* (the standing studies'
  sweeps over stated parameter ranges — where the spread comes from, not how likely an outcome
  is);
- which method is published for each kernel and the rule, fixed on the early pairs, that chose
  it (``docs/forecast_method.md``, copied beside the report and linked);
- every target of :mod:`projections.targets`, measured, with met or missed;
- the municipal skill tables: per origin/target pair, the published method's MdAPE next to every
  single baseline's and the average's; its direction accuracy and decline detection (recall,
  precision, F1) next to the best single baseline's; its p05–p95 coverage by size quintile;
- the remittance tables: every method's mean error on the pairs the rule was chosen on and on the
  later ones, and by horizon;
- a coverage plot and the remittance forecast fan, and the published municipal forecast by
  CONAPO degree.

``reports.build`` calls :func:`forecast_section` (it returns a ``reports.sections.Section``).
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator, ScalarFormatter  # noqa: E402

from migsys.projections.baselines import AVERAGE, SINGLE_BASELINES  # noqa: E402
from migsys.projections.methods import MODEL, REMITTANCE_BASELINES  # noqa: E402
from migsys.projections.targets import (  # noqa: E402
    JUDGED_FIRST_ORIGIN,
    Target,
    municipal_targets,
    remittance_targets,
)
from migsys.reports.sections import Section  # noqa: E402
from migsys.warehouse.paths import PACKAGE_ROOT  # noqa: E402

SECTION_ID = "forecast"  # the anchor reports.build links to
TITLE = "How good are these projections?"
NOMINAL_90 = 0.90
METHOD_DOC = PACKAGE_ROOT / "docs" / "forecast_method.md"
METHOD_DOC_NAME = "forecast_method.md"
METHOD_WORDS = {
    "model": "the cohort-component share model",
    "zero_growth": "zero growth",
    "linear": "the linear trend",
    "exponential": "the exponential trend",
    "share_of_state": "the share of the state",
    "damped_trend": "the damped trend on census decades",
    "average": "the average of the five simple extrapolations",
    "average_with_model": "the average of the five simple extrapolations and the model",
    "model_and_average": (
        "half the cohort-component share model, half the average of the five simple extrapolations"
    ),
    "corrected_average": "the extrapolations' average with a learned correction",
    "last_level": "the last level",
    "drift": "the drift",
    "damped_ets": "damped-trend exponential smoothing",
    "model_and_last_level": "the model and the last level, equally weighted",
}
INTERVAL_WORDS = {
    "per_root_year": "every earlier error per √year, pooled over horizons",
    "per_year": "every earlier error per year, pooled over horizons",
    "per_horizon": "every earlier error of the same horizon",
}
FORECAST_STATEMENT = (
    "A forecast here is the published method's probabilistic projection: its p50 is the "
    "forecast and its p05–p95 band is calibrated on the errors the same method made at earlier "
    "origins (by size and growth class for municipalities; from every earlier error, all "
    "regimes, for remittances), so that about 90 % of outcomes should fall inside it. Every "
    "method is scored only on years it could not see, and the published method was chosen by "
    "a rule that saw only the early pairs. The fan charts of the standing studies elsewhere in "
    "this report are not forecasts: they are sensitivity ranges — what the cohort-component "
    "kernel does across the parameter ranges their specs state — and show what drives the "
    "spread, not how likely an outcome is."
)


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame | None:
    try:
        return con.execute(sql).df()
    except duckdb.Error:
        return None


def _percent(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * value:.1f}"


REMITTANCE_MODEL_WORDS = (
    "operations × average amount, moved by the Mexican-born stock in the US and the US economy"
)


def _words(method: str, kernel: str = "depopulation") -> str:
    if kernel == "remittances" and method == MODEL:
        return REMITTANCE_MODEL_WORDS
    return METHOD_WORDS.get(method, method)


def published_method(skill: pd.DataFrame, kernel: str) -> str:
    """The method the warehouse flags as published for ``kernel`` (the model when none is)."""
    if "is_published_method" in skill.columns:
        flagged = skill[(skill["kernel"] == kernel) & skill["is_published_method"].astype(bool)]
        if len(flagged):
            return str(flagged["method"].iloc[0])
    return MODEL


def choice_paragraphs(choice: pd.DataFrame | None, skill: pd.DataFrame) -> list[str]:
    """One paragraph per kernel: the published method, the rule that chose it, its record."""
    out = []
    for kernel, noun in (("depopulation", "Municipal population"), ("remittances", "Remittances")):
        if not (skill["kernel"] == kernel).any():
            continue
        method = published_method(skill, kernel)
        text = f"{noun}: the published forecast is {method} ({_words(method, kernel)})."
        rows = None if choice is None else choice[choice["kernel"] == kernel]
        if rows is not None and len(rows):
            picked = rows[(rows["choice"] == "method")].sort_values("value")
            text += f" It was chosen by a rule fixed before the later pairs were scored: {rows['rule'].iloc[0]}."
            if picked["value"].notna().any():
                listed = ", ".join(
                    f"{row.candidate} {row.value:.3f}" for row in picked.itertuples()
                )
                text += (
                    f" Its criterion over {int(picked['pairs'].iloc[0])} selection pairs "
                    f"({picked['criterion'].iloc[0]}, lower is better): {listed}."
                )
            rule = rows[(rows["choice"] == "interval_rule") & rows["is_chosen"]]
            if len(rule):
                name = str(rule["candidate"].iloc[0])
                text += f" Its intervals read {INTERVAL_WORDS.get(name, name)} ({name})."
        out.append(text)
    return out


def _measure_text(target: Target, value: float) -> str:
    """A ratio to three decimals; a share in %; a difference of shares in percentage points."""
    if target.unit == "ratio":
        return f"{value:.3f}"
    if target.unit == "difference":
        return f"{100 * value:+.1f} pp"
    return f"{100 * value:.1f} %"


def _bound_text(target: Target) -> str:
    if isinstance(target.bound, tuple):
        low, high = target.bound
        return f"{_measure_text(target, low)} to {_measure_text(target, high)}"
    sign = "≥" if target.higher_is_better else "≤"
    return f"{sign} {_measure_text(target, target.bound)}"


def targets_table(targets: list[Target]) -> pd.DataFrame:
    """Every target: what it measures, the value, the bound, met or missed."""
    return pd.DataFrame(
        {
            "target": [t.label for t in targets],
            "measured": [_measure_text(t, t.value) for t in targets],
            "bound": [_bound_text(t) for t in targets],
            "result": ["met" if t.met else "missed" for t in targets],
        }
    )


def _all_units(skill: pd.DataFrame, kernel: str) -> pd.DataFrame:
    return skill[(skill["kernel"] == kernel) & (skill["size_class"] == "all")]


def municipal_mdape_table(skill: pd.DataFrame, method: str) -> pd.DataFrame:
    """MdAPE (%) of the published method, every single baseline and the average, per pair."""
    rows = _all_units(skill, "depopulation")
    pairs = rows[rows["method"] == method][["origin", "target_year", "n_units"]]
    out = []
    for pair in pairs.sort_values(["origin", "target_year"]).itertuples():
        here = rows[
            (rows["origin"] == pair.origin) & (rows["target_year"] == pair.target_year)
        ].set_index("method")["mdape"]
        singles = here.reindex(list(SINGLE_BASELINES))
        record = {
            "origin → target": f"{pair.origin} → {pair.target_year}",
            "units": int(pair.n_units),
            f"{method} (published)": _percent(here[method]),
        }
        record.update({name: _percent(singles[name]) for name in SINGLE_BASELINES})
        record[AVERAGE] = _percent(here.get(AVERAGE))
        if method != MODEL and MODEL in here.index:
            record[MODEL] = _percent(here[MODEL])
        record["published over best single"] = f"{here[method] / singles.min():.3f}"
        out.append(record)
    return pd.DataFrame(out)


def municipal_detail_table(skill: pd.DataFrame, method: str) -> pd.DataFrame:
    """Direction and decline detection of the published method next to the best single
    baseline's, and its p05–p95 coverage overall and by size quintile (%), per pair."""
    kernel = skill[skill["kernel"] == "depopulation"]
    rows = _all_units(skill, "depopulation")
    out = []
    for (origin, target), pair in rows.groupby(["origin", "target_year"]):
        if method not in set(pair["method"]):
            continue
        mine = pair.set_index("method").loc[method]
        singles = pair[pair["method"].isin(SINGLE_BASELINES)]
        coverage = kernel[
            (kernel["method"] == method)
            & (kernel["origin"] == origin)
            & (kernel["target_year"] == target)
        ].set_index("size_class")["coverage_90"]
        record = {
            "origin → target": f"{origin} → {target}",
            "direction %": _percent(mine["direction_accuracy"]),
            "best single direction %": _percent(singles["direction_accuracy"].max()),
            "decline recall %": _percent(mine["decline_recall"]),
            "decline precision %": _percent(mine["decline_precision"]),
            "decline F1 %": _percent(mine["decline_f1"]),
            "best single F1 %": _percent(singles["decline_f1"].max()),
        }
        for size in ("all", "q1", "q2", "q3", "q4", "q5"):
            record[f"p05–p95 % {size}"] = _percent(coverage.get(size))
        out.append(record)
    return pd.DataFrame(out)


def remittance_summary(skill: pd.DataFrame) -> pd.DataFrame:
    """Means per method over the pairs the rule was chosen on and over the later origins."""
    rows = _all_units(skill, "remittances")
    if rows.empty:
        return pd.DataFrame()
    first = JUDGED_FIRST_ORIGIN["remittances"]
    parts = {
        "chosen on (targets ≤ 2012)": rows[rows["target_year"] <= 2012],
        f"judged on (origins {first}–{int(rows['origin'].max())})": rows[rows["origin"] >= first],
    }
    out = []
    for span, part in parts.items():
        summary = part.groupby("method").agg(
            pairs=("mape", "size"),
            mape=("mape", "mean"),
            crps=("crps", "mean"),
            coverage_90=("coverage_90", "mean"),
            coverage_50=("coverage_50", "mean"),
        )
        for method, row in summary.iterrows():
            out.append(
                {
                    "pairs": span,
                    "method": method,
                    "n": int(row["pairs"]),
                    "mean APE %": _percent(row["mape"]),
                    "mean CRPS": "—" if pd.isna(row["crps"]) else f"{row['crps']:.4f}",
                    "p05–p95 %": _percent(row["coverage_90"]),
                    "p25–p75 %": _percent(row["coverage_50"]),
                }
            )
    return pd.DataFrame(out)


def remittance_by_horizon(skill: pd.DataFrame, first_origin: int = 0) -> pd.DataFrame:
    """Mean APE (%, one decimal) per method (rows) and horizon in years (columns), over the
    origins from ``first_origin``."""
    rows = _all_units(skill, "remittances")
    rows = rows[rows["origin"] >= first_origin]
    table = rows.pivot_table(index="method", columns="horizon_years", values="mape", aggfunc="mean")
    table.columns = [f"{int(h)} y" for h in table.columns]
    return table.map(_percent)


def skill_verdicts(skill: pd.DataFrame) -> list[str]:
    """One plain sentence per kernel: does the published method beat the simple
    extrapolations, measured."""
    rows = skill[skill["size_class"] == "all"]
    verdicts = []
    method = published_method(skill, "depopulation")
    municipal = rows[rows["kernel"] == "depopulation"]
    ratios = []
    for (origin, target), pair in municipal.groupby(["origin", "target_year"]):
        singles = pair[pair["method"].isin(SINGLE_BASELINES)]
        if method in set(pair["method"]) and len(singles):
            mine = float(pair.loc[pair["method"] == method, "mdape"].iloc[0])
            ratios.append((origin, target, mine / float(singles["mdape"].min())))
    if ratios:
        better = sum(ratio < 1 for _, _, ratio in ratios)
        listed = ", ".join(f"{o}→{t} {ratio:.2f}" for o, t, ratio in ratios)
        verdict = (
            f"Municipal population: the published method ({method}) beats the best single "
            f"baseline's MdAPE at {better} of {len(ratios)} origin/target pairs (published over "
            f"best baseline: {listed})."
        )
        if better < len(ratios):
            verdict += (
                " Where it does not, a simple extrapolation was more accurate; the table below "
                "names it."
            )
        verdicts.append(verdict)
    remittances = rows[rows["kernel"] == "remittances"]
    method = published_method(skill, "remittances")
    if (remittances["method"] == method).any():
        judged = remittances[remittances["origin"] >= JUDGED_FIRST_ORIGIN["remittances"]]
        part = judged if len(judged) else remittances
        mape = part.groupby("method")["mape"].mean()
        baselines = mape.reindex([m for m in REMITTANCE_BASELINES if m in mape.index])
        if len(baselines):
            best = baselines.idxmin()
            coverage = part.loc[part["method"] == method, "coverage_90"].mean()
            span = (
                f"origins {int(part['origin'].min())}–{int(part['origin'].max())}, "
                f"{int((part['method'] == method).sum())} origin/target pairs"
            )
            verdicts.append(
                f"Remittances ({span}): the published method's ({method}) mean absolute "
                f"percentage error is {_percent(mape[method])} % against "
                f"{_percent(baselines[best])} % for the best baseline ({best}); "
                f"{_percent(coverage)} % of outcomes fell inside its p05–p95."
            )
    return verdicts


def _plain_axes(ax) -> None:
    """No offset or scientific notation on either axis; whole years on the x axis."""
    for axis in (ax.xaxis, ax.yaxis):
        formatter = ScalarFormatter(useOffset=False)
        formatter.set_scientific(False)
        axis.set_major_formatter(formatter)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def coverage_figure(skill: pd.DataFrame):
    """The published methods' p05–p95 coverage by size quintile (municipalities) and by horizon
    (remittances) against the nominal 90 %, in %."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    method = published_method(skill, "depopulation")
    depopulation = skill[
        (skill["kernel"] == "depopulation")
        & (skill["method"] == method)
        & (skill["size_class"] != "all")
    ]
    ax = axes[0]
    for (origin, target), rows in depopulation.groupby(["origin", "target_year"]):
        rows = rows.sort_values("size_class")
        ax.plot(
            rows["size_class"], 100 * rows["coverage_90"], marker="o", label=f"{origin}→{target}"
        )
    ax.axhline(100 * NOMINAL_90, color="black", linestyle="--", linewidth=1, label="nominal 90 %")
    ax.set_ylim(50, 102)
    ax.set_title("Municipalities inside the published forecast's 90 % band", fontsize=10)
    ax.set_xlabel("size quintile at the origin (q1 smallest)")
    ax.set_ylabel("municipalities inside p05–p95 (%)")
    ax.legend(fontsize=8)
    method = published_method(skill, "remittances")
    remittances = skill[(skill["kernel"] == "remittances") & (skill["method"] == method)]
    ax = axes[1]
    first = JUDGED_FIRST_ORIGIN["remittances"]
    for label, part, colour in (
        ("chosen on (targets ≤ 2012)", remittances[remittances["target_year"] <= 2012], "#8c8c8c"),
        (f"judged on (origins ≥ {first})", remittances[remittances["origin"] >= first], "#4c72b0"),
    ):
        if len(part):
            by_horizon = part.groupby("horizon_years")["coverage_90"].mean()
            offset = -0.2 if colour == "#8c8c8c" else 0.2
            ax.bar(
                by_horizon.index.astype(float) + offset,
                100 * by_horizon.to_numpy(),
                width=0.4,
                color=colour,
                label=label,
            )
    ax.axhline(100 * NOMINAL_90, color="black", linestyle="--", linewidth=1)
    ax.set_ylim(0, 105)
    ax.set_title("Years inside the published remittance forecast's 90 % band", fontsize=10)
    ax.set_xlabel("years ahead of the origin")
    ax.set_ylabel("years inside p05–p95 (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def fan_figure(history: pd.DataFrame, fan: pd.DataFrame):
    """Observed annual remittances and the published forecast's bands, in USD billion."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.plot(history["year"], history["remittances_usd"] / 1e9, color="black", label="observed")
    fan = fan.sort_values("year")
    years = fan["year"]
    if fan["p05"].notna().all():
        ax.fill_between(years, fan["p05"] / 1e9, fan["p95"] / 1e9, alpha=0.2, label="p05–p95")
        ax.fill_between(years, fan["p25"] / 1e9, fan["p75"] / 1e9, alpha=0.35, label="p25–p75")
    ax.plot(years, fan["p50"] / 1e9, color="#c44e52", label="forecast (p50)")
    origin = int(fan["origin"].iloc[0]) if "origin" in fan.columns else None
    start = f" from {origin}" if origin is not None else ""
    ax.set_title(f"Remittances to Mexico: observed, and the published forecast{start}", fontsize=10)
    ax.set_xlabel("year")
    ax.set_ylabel("remittances (USD billion)")
    _plain_axes(ax)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> Path:
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


def _method_doc_link(out_dir: Path) -> str:
    """A link to the rule's full statement, copied beside the report when the checkout has it."""
    if METHOD_DOC.is_file():
        shutil.copyfile(METHOD_DOC, out_dir / METHOD_DOC_NAME)
        return (
            f"The rule, the candidates and the record they were chosen on: "
            f'<a href="{METHOD_DOC_NAME}">forecast_method.md</a> (docs/forecast_method.md).'
        )
    return "The rule, the candidates and the record they were chosen on: docs/forecast_method.md."


def _table(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_html(index=index, border=0, na_rep="—")


def forecast_section(con: duckdb.DuckDBPyConnection, out_dir: Path) -> Section | None:
    """The section (a :class:`reports.sections.Section`), or None when the warehouse has no
    forecast skill rows (no census or remittance series to evaluate)."""
    skill = _frame(con, "select * from fct_forecast_skill")
    if skill is None or skill.empty:
        return None
    choice = _frame(con, "select * from fct_forecast_method_choice")
    images: list[Path] = []
    parts = [f"<p>{html.escape(FORECAST_STATEMENT)}</p>", "<h3>Which forecast is published</h3>"]
    parts += [f"<p>{html.escape(text)}</p>" for text in choice_paragraphs(choice, skill)]
    parts.append(f"<p>{_method_doc_link(out_dir)}</p>")
    parts += [
        f"<p><strong>{html.escape(verdict)}</strong></p>" for verdict in skill_verdicts(skill)
    ]
    municipal = published_method(skill, "depopulation")
    remittance = published_method(skill, "remittances")
    targets = municipal_targets(skill, municipal) + remittance_targets(skill, remittance)
    if targets:
        missed = sum(not t.met for t in targets)
        parts.append(
            f"<h3>The targets of the published forecasts: {len(targets) - missed} met, "
            f"{missed} missed</h3>"
        )
        parts.append(_table(targets_table(targets)))
    mdape = municipal_mdape_table(skill, municipal)
    if len(mdape):
        parts.append(
            "<h3>Municipal population: MdAPE (%) of the published method and of each baseline, "
            "every origin and target</h3>"
        )
        parts.append(_table(mdape))
        parts.append(
            "<h3>Municipal population: direction, depopulation detection and coverage of the "
            "published method (a decline is called when the p50 is below the origin "
            "population)</h3>"
        )
        parts.append(_table(municipal_detail_table(skill, municipal)))
    summary = remittance_summary(skill)
    if len(summary):
        parts.append("<h3>Remittances: means over the origin/target pairs</h3>")
        parts.append(_table(summary))
        first = JUDGED_FIRST_ORIGIN["remittances"]
        parts.append(
            f"<h3>Remittances: mean absolute percentage error (%) by horizon, origins from "
            f"{first}</h3>"
        )
        parts.append(_table(remittance_by_horizon(skill, first), index=True))
    image = _save(coverage_figure(skill), out_dir / "forecast_coverage.png")
    images.append(image)
    parts.append(f'<p><img src="{image.name}" alt="p05–p95 coverage of the forecasts"></p>')
    fan = _frame(
        con,
        "select origin, year, p05, p25, p50, p75, p95 from fct_forecasts "
        "where kernel = 'remittances' and is_published order by year",
    )
    history = _frame(
        con,
        "select year, remittances_usd from fct_remittances_annual where months_observed = 12 "
        "order by year",
    )
    if fan is not None and len(fan) and history is not None and len(history):
        image = _save(fan_figure(history, fan), out_dir / "remittance_forecast.png")
        images.append(image)
        parts.append(f'<p><img src="{image.name}" alt="remittance forecast fan"></p>')
    outlook = municipal_outlook(con)
    if outlook is not None and len(outlook):
        parts.append(
            "<h3>Published municipal forecast: municipalities projected below their origin "
            "population</h3>"
        )
        parts.append(_table(outlook))
    return Section(
        SECTION_ID,
        TITLE,
        "\n".join(parts),
        note="Scores: fct_forecast_skill; the choice: fct_forecast_method_choice; forecasts: "
        "fct_forecasts (is_published marks the forecast from the latest data). "
        "`migsys backtest --help` explains origins, horizons and scores.",
        images=tuple(images),
    )
