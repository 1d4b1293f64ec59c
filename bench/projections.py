"""Forecast speed, and every target the published forecast is judged against, on the real data.

Reads ``MIGSYS_HOME/warehouse.duckdb`` read-only when it exists; on a fresh ``MIGSYS_HOME`` it
refreshes a temporary one from ``MIGSYS_SOURCES`` first (and writes nothing under
``MIGSYS_HOME`` either way). Metrics:

- ``projections.depopulation.seconds_per_origin`` (target ≤ 60 on 2 cores): one origin of the
  rolling-origin evaluation — every candidate's forecast, the model's fit (kernel, share models),
  the learned correction, the realised errors that calibrate the intervals, and the scores; the
  mean over every origin (1995, 2000, 2005, 2010, 2020); ``…seconds_slowest_origin`` the worst;
- every target of :mod:`projections.targets` for the published method the fixed rule chose
  (:mod:`projections.selection`), as ``projections.<kernel>.<figure>[.<origin>_<target>]``:
  MdAPE over the best single baseline's and over the average's, direction and decline F1 against
  the best single baseline's, p05–p95 coverage (overall and in the worst size quintile), the
  geometric mean of the MdAPE ratios; for remittances over origins 2013–2023, mean APE over the
  best baseline's and coverage overall and by horizon;
- ``projections.depopulation.hindsight_vs_best_baseline.<pair>`` and
  ``…direction.<pair>.hindsight``: a fit on the pair's own outcomes (:mod:`projections.hindsight`,
  not a forecast), the floor under any forecast built from these files' predictors;
- ``projections.remittances.seconds``: the whole remittance evaluation, the choice included.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from migsys.bench.common import metric
from migsys.projections.depopulation import read_depopulation_data
from migsys.projections.evaluation import (
    FUTURE_YEARS,
    depopulation_origin,
    depopulation_origins,
    depopulation_years,
    evaluate_remittances,
    municipal_choice,
    skill_columns,
)
from migsys.projections.hindsight import hindsight_bound
from migsys.projections.methods import SINGLE_BASELINES_OF
from migsys.projections.remittance_forecast import read_remittance_data
from migsys.projections.targets import (
    FIVE_YEAR_PAIR,
    TEN_YEAR_PAIR,
    Target,
    municipal_targets,
    remittance_targets,
)
from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.sql import open_read_only


def _as_metric(target: Target) -> dict:
    return metric(target.value, target.unit, target.bench_target, target.higher_is_better)


def _hindsight(data, skill: pd.DataFrame) -> dict[str, dict]:
    """The hindsight floor of every 5- and 10-year pair, beside the best single baseline."""
    out = {}
    rows = skill[skill["size_class"] == "all"]
    singles = list(SINGLE_BASELINES_OF["depopulation"])
    pairs = sorted({(int(o), int(t)) for o, t in rows[["origin", "target_year"]].to_numpy()})
    for origin, target in pairs:
        if target - origin not in (FIVE_YEAR_PAIR, TEN_YEAR_PAIR) or origin not in data.panel.years:
            continue
        pair = rows[(rows["origin"] == origin) & (rows["target_year"] == target)]
        baselines = pair[pair["method"].isin(singles)]
        bound = hindsight_bound(data, origin, target)
        key = f"{origin}_{target}"
        out[f"projections.depopulation.hindsight_vs_best_baseline.{key}"] = metric(
            bound.out_of_fold_mdape / baselines["mdape"].min(), "ratio"
        )
        out[f"projections.depopulation.direction.{key}.hindsight"] = metric(
            bound.out_of_fold_direction, "fraction"
        )
    return out


def _measure(warehouse: Path) -> dict[str, dict]:
    con = open_read_only(warehouse)
    try:
        data = read_depopulation_data(con)
        remittance_data = read_remittance_data(con)
    finally:
        con.close()
    rows, seconds = [], []
    for origin in depopulation_origins(data.panel):
        years = depopulation_years(data.panel, origin, FUTURE_YEARS)
        start = time.perf_counter()
        rows += depopulation_origin(data, origin, years).skill
        seconds.append(time.perf_counter() - start)
    skill = pd.DataFrame(rows, columns=skill_columns())
    choice = municipal_choice(data, skill)
    start = time.perf_counter()
    remittances = evaluate_remittances(remittance_data)
    remittance_seconds = time.perf_counter() - start
    targets = municipal_targets(skill, choice.method) + remittance_targets(
        remittances.skill, remittances.choice.method
    )
    out = {f"projections.{target.key}": _as_metric(target) for target in targets}
    out["projections.depopulation.seconds_per_origin"] = metric(
        float(np.mean(seconds)), "s", 60.0, False
    )
    out["projections.depopulation.seconds_slowest_origin"] = metric(max(seconds), "s", 60.0, False)
    out["projections.remittances.seconds"] = metric(remittance_seconds, "s", None, False)
    out.update(_hindsight(data, skill))
    return out


def collect(settings) -> dict[str, dict]:
    paths = settings.paths
    if paths.warehouse.is_file():
        return _measure(paths.warehouse)
    from migsys.bench.common import no_studies_config
    from migsys.flows.config import NightlySettings
    from migsys.flows.pipeline import run_plain

    with tempfile.TemporaryDirectory() as tmp:
        fresh = MigsysPaths(
            home=Path(tmp), sources=paths.sources, forecast_cache=paths.forecast_cache
        )
        run_plain(NightlySettings.from_paths(fresh, config_file=no_studies_config(fresh)))
        return _measure(fresh.warehouse)
