"""The targets the published forecast is judged against (issue 16's "done when"), from skill rows.

One function per kernel turns the skill rows (``fct_forecast_skill`` or the evaluation's frame)
and the published method into :class:`Target` rows. ``make bench`` reports each as a key
(``projections.<key>``), and the report's forecast section prints them with met or missed.

Municipal population, over every pair at which the published method is scored (all units):

- 10-year pairs (2000 → 2010, 2010 → 2020): MdAPE ≤ 1.00 × the best single baseline's and
  ≤ 0.95 × the baselines' average's; direction accuracy and decline F1 at least the best single
  baseline's (the differences ≥ 0);
- 5-year pairs (2000 → 2005, 2005 → 2010): MdAPE ≤ 0.90 × the best single baseline's;
- over all pairs: the geometric mean of the MdAPE ratios ≤ 0.95;
- at every pair: p05–p95 coverage within 85–95 %, and ≥ 80 % in every size quintile.

Remittances, over the origins the rule did not see (2013 on; :data:`JUDGED_FIRST_ORIGIN`): mean
APE ≤ 0.95 × the best baseline's; p05–p95 coverage within 80–97 % overall and ≥ 70 % at every
horizon 1–5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from migsys.projections.baselines import AVERAGE
from migsys.projections.methods import SINGLE_BASELINES_OF

JUDGED_FIRST_ORIGIN = {"remittances": 2013}
TEN_YEAR_PAIR = 10
FIVE_YEAR_PAIR = 5


@dataclass(frozen=True)
class Target:
    """One measured figure and the bound it must meet."""

    key: str  # e.g. depopulation.mdape_vs_best_baseline.2010_2020
    label: str  # in words, for the report
    value: float
    bound: float | tuple[float, float]  # an upper or lower bound, or a (low, high) range
    higher_is_better: bool
    unit: str  # ratio | fraction (a share) | difference (of two shares)

    @property
    def met(self) -> bool:
        if not np.isfinite(self.value):
            return False
        if isinstance(self.bound, tuple):
            low, high = self.bound
            return low <= self.value <= high
        return self.value >= self.bound if self.higher_is_better else self.value <= self.bound

    @property
    def bench_target(self) -> float:
        """One number for latest.json: the bound, or the middle of a range."""
        return float(np.mean(self.bound)) if isinstance(self.bound, tuple) else float(self.bound)

    def bound_text(self) -> str:
        if isinstance(self.bound, tuple):
            return f"{self.bound[0]:g}–{self.bound[1]:g}"
        return f"{'≥' if self.higher_is_better else '≤'} {self.bound:g}"


def _all_units(skill: pd.DataFrame, kernel: str) -> pd.DataFrame:
    return skill[(skill["kernel"] == kernel) & (skill["size_class"] == "all")]


def _pair_key(origin: int, target: int) -> str:
    return f"{int(origin)}_{int(target)}"


def municipal_targets(skill: pd.DataFrame, method: str) -> list[Target]:
    """The municipal targets of ``method`` (module doc), pair by pair, then over all pairs."""
    kernel = "depopulation"
    rows = _all_units(skill, kernel)
    singles = list(SINGLE_BASELINES_OF[kernel])
    out: list[Target] = []
    log_ratios = []
    pairs = sorted(
        {
            (int(o), int(t))
            for o, t in rows.loc[rows["method"] == method, ["origin", "target_year"]].to_numpy()
        }
    )
    for origin, target in pairs:
        pair = rows[(rows["origin"] == origin) & (rows["target_year"] == target)].set_index(
            "method"
        )
        mine = pair.loc[method]
        baselines = pair.loc[[m for m in singles if m in pair.index]]
        best = float(baselines["mdape"].min())
        ratio = float(mine["mdape"]) / best
        log_ratios.append(np.log(ratio))
        key = _pair_key(origin, target)
        label = f"{origin}→{target}"
        span = target - origin
        if span == TEN_YEAR_PAIR:
            out += [
                Target(
                    f"{kernel}.mdape_vs_best_baseline.{key}",
                    f"{label}: MdAPE over the best single baseline's",
                    ratio,
                    1.0,
                    False,
                    "ratio",
                ),
                Target(
                    f"{kernel}.mdape_vs_average.{key}",
                    f"{label}: MdAPE over the baselines' average's",
                    float(mine["mdape"]) / float(pair.loc[AVERAGE, "mdape"]),
                    0.95,
                    False,
                    "ratio",
                ),
                Target(
                    f"{kernel}.direction_vs_best_baseline.{key}",
                    f"{label}: direction accuracy minus the best single baseline's",
                    float(mine["direction_accuracy"])
                    - float(baselines["direction_accuracy"].max()),
                    0.0,
                    True,
                    "difference",
                ),
                Target(
                    f"{kernel}.decline_f1_vs_best_baseline.{key}",
                    f"{label}: decline F1 minus the best single baseline's",
                    float(mine["decline_f1"]) - float(baselines["decline_f1"].max()),
                    0.0,
                    True,
                    "difference",
                ),
            ]
        elif span == FIVE_YEAR_PAIR:
            out.append(
                Target(
                    f"{kernel}.mdape_vs_best_baseline.{key}",
                    f"{label}: MdAPE over the best single baseline's",
                    ratio,
                    0.90,
                    False,
                    "ratio",
                )
            )
        out.append(
            Target(
                f"{kernel}.coverage_90.{key}",
                f"{label}: share inside p05–p95",
                float(mine["coverage_90"]),
                (0.85, 0.95),
                True,
                "fraction",
            )
        )
        quintiles = skill[
            (skill["kernel"] == kernel)
            & (skill["method"] == method)
            & (skill["origin"] == origin)
            & (skill["target_year"] == target)
            & (skill["size_class"] != "all")
        ]
        out.append(
            Target(
                f"{kernel}.coverage_90_lowest_quintile.{key}",
                f"{label}: share inside p05–p95 in the worst size quintile",
                float(quintiles["coverage_90"].min()) if len(quintiles) else np.nan,
                0.80,
                True,
                "fraction",
            )
        )
    if log_ratios:
        out.append(
            Target(
                f"{kernel}.mdape_ratio_geometric_mean",
                f"all {len(log_ratios)} pairs: geometric mean of MdAPE over the best single "
                "baseline's",
                float(np.exp(np.mean(log_ratios))),
                0.95,
                False,
                "ratio",
            )
        )
    return out


def remittance_targets(skill: pd.DataFrame, method: str) -> list[Target]:
    """The remittance targets of ``method`` over the origins the rule did not see."""
    kernel = "remittances"
    rows = _all_units(skill, kernel)
    judged = rows[rows["origin"] >= JUDGED_FIRST_ORIGIN[kernel]]
    if judged.empty or method not in set(judged["method"]):
        return []
    mape = judged.groupby("method")["mape"].mean()
    baselines = mape[[m for m in SINGLE_BASELINES_OF[kernel] if m in mape.index]]
    mine = judged[judged["method"] == method]
    first, last = int(judged["origin"].min()), int(judged["origin"].max())
    span = f"origins {first}–{last}, {len(mine)} pairs"
    out = [
        Target(
            f"{kernel}.mape_vs_best_baseline",
            f"{span}: mean APE over the best baseline's ({baselines.idxmin()})",
            float(mape[method] / baselines.min()),
            0.95,
            False,
            "ratio",
        ),
        Target(
            f"{kernel}.coverage_90",
            f"{span}: share of years inside p05–p95",
            float(mine["coverage_90"].mean()),
            (0.80, 0.97),
            True,
            "fraction",
        ),
    ]
    for horizon, at in mine.groupby("horizon_years"):
        out.append(
            Target(
                f"{kernel}.coverage_90.h{int(horizon)}",
                f"{span}: share inside p05–p95, {int(horizon)} year(s) ahead",
                float(at["coverage_90"].mean()),
                0.70,
                True,
                "fraction",
            )
        )
    return out
