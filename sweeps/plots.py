"""Figures of an analysed study, as EMA Workbench users expect them (``sweep analyze --plots``).

- ``envelope_<series>.png``: each kept yearly series: the range of all scenarios, the 5–95 and
  25–75 % bands, the median and a few individual scenarios;
- ``sensitivity_<outcome>.png``: Sobol S1 and ST (or RBD-FAST S1) with their intervals, or
  Morris mu* against sigma;
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
from migsys.sweeps.analysis import Analysis, read_column, verified_study
from migsys.sweeps.models import series_column

PLOTS_DIR = "plots"
SAMPLE_PATHS = 30


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    store.atomic_write_bytes(path, buffer.getvalue())
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def envelope_figure(
    study_dir: store.StudyDir, record: dict, output: dict, bands: pd.DataFrame, parts: list[Path]
) -> Figure:
    """Range, quantile bands, median and sample paths of one series."""
    years = [int(y) for y in output["years"]]
    n = int(record["n_scenarios"])
    values = np.column_stack(
        [read_column(study_dir, series_column(output["name"], y), n, parts) for y in years]
    )
    rng = np.random.default_rng(0)
    sample = rng.choice(n, size=min(SAMPLE_PATHS, n), replace=False)
    figure = Figure(figsize=(7.5, 4.2))
    axes = figure.add_subplot()
    axes.fill_between(years, values.min(axis=0), values.max(axis=0), color="0.9", label="all")
    own = bands[bands["series"] == output["name"]].pivot(
        index="year", columns="quantile", values="value"
    )
    for low, high, shade in ((0.05, 0.95, 0.55), (0.25, 0.75, 0.35)):
        if low in own.columns and high in own.columns:
            axes.fill_between(
                own.index,
                own[low],
                own[high],
                color="tab:blue",
                alpha=1 - shade,
                label=f"{low:.0%}–{high:.0%}",
            )
    for row in values[sample]:
        axes.plot(years, row, color="0.3", linewidth=0.4, alpha=0.5)
    if 0.5 in own.columns:
        axes.plot(own.index, own[0.5], color="tab:blue", linewidth=2, label="median")
    axes.set_title(f"{record['name']}: {output['description'] or output['name']}")
    axes.set_xlabel("year")
    axes.set_ylabel(f"{output['name']} ({output['unit']})")
    axes.legend(loc="best", fontsize="small")
    return figure


def sensitivity_figure(name: str, outcome: str, rows: pd.DataFrame) -> Figure:
    """Sobol/RBD-FAST indices with intervals, or Morris mu* against sigma."""
    figure = Figure(figsize=(7.5, 4.2))
    axes = figure.add_subplot()
    method = rows["method"].iloc[0]
    if method == "morris":
        table = rows.pivot(index="parameter", columns="index", values="value")
        axes.scatter(table["mu_star"], table["sigma"])
        for parameter, row in table.iterrows():
            axes.annotate(parameter, (row["mu_star"], row["sigma"]), fontsize="small")
        axes.set_xlabel("mu* (mean absolute elementary effect)")
        axes.set_ylabel("sigma (interactions, non-linearity)")
    else:
        indices = [i for i in ("S1", "ST") if i in set(rows["index"])]
        parameters = list(dict.fromkeys(rows["parameter"]))
        width = 0.8 / len(indices)
        for k, index in enumerate(indices):
            part = rows[rows["index"] == index].set_index("parameter").reindex(parameters)
            positions = np.arange(len(parameters)) + k * width
            axes.bar(
                positions,
                part["value"],
                width,
                yerr=part["conf"].fillna(0.0),
                capsize=3,
                label=index,
            )
        axes.set_xticks(np.arange(len(parameters)) + width * (len(indices) - 1) / 2)
        axes.set_xticklabels(parameters, rotation=30, ha="right")
        axes.axhline(0.0, color="0.5", linewidth=0.6)
        axes.set_ylabel(f"{method} index")
        axes.legend()
    axes.set_title(f"{name}: sensitivity of {outcome}")
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


def write_plots(root: Path, name: str, analysis: Analysis) -> list[Path]:
    """Draw the figures of study ``name`` (under ``root``) into its ``plots/`` folder."""
    check = verified_study(root, name)
    record = check.record
    study_dir = store.StudyDir(check.directory)
    parts = check.part_files()
    folder = check.directory / PLOTS_DIR
    written: list[Path] = []
    for output in record["outputs"]:
        if output["kind"] == "series":
            figure = envelope_figure(study_dir, record, output, analysis.series_quantiles, parts)
            written.append(_save(figure, folder / f"envelope_{_slug(output['name'])}.png"))
    for outcome, rows in analysis.sensitivity.groupby("outcome", sort=False):
        first_order = rows[rows["parameter_2"].isna()]
        if len(first_order):
            figure = sensitivity_figure(name, str(outcome), first_order)
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
