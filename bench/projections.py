"""Forecast speed and headline skill on the real data.

Reads ``MIGSYS_HOME/warehouse.duckdb`` read-only when it exists; on a fresh ``MIGSYS_HOME`` it
refreshes a temporary one from ``MIGSYS_SOURCES`` first (and writes nothing under
``MIGSYS_HOME`` either way). Metrics:

- ``projections.depopulation.seconds_per_origin`` (target ≤ 60 on 2 cores): one origin of the
  rolling-origin evaluation — every method's forecast, the model's fit (kernel, share models), the
  realised errors that calibrate the intervals, and the scores; the mean over origins 2000, 2005;
- ``projections.depopulation.mdape_vs_best_baseline.<origin>_<target>``: the model's MdAPE over
  the best single baseline's (the issue asks ≤ 0.9) for 2000→2005, 2000→2010, 2005→2010;
- ``projections.depopulation.hindsight_vs_best_baseline.<origin>_<target>``: the out-of-fold
  MdAPE of a fit on the pair's own outcomes (:mod:`projections.hindsight`, not a forecast) over the
  best single baseline's — the floor under the ratio above for any forecast built from the
  predictors these files hold; above 0.9, the issue's target is out of their reach;
- ``projections.depopulation.direction.<origin>_<target>.{model,best_baseline,hindsight}``: the
  share of units put on the observed side of "population fell" (the issue asks model ≥ best);
- ``projections.depopulation.coverage_90.<origin>_<target>`` (nominal 0.90);
- ``projections.remittances.seconds``: the whole remittance evaluation (12 origins);
- ``projections.remittances.mape_vs_best_baseline`` and ``.coverage_90`` over every pair.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

from migsys.bench.common import metric
from migsys.projections.baselines import SINGLE_BASELINES
from migsys.projections.depopulation import read_depopulation_data
from migsys.projections.evaluation import MODEL, depopulation_origin, evaluate_remittances
from migsys.projections.hindsight import hindsight_bound
from migsys.projections.remittance_forecast import REMITTANCE_BASELINES, read_remittance_data
from migsys.warehouse.paths import MigsysPaths

ORIGINS = (2000, 2005)


def _measure(warehouse: Path) -> dict[str, dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        data = read_depopulation_data(con)
        remittance_data = read_remittance_data(con)
    finally:
        con.close()
    rows, seconds = [], []
    for origin in ORIGINS:
        later = [year for year in data.panel.years if year > origin]
        start = time.perf_counter()
        rows += depopulation_origin(data, origin, later).skill
        seconds.append(time.perf_counter() - start)
    start = time.perf_counter()
    remittances = evaluate_remittances(remittance_data)
    remittance_seconds = time.perf_counter() - start
    skill = pd.DataFrame(rows)
    skill = skill[skill["size_class"] == "all"].set_index(["origin", "target_year", "method"])
    out = {
        "projections.depopulation.seconds_per_origin": metric(
            sum(seconds) / len(seconds), "s", 60.0, False
        ),
        "projections.remittances.seconds": metric(remittance_seconds, "s", None, False),
    }
    for origin, target in sorted({(o, t) for o, t, _ in skill.index}):
        pair = skill.loc[(origin, target)]
        if MODEL not in pair.index:
            continue
        singles = pair.loc[[m for m in SINGLE_BASELINES if m in pair.index]]
        best = singles["mdape"].min()
        key = f"{origin}_{target}"
        out[f"projections.depopulation.mdape_vs_best_baseline.{key}"] = metric(
            pair.loc[MODEL, "mdape"] / best, "ratio", 0.9, False
        )
        hindsight = hindsight_bound(data, origin, target)
        out[f"projections.depopulation.hindsight_vs_best_baseline.{key}"] = metric(
            hindsight.out_of_fold_mdape / best, "ratio"
        )
        for name, value in (
            ("model", pair.loc[MODEL, "direction_accuracy"]),
            ("best_baseline", singles["direction_accuracy"].max()),
            ("hindsight", hindsight.out_of_fold_direction),
        ):
            out[f"projections.depopulation.direction.{key}.{name}"] = metric(value, "fraction")
        out[f"projections.depopulation.coverage_90.{key}"] = metric(
            pair.loc[MODEL, "coverage_90"], "fraction"
        )
    by_method = remittances.skill.groupby("method")
    mape = by_method["mape"].mean()
    out["projections.remittances.mape_vs_best_baseline"] = metric(
        mape[MODEL] / mape[list(REMITTANCE_BASELINES)].min(), "ratio", 1.0, False
    )
    out["projections.remittances.coverage_90"] = metric(
        by_method["coverage_90"].mean()[MODEL], "fraction"
    )
    return out


def collect() -> dict[str, dict]:
    paths = MigsysPaths.from_env()
    if paths.warehouse.is_file():
        return _measure(paths.warehouse)
    from migsys.bench.common import no_studies_config
    from migsys.flows.config import NightlySettings
    from migsys.flows.pipeline import run_plain

    with tempfile.TemporaryDirectory() as tmp:
        fresh = MigsysPaths(home=Path(tmp), sources=paths.sources)
        run_plain(NightlySettings.from_paths(fresh, config_file=no_studies_config(fresh)))
        return _measure(fresh.warehouse)
