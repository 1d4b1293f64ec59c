"""Credibility on real data: municipalities of 2000 (INEGI census + CONAPO intensity index)
projected to 2005 with the default parameters, against the 2005 count.

The files are read with the warehouse parsers (tests may do I/O; the kernels never do). The
bounds are credibility bounds, not fitted values: the default parameters are literature values,
and calibration (``projections/``) is what brings the model close to the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, default_params
from migsys.kernels.depopulation import (
    DEGREE_NAMES,
    DepopulationUnits,
    project_depopulation,
)
from migsys.kernels.depopulation_indicators import (
    emigration_intensity_from_indicators,
    return_intensity_from_indicators,
)
from migsys.warehouse.parsers import conapo, inegi

pytestmark = pytest.mark.real_data

CONAPO_DEGREES = dict(
    zip(("Very high", "High", "Medium", "Low", "Very low", "Null"), range(6), strict=True)
)


def _census(sources: Path, year: int) -> dict[str, dict]:
    name = f"censo_{year}.csv"
    parsed = inegi.parse(sources / "inegi" / name, name)
    assert not parsed.failed, parsed.rejects[:3]
    return {
        row["cve_ent"] + row["cve_mun"]: row
        for row in parsed.rows
        if row["row_level"] == "municipality"
    }


@pytest.fixture(scope="module")
def municipalities(real_sources: Path) -> dict[str, np.ndarray]:
    """Municipalities present in CONAPO 2000 and the 1990, 2000 and 2005 counts."""
    name = "iim_2000_municipal.csv"
    index = conapo.parse(real_sources / "conapo" / name, name)
    assert not index.failed, index.rejects[:3]
    censuses = {year: _census(real_sources, year) for year in (1990, 2000, 2005)}
    rows = [(f"{row['fe_id']:02d}{row['mun_id']:03d}", row) for row in index.rows]
    rows = [(key, row) for key, row in rows if all(key in c for c in censuses.values())]
    assert len(rows) > 2300

    def column(year: int, field: str) -> np.ndarray:
        return np.array([censuses[year][key][field] for key, _ in rows], dtype=float)

    return {
        "total": column(2000, "total"),
        "male": column(2000, "male"),
        "female": column(2000, "female"),
        "total_1990": column(1990, "total"),
        "total_2005": column(2005, "total"),
        "households": np.array([row["tot_huo"] for _, row in rows], dtype=float),
        "pct_emigrants": np.array([row["hou_rem_last_5_years"] for _, row in rows]),
        "pct_return": np.array([row["hou_ret"] for _, row in rows]),
        "degree": np.array([CONAPO_DEGREES[row["gim_2000"]] for _, row in rows]),
    }


def test_default_projection_2000_2005_is_credible(municipalities) -> None:
    data = municipalities
    growth_1990s = np.clip(np.log(data["total"] / data["total_1990"]) / 10.0, -0.1, 0.1)
    units = DepopulationUnits.from_totals(
        data["total"],
        data["male"],
        data["female"],
        emigration_intensity_from_indicators(
            data["pct_emigrants"], data["households"], data["total"]
        ),
        return_intensity_from_indicators(data["pct_return"], data["pct_emigrants"]),
        data["degree"],
        growth_rate=growth_1990s,
    )
    result = project_depopulation(
        default_params(DEPOPULATION_PARAMETERS), units, 2000, 2005, keep_trajectories=True
    )
    observed_growth = data["total_2005"].sum() / data["total"].sum() - 1.0
    model_growth = result.national_population[0, 1] / result.national_population[0, 0] - 1.0
    assert abs(model_growth - observed_growth) < 0.03, (model_growth, observed_growth)

    # Depopulation concentrates where emigration is intense, in the model as in the count.
    counts = np.bincount(data["degree"], minlength=6)[:5]
    observed = (
        np.bincount(data["degree"][data["total_2005"] < data["total"]], minlength=6)[:5] / counts
    )
    modelled = result.depopulating_by_degree[0, 0, :5] / counts
    for shares, label in ((observed, "observed"), (modelled, "model")):
        assert (np.diff(shares) < 0).all(), (label, dict(zip(DEGREE_NAMES, shares, strict=False)))

    unit_growth = np.log(result.unit_population[0, 1] / result.unit_population[0, 0])
    real_growth = np.log(data["total_2005"] / data["total"])
    assert np.corrcoef(unit_growth, real_growth)[0, 1] > 0.3
