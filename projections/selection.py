"""How the published forecast is chosen: a rule fixed on the early pairs, never on the later ones.

The platform publishes one method per kernel. Which one is decided by the rules below, which
see only the origin/target pairs whose target is no later than :data:`SELECTION_LAST_TARGET`
(2010 for municipal populations, 2012 for remittances): :func:`selection_rows` cuts the skill
rows there, and the choosing functions refuse any later row. The later pairs (2010 → 2020 and
every remittance origin from 2013) judge the choice; they never make it. The rules and their
reasons are written down in ``docs/forecast_method.md``.

- **Municipal population** (:func:`choose_municipal_method`): among
  :data:`~projections.methods.MUNICIPAL_CANDIDATES`, the one with the lowest geometric mean, over
  the selection pairs, of its MdAPE divided by the best single baseline's MdAPE at the same pair
  (all units). The selection pairs are those at which every candidate is scored (the model needs
  three enumerations up to its origin: 2000 → 2005, 2000 → 2010, 2005 → 2010). A tie goes to the
  earlier candidate in the list. The intervals are each method's own calibrated errors
  (:mod:`projections.intervals`), unchanged.
- **Remittances** (:func:`choose_remittance_method`): among
  :data:`~projections.methods.REMITTANCE_CANDIDATES`, the one with the lowest mean absolute
  percentage error over the selection pairs; then, among
  :data:`~projections.methods.INTERVAL_RULES`, the rule whose intervals for that candidate have
  the lowest mean interval score over the selection pairs at which every rule gives an interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from migsys.projections.methods import (
    CANDIDATES_OF,
    INTERVAL_RULES,
    MODEL,
    PER_ROOT_YEAR,
    ROLE_OF,
    SINGLE_BASELINES_OF,
)

SELECTION_LAST_TARGET = {"depopulation": 2010, "remittances": 2012}
MUNICIPAL_RULE = (
    "the candidate with the lowest geometric mean, over the pairs with target ≤ 2010 at which "
    "every candidate is scored, of its MdAPE over the best single baseline's MdAPE"
)
REMITTANCE_RULE = (
    "the candidate with the lowest mean absolute percentage error over the pairs with target "
    "≤ 2012; its intervals by the rule with the lowest mean interval score over those pairs"
)
NO_PAIR_RULE = "no pair to choose on: the model (and intervals per √year), by default"
CHOICE_COLUMNS: dict[str, str] = {
    "kernel": "VARCHAR",
    "choice": "VARCHAR",  # method | interval_rule
    "candidate": "VARCHAR",
    "role": "VARCHAR",  # model | single_baseline | average | combination | ... | interval_rule
    "criterion": "VARCHAR",
    "value": "DOUBLE",
    "pairs": "INTEGER",
    "is_chosen": "BOOLEAN",
    "rule": "VARCHAR",
}


@dataclass(frozen=True)
class MethodChoice:
    """The published method of one kernel, its interval rule (remittances), the rule that chose
    them and every candidate's record on the selection pairs (rows of :data:`CHOICE_COLUMNS`)."""

    kernel: str
    method: str
    interval_rule: str | None  # remittances only
    rule: str
    pairs: tuple[tuple[int, int], ...]
    record: pd.DataFrame


def selection_rows(skill: pd.DataFrame, kernel: str) -> pd.DataFrame:
    """The rows the rule may see: ``kernel``'s rows whose target is no later than
    :data:`SELECTION_LAST_TARGET`."""
    rows = skill[skill["kernel"] == kernel]
    return rows[rows["target_year"] <= SELECTION_LAST_TARGET[kernel]].copy()


def _refuse_later_rows(rows: pd.DataFrame, kernel: str) -> None:
    limit = SELECTION_LAST_TARGET[kernel]
    later = rows[rows["target_year"] > limit]
    if len(later):
        first = later.iloc[0]
        raise ValueError(
            f"selection: {kernel} row {int(first['origin'])} -> {int(first['target_year'])} "
            f"has a target after {limit}; the rule sees only pairs with target <= {limit} "
            "(pass selection_rows(...))"
        )
    kernels = set(rows["kernel"])
    if kernels - {kernel}:
        raise ValueError(f"selection: rows of {sorted(kernels - {kernel})} given for {kernel}")


def _record(
    kernel: str, choice: str, values: dict[str, float], criterion: str, pairs: int, chosen: str
) -> pd.DataFrame:
    rule = MUNICIPAL_RULE if kernel == "depopulation" else REMITTANCE_RULE
    return pd.DataFrame(
        [
            {
                "kernel": kernel,
                "choice": choice,
                "candidate": candidate,
                "role": "interval_rule" if choice == "interval_rule" else ROLE_OF[candidate],
                "criterion": criterion,
                "value": value,
                "pairs": pairs,
                "is_chosen": candidate == chosen,
                "rule": rule,
            }
            for candidate, value in values.items()
        ],
        columns=list(CHOICE_COLUMNS),
    )


def _lowest(values: dict[str, float], order: tuple[str, ...]) -> str:
    """The candidate with the lowest finite value; a tie goes to the earlier one in ``order``."""
    finite = {name: value for name, value in values.items() if np.isfinite(value)}
    return min(finite, key=lambda name: (finite[name], order.index(name)))


def _complete_pairs(rows: pd.DataFrame, candidates: tuple[str, ...]) -> list[tuple[int, int]]:
    """Pairs at which every candidate has a score."""
    pairs = []
    for (origin, target), pair in rows.groupby(["origin", "target_year"]):
        if set(candidates) <= set(pair["method"]):
            pairs.append((int(origin), int(target)))
    return sorted(pairs)


def _default(kernel: str) -> MethodChoice:
    """The model, when there is no pair to choose on; every candidate listed, none scored."""
    values = dict.fromkeys(CANDIDATES_OF[kernel], np.nan)
    record = _record(kernel, "method", values, "no selection pair", 0, MODEL)
    record["rule"] = NO_PAIR_RULE
    interval_rule = PER_ROOT_YEAR if kernel == "remittances" else None
    return MethodChoice(kernel, MODEL, interval_rule, NO_PAIR_RULE, (), record)


def choose_municipal_method(rows: pd.DataFrame) -> MethodChoice:
    """The published municipal method (module doc) from the selection rows."""
    kernel = "depopulation"
    _refuse_later_rows(rows, kernel)
    candidates = CANDIDATES_OF[kernel]
    everyone = rows[(rows["size_class"] == "all") & rows["method"].isin(candidates)]
    pairs = _complete_pairs(everyone, candidates)
    if not pairs:
        return _default(kernel)
    log_ratios: dict[str, list[float]] = {name: [] for name in candidates}
    for origin, target in pairs:
        pair = everyone[(everyone["origin"] == origin) & (everyone["target_year"] == target)]
        mdape = pair.set_index("method")["mdape"]
        best = float(mdape[list(SINGLE_BASELINES_OF[kernel])].min())
        for name in candidates:
            log_ratios[name].append(float(np.log(mdape[name] / best)))
    values = {name: float(np.exp(np.mean(logs))) for name, logs in log_ratios.items()}
    chosen = _lowest(values, candidates)
    record = _record(
        kernel,
        "method",
        values,
        "geometric mean of MdAPE / best single baseline",
        len(pairs),
        chosen,
    )
    return MethodChoice(kernel, chosen, None, MUNICIPAL_RULE, tuple(pairs), record)


def choose_remittance_method(rows: pd.DataFrame) -> MethodChoice:
    """The published remittance method and interval rule (module doc) from the selection rows,
    one set per interval rule (column ``interval_rule``)."""
    kernel = "remittances"
    _refuse_later_rows(rows, kernel)
    candidates = CANDIDATES_OF[kernel]
    rules = [rule for rule in INTERVAL_RULES if rule in set(rows.get("interval_rule", []))]
    if not rules:
        raise ValueError("selection: remittance rows need the column interval_rule")
    points = rows[(rows["interval_rule"] == rules[0]) & rows["method"].isin(candidates)]
    pairs = _complete_pairs(points, candidates)
    if not pairs:
        return _default(kernel)
    keyed = points.set_index(["origin", "target_year"])
    scored = keyed.loc[pairs]
    values = {
        name: float(scored.loc[scored["method"] == name, "mape"].mean()) for name in candidates
    }
    method = _lowest(values, candidates)
    mine = rows[rows["method"] == method].pivot_table(
        index=["origin", "target_year"], columns="interval_rule", values="interval_score"
    )
    mine = mine.reindex(columns=rules).dropna()
    scores = {rule: float(mine[rule].mean()) if len(mine) else np.nan for rule in rules}
    interval_rule = _lowest(scores, INTERVAL_RULES) if len(mine) else rules[0]
    record = pd.concat(
        [
            _record(kernel, "method", values, "mean absolute percentage error", len(pairs), method),
            _record(
                kernel,
                "interval_rule",
                scores,
                f"mean interval score of {method}",
                len(mine),
                interval_rule,
            ),
        ],
        ignore_index=True,
    )
    return MethodChoice(kernel, method, interval_rule, REMITTANCE_RULE, tuple(pairs), record)
