"""The names of the forecast methods, and which of them the published method is chosen from.

One place for the names the evaluation writes, the selection rule reads
(:mod:`projections.selection`) and the report, the bench and the marts show.
"""

from __future__ import annotations

from migsys.projections.baselines import AVERAGE, SINGLE_BASELINES
from migsys.projections.remittance_forecast import (
    MODEL,
    MODEL_AND_LAST_LEVEL,
    REMITTANCE_BASELINES,
)

# the municipal candidates beside the model and the baselines (projections.evaluation)
AVERAGE_WITH_MODEL = "average_with_model"  # equal-weight mean of the single baselines and the model
MODEL_AND_AVERAGE = "model_and_average"  # half the model, half the baselines' average
CORRECTED_AVERAGE = "corrected_average"  # projections.learned_correction
COMBINATIONS = (AVERAGE_WITH_MODEL, MODEL_AND_AVERAGE)

MUNICIPAL_CANDIDATES = (
    MODEL,
    *SINGLE_BASELINES,
    AVERAGE,
    AVERAGE_WITH_MODEL,
    MODEL_AND_AVERAGE,
    CORRECTED_AVERAGE,
)
REMITTANCE_CANDIDATES = (MODEL, *REMITTANCE_BASELINES, MODEL_AND_LAST_LEVEL)
ROLE_OF = {
    MODEL: "model",
    **dict.fromkeys((*SINGLE_BASELINES, *REMITTANCE_BASELINES), "single_baseline"),
    AVERAGE: "average",
    **dict.fromkeys((*COMBINATIONS, MODEL_AND_LAST_LEVEL), "combination"),
    CORRECTED_AVERAGE: "learned_correction",
}
SINGLE_BASELINES_OF = {"depopulation": SINGLE_BASELINES, "remittances": REMITTANCE_BASELINES}
CANDIDATES_OF = {"depopulation": MUNICIPAL_CANDIDATES, "remittances": REMITTANCE_CANDIDATES}

# how the remittance intervals turn the errors realised by an origin into a band; every rule
# reads every earlier error (all regimes), none a window that a calm spell would narrow
PER_ROOT_YEAR = "per_root_year"  # errors per √year, pooled over horizons, times √h
PER_YEAR = "per_year"  # errors per year, pooled over horizons, times h
PER_HORIZON = "per_horizon"  # the errors of the same horizon, as they were
INTERVAL_RULES = (PER_ROOT_YEAR, PER_YEAR, PER_HORIZON)
