"""Figures of an analysed study, as EMA Workbench users expect them (``sweep analyze --plots``).

- ``envelope_<series>.png``: each kept yearly series: the range of all scenarios, the 5–95 and
  25–75 % bands, the median, a few individual scenarios and the observed history the
  warehouse holds (``sweeps.observed``), in USD bn or millions (``sweeps.labels``);
- ``sensitivity_<outcome>.png``: Sobol S1 and ST (or RBD-FAST S1) with their intervals (the
  level in the legend), or Morris mu* against sigma, titled "What drives … in 2030?";
- ``prim_tradeoff_<rule>_box<k>.png``: coverage against density along each PRIM peeling
  and pasting trajectory, coloured by the number of restricted inputs, the chosen box marked.

Drawn with Matplotlib's Agg canvas (no display, no global backend change) into
``<study>/plots/``; each file is written atomically and figures of earlier analyses that this
one does not draw are removed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from migsys.sweeps import store
from migsys.sweeps.analysis import Analysis, read_column, stored_spec, verified_study
from migsys.sweeps.labels import at_horizon, interval_note, output_words, scale_for
from migsys.sweeps.models import series_column
from migsys.sweeps.observed import Observed, observed_series
from migsys.warehouse import files

PLOTS_DIR = "plots"
SAMPLE_PATHS = 30
OBSERVED_YEARS_BEFORE = 15  # history drawn before the first projected year


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    files.atomic_write_bytes(path, buffer.getvalue())
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _plain_axis(axes) -> None:
    """Ticks as written numbers: no ``1e11`` offset or scientific notation above the axis."""
    axes.ticklabel_format(axis="y", style="plain", useOffset=False)


def envelope_figure(
    study_dir: store.StudyDir,
    record: dict,
    output: dict,
    bands: pd.DataFrame,
    parts: list[Path],
    observed: Observed | None = None,
) -> Figure:
    """Range, quantile bands, median and sample paths of one series, over its observed history,
    in units people read (USD bn per year, million people)."""
    years = [int(y) for y in output["years"]]
    n = int(record["n_scenarios"])
    scale = scale_for(output.get("unit"))
    values = (
        np.column_stack(
            [read_column(study_dir, series_column(output["name"], y), n, parts) for y in years]
        )
        / scale.divisor
    )
    rng = np.random.default_rng(0)
    sample = rng.choice(n, size=min(SAMPLE_PATHS, n), replace=False)
    figure = Figure(figsize=(7.5, 4.4))
    axes = figure.add_subplot()
    axes.fill_between(
        years, values.min(axis=0), values.max(axis=0), color="0.9", label="all scenarios"
    )
    own = bands[bands["series"] == output["name"]].pivot(
        index="year", columns="quantile", values="value"
    )
    own = own / scale.divisor
    for low, high, shade in ((0.05, 0.95, 0.55), (0.25, 0.75, 0.35)):
        if low in own.columns and high in own.columns:
            axes.fill_between(
                own.index,
                own[low],
                own[high],
                color="tab:blue",
                alpha=1 - shade,
                label=f"{high - low:.0%} of scenarios ({low:.0%}–{high:.0%})".replace("%", " %"),
            )
    for position, row in enumerate(values[sample]):
        axes.plot(
            years,
            row,
            color="0.3",
            linewidth=0.4,
            alpha=0.5,
            label=f"{len(sample)} scenarios drawn at random" if position == 0 else None,
        )
    if 0.5 in own.columns:
        axes.plot(own.index, own[0.5], color="tab:blue", linewidth=2, label="median scenario")
    if observed is not None:
        history = observed.values[observed.values.index >= years[0] - OBSERVED_YEARS_BEFORE]
        axes.plot(
            history.index,
            history.to_numpy() / scale.divisor,
            color="black",
            marker="o",
            markersize=3,
            linewidth=1.2,
            label=f"observed ({observed.source})",
        )
    description = output.get("description") or output["name"].replace("_", " ")
    axes.set_title(
        f"{description[:1].upper()}{description[1:]}, {years[0]}–{years[-1]}: "
        f"{n:,} scenarios of study {record['name']}"
    )
    axes.set_xlabel("year")
    axes.set_ylabel(f"{description} ({scale.unit})")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    _plain_axis(axes)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return figure


def sensitivity_figure(
    name: str,
    outcome: str,
    rows: pd.DataFrame,
    *,
    kernel: str,
    horizon: int | None,
    conf_level: float,
) -> Figure:
    """Sobol/RBD-FAST indices with intervals, or Morris mu* against sigma; titled in words
    ("What drives remittances in 2030?"), the interval level stated under the axes."""
    figure = Figure(figsize=(7.5, 4.4))
    axes = figure.add_subplot()
    method = rows["method"].iloc[0]
    words = output_words(kernel, outcome)
    subject = at_horizon(words.description, horizon)
    if method == "morris":
        table = rows.pivot(index="parameter", columns="index", values="value")
        axes.scatter(table["mu_star"], table["sigma"])
        for parameter, row in table.iterrows():
            axes.annotate(parameter, (row["mu_star"], row["sigma"]), fontsize="small")
        unit = scale_for(words.unit).unit
        axes.set_xlabel(f"mu*: mean absolute elementary effect ({unit})")
        axes.set_ylabel(f"sigma: interactions and non-linearity ({unit})")
        axes.set_title(f"What drives {subject}? Morris screening of study {name}")
        _plain_axis(axes)
        return figure
    indices = [i for i in ("S1", "ST") if i in set(rows["index"])]
    parameters = list(dict.fromkeys(rows["parameter"]))
    width = 0.8 / len(indices)
    labels = {"S1": "first order (S1)", "ST": "total (ST)"}
    for k, index in enumerate(indices):
        part = rows[rows["index"] == index].set_index("parameter").reindex(parameters)
        positions = np.arange(len(parameters)) + k * width
        axes.bar(
            positions,
            part["value"],
            width,
            yerr=part["conf"].fillna(0.0),
            capsize=3,
            label=labels.get(index, index),
        )
    axes.set_xticks(np.arange(len(parameters)) + width * (len(indices) - 1) / 2)
    axes.set_xticklabels(parameters, rotation=30, ha="right")
    axes.axhline(0.0, color="0.5", linewidth=0.6)
    method_name = {"sobol": "Sobol", "rbd_fast": "RBD-FAST"}.get(method, method)
    axes.set_ylabel(f"{method_name} index (share of the variance)")
    axes.set_title(f"What drives {subject}? {method_name} indices of study {name}")
    axes.legend(title=interval_note(conf_level), fontsize="small", title_fontsize="small")
    return figure


def prim_tradeoff_figure(name: str, steps: pd.DataFrame) -> Figure:
    """Coverage against density along a PRIM trajectory (EMA Workbench's ``show_tradeoff``)."""
    figure = Figure(figsize=(6.0, 4.6))
    axes = figure.add_subplot()
    points = axes.scatter(
        steps["coverage"], steps["density"], c=steps["n_restricted"], cmap="viridis", s=18
    )
    bar = figure.colorbar(points, ax=axes, label="restricted inputs")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    chosen = steps[steps["chosen"]]
    axes.scatter(
        chosen["coverage"],
        chosen["density"],
        s=120,
        facecolors="none",
        edgecolors="red",
        label="chosen box",
    )
    axes.set_xlabel("coverage")
    axes.set_ylabel("density")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    first = steps.iloc[0]
    axes.set_title(f"{name}: {first['rule']} (box {int(first['box'])})")
    axes.legend(loc="lower left", fontsize="small")
    return figure


def write_plots(
    root: Path, name: str, analysis: Analysis, warehouse: Path | None = None
) -> list[Path]:
    """Draw the figures of study ``name`` (under ``root``) into its ``plots/`` folder; the
    envelopes carry the observed history ``warehouse`` holds of their series."""
    check = verified_study(root, name)
    record = check.record
    spec = stored_spec(check)
    study_dir = store.StudyDir(check.directory)
    parts = check.part_files()
    folder = check.directory / PLOTS_DIR
    written: list[Path] = []
    for output in record["outputs"]:
        if output["kind"] == "series":
            figure = envelope_figure(
                study_dir,
                record,
                output,
                analysis.series_quantiles,
                parts,
                observed_series(warehouse, output["name"]),
            )
            written.append(_save(figure, folder / f"envelope_{_slug(output['name'])}.png"))
    horizon = int(record["years"][-1]) if record.get("years") else None
    for outcome, rows in analysis.sensitivity.groupby("outcome", sort=False):
        first_order = rows[rows["parameter_2"].isna()]
        if len(first_order):
            figure = sensitivity_figure(
                name,
                str(outcome),
                first_order,
                kernel=spec.kernel,
                horizon=horizon,
                conf_level=spec.analysis.conf_level,
            )
            written.append(_save(figure, folder / f"sensitivity_{_slug(str(outcome))}.png"))
    trajectories = analysis.prim_trajectories
    for (rule, box), steps in trajectories.groupby(["rule", "box"], sort=False):
        label = str(rule).replace(">", "above").replace("<", "below")
        figure = prim_tradeoff_figure(name, steps)
        written.append(_save(figure, folder / f"prim_tradeoff_{_slug(label)}_box{int(box)}.png"))
    for stale in folder.glob("*.png"):
        if stale not in written:
            stale.unlink()
    return written
