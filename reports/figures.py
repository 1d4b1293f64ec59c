"""The report's figures: matplotlib, Agg backend, PNG files with title, units and source.

Each function takes plain DataFrames (already queried) and the path to write, and returns that
path; none of them touches the warehouse.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers, containers or CI

import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from migsys.reports.labels import DEGREE_LABELS  # noqa: E402
from migsys.sweeps.labels import interval_note  # noqa: E402

FIGURE_SIZE = (8.0, 4.5)
FIGURE_DPI = 110


def _save(fig: Figure, path: Path, source: str) -> Path:
    """Stamp the source under the axes, write the PNG and free the figure."""
    fig.text(0.01, 0.01, f"Source: {source}", fontsize=7, color="0.35", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=FIGURE_DPI)
    plt.close(fig)
    return path


def plot_remittances(
    annual: pd.DataFrame,
    fan: pd.DataFrame | None,
    path: Path,
    *,
    fan_label: str = "sensitivity range of the standing study",
) -> Path:
    """Annual remittance income (USD bn) and, when given, the projection fan of a study.

    ``annual`` has ``year`` and ``remittances_usd``; ``fan`` is indexed by year with one column
    per quantile level (fractions, e.g. 0.05, 0.5, 0.95) in USD.
    """
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    ax.plot(
        annual["year"],
        annual["remittances_usd"] / 1e9,
        color="tab:blue",
        marker="o",
        markersize=3,
        label="observed (Banxico)",
    )
    has_fan = fan is not None and not fan.empty
    if has_fan:
        _draw_fan(ax, fan, fan_label)
    ax.set_title(
        "Remittance income to Mexico: observed, and the spread of a sensitivity study"
        if has_fan
        else "Remittance income to Mexico, observed"
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # years, not 2000.5
    ax.set_xlabel("year")
    ax.set_ylabel("USD billion per year (current)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    source = "Banco de México SIE (remittance income, ID_FLUJO 1)"
    if has_fan:
        source += "; scenarios: migsys sensitivity study (not a forecast)"
    return _save(fig, path, source)


def _draw_fan(ax: plt.Axes, fan: pd.DataFrame, label: str) -> None:
    """Shade symmetric quantile bands, outermost palest, and draw the median."""
    levels = sorted(float(level) for level in fan.columns)
    years = fan.index.to_numpy()
    lower = [level for level in levels if level < 0.5]
    for rank, low in enumerate(lower):
        high = min(levels, key=lambda level, low=low: abs(level - (1.0 - low)))
        alpha = 0.15 + 0.2 * rank / max(len(lower), 1)
        ax.fill_between(
            years,
            fan[low].to_numpy() / 1e9,
            fan[high].to_numpy() / 1e9,
            color="tab:orange",
            alpha=alpha,
            linewidth=0,
            label=f"{label}: {low * 100:.0f}th–{high * 100:.0f}th percentile of scenarios",
        )
    median = min(levels, key=lambda level: abs(level - 0.5))
    ax.plot(
        years,
        fan[median].to_numpy() / 1e9,
        color="tab:orange",
        linestyle="--",
        label=f"{label}: median scenario",
    )


def plot_depopulation(frame: pd.DataFrame, path: Path) -> Path:
    """Share of depopulating municipalities by 2000 intensity degree, one bar per period."""
    table = frame.pivot_table(
        index="intensity_degree_2000", columns="period", values="depopulating_pct", sort=False
    )
    table = table.reindex([degree for degree in DEGREE_LABELS if degree in table.index])
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    periods = list(table.columns)
    width = 0.8 / max(len(periods), 1)
    positions = range(len(table.index))
    for offset, period in enumerate(periods):
        ax.bar(
            [x + offset * width for x in positions],
            table[period].to_numpy(),
            width=width,
            label=str(period),
        )
    ax.set_xticks([x + width * (len(periods) - 1) / 2 for x in positions])
    ax.set_xticklabels([DEGREE_LABELS[degree] for degree in table.index])
    ax.set_title("Depopulating municipalities by migration intensity degree (2000)")
    ax.set_xlabel("CONAPO migration intensity degree, 2000")
    ax.set_ylabel("municipalities with negative growth (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="census period", fontsize=8)
    return _save(fig, path, "INEGI censuses and counts; CONAPO migration intensity index 2000")


def plot_sobol(frame: pd.DataFrame, path: Path, *, title: str, conf_level: float = 0.95) -> Path:
    """First-order and total Sobol indices with their confidence intervals, one row per parameter.

    ``frame`` has ``parameter``, ``s1``, ``s1_conf``, ``st``, ``st_conf`` (half-widths of the
    ``conf_level`` interval, stated in the legend).
    """
    frame = frame.sort_values("st")
    fig, ax = plt.subplots(figsize=(FIGURE_SIZE[0], max(2.5, 0.45 * len(frame) + 1.5)))
    rows = range(len(frame))
    ax.barh(
        [y - 0.2 for y in rows],
        frame["s1"],
        height=0.4,
        xerr=frame["s1_conf"],
        color="tab:blue",
        capsize=3,
        label="first order (S1)",
    )
    ax.barh(
        [y + 0.2 for y in rows],
        frame["st"],
        height=0.4,
        xerr=frame["st_conf"],
        color="tab:red",
        capsize=3,
        label="total (ST)",
    )
    ax.set_yticks(list(rows))
    ax.set_yticklabels(frame["parameter"])
    ax.set_xlabel("Sobol index (share of the outcome's variance)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, title=interval_note(conf_level), title_fontsize=8)
    return _save(fig, path, "migsys standing study; Saltelli sampling, SALib Sobol analysis")
