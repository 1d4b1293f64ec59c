"""The cohort-component kernel fitted to the censuses up to an origin (``migsys calibrate``).

The kernel is the mechanism of the scenario sweeps and, in the forecast, the source of the
national demographic drift (:mod:`projections.municipal_forecast`). Its calibration at an origin:

1. **One roll-forward from the earliest census.** Every municipality enumerated in the first
   census (1990) is projected from that census to every later date in one run of the kernel; the
   kernel's five-year grid starts on the census reference date (12 March 1990) and a population at
   an exact date (a census on 14 February 2000) is read off the grid by log-linear interpolation.
   Nothing is restarted at the origin, so there is no jump at the base year.
2. **Starting age structure.** The files hold no municipal age groups, so each unit starts from
   the quasi-stable structure of its own mortality and emigration at its *observed* growth over
   the first census interval up to the origin (Coale's remedy for a population whose fertility is
   falling), not the far older stable population of its current rates.
3. **Fit.** ``tfr_base`` (fertility at the start) and ``emigration_scale`` by soft-L1 least squares
   of the kernel's growth rates of every municipality from the first census to every later
   *census* up to the origin. The intercensal counts (1995, 2005) are left out of this fit: their
   coverage differs from the censuses' and the kernel has no term for it (the statistical layer of
   the forecast handles them).
4. **Spread.** ``growth_shock_sd`` is set so that the kernel's non-persistent growth shock has the
   spread of the municipal growth it leaves unexplained over the census span (robust sd), so
   sweeps from this calibration carry the spread the data show.
5. **No knowledge after the origin.** ``emigration_trend`` is 0 (the default −0.01 was justified by
   flows that peaked after 2000); life expectancies are the 2000 values moved back to the start
   year by their own gain; the intensities are the latest CONAPO index not after the origin.
6. **Stored calibration.** The fitted row is carried along its own paths to the origin
   (:func:`rebase_parameters`) and kept as a :class:`projections.store.Calibration`, which the
   sweeps read for parameters ``from = "calibration"``.

What municipal age data would change. The files give municipal totals by sex only, so the
starting structure is modelled (quasi-stable) and every municipality shares the national
fertility and mortality schedules: the kernel can only supply the national drift, while the
municipal variance is left to the statistical share model. INEGI's municipal population by
five-year age group and sex (published for the 1990, 2000 and 2010 censuses and the 2005 count)
would (i) replace the quasi-stable start with the observed structure and remove the structure ↔
growth circularity of the calibration; (ii) give each municipality its own fertility level
through the child–woman ratio and its own ageing, so natural increase would differ by unit
(the main demographic reason two municipalities with the same past growth diverge); (iii) show
the missing young adults that emigration leaves, pinning the Rogers–Castro schedule and the
emigration scale per degree; and (iv) allow cohort-change ratios (Hamilton–Perry) as one more
municipal extrapolation to combine. With them the kernel could enter the municipal forecast,
not only the national path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, default_params, parameter_index
from migsys.kernels.depopulation import DepopulationUnits, project_depopulation
from migsys.kernels.depopulation_indicators import (
    emigration_intensity_from_indicators,
    return_intensity_from_indicators,
)
from migsys.projections.census import CENSUS, CensusPanel, read_census_panel
from migsys.projections.fitting import fit_batch_least_squares, fit_summary
from migsys.projections.inputs import degree_codes, fetch_frame
from migsys.projections.store import Calibration, FitStatistics

KERNEL = "depopulation"
STEP_YEARS = 5
GROWTH_LOSS_SCALE = 0.01  # 1 %/year: beyond this a municipality's misfit counts as an outlier
QUASI_STABLE_GROWTH_LIMITS = (-0.05, 0.08)  # per year; beyond them the structure is implausible


@dataclass(frozen=True)
class FreeParameter:
    """A parameter the calibration fits, with the bounds of the fit and why they differ."""

    name: str
    lower: float
    upper: float
    why: str


FREE_PARAMETERS: tuple[FreeParameter, ...] = (
    FreeParameter(
        "tfr_base",
        1.3,
        6.0,
        "fertility at the fit start: Mexico's TFR was about 3.4 in 1990, above the sweep range"
        " (which describes 2000)",
    ),
    FreeParameter(
        "emigration_scale",
        0.0,
        10.0,
        "level of CONAPO's household-based emigration indicator, a lower bound of the rate",
    ),
)
# Parameters set from what was known at the origin instead of their sweep defaults.
FORECAST_SETTINGS = {"emigration_trend": 0.0}
DEFAULTS_REFER_TO = 2000  # the life expectancies of DEPOPULATION_PARAMETERS describe 2000


@dataclass(frozen=True)
class DepopulationData:
    """Everything the depopulation forecast reads from the warehouse, in memory.

    panel: the census panel; male_share: ``[n_units, n_years]`` share of men (NaN where unknown);
    indicators: CONAPO indicators, one row per (index_year, cve_mun).
    """

    panel: CensusPanel
    male_share: np.ndarray
    indicators: pd.DataFrame

    def until(self, origin: int) -> DepopulationData:
        """The data as they stood at ``origin``: later enumerations and indices removed."""
        panel = self.panel.until(origin)
        keep = [self.panel.column(year) for year in panel.years]
        return DepopulationData(
            panel,
            self.male_share[:, keep].copy(),
            self.indicators[self.indicators["index_year"] <= origin].copy(),
        )

    def index_year(self) -> int | None:
        """The latest CONAPO index year in the data, or None."""
        years = self.indicators["index_year"]
        return int(years.max()) if len(years) else None


def read_depopulation_data(con) -> DepopulationData:
    """Census panel, sex split and CONAPO indicators from the marts."""
    panel = read_census_panel(con)
    sexes = fetch_frame(
        con,
        "SELECT cve_mun, census_year, population_male, population_female "
        "FROM fct_municipal_population WHERE population_total > 0",
    )
    sexes["male_share"] = sexes["population_male"] / (
        sexes["population_male"] + sexes["population_female"]
    )
    male_share = (
        sexes.pivot_table(index="cve_mun", columns="census_year", values="male_share")
        .reindex(index=panel.cve_mun, columns=list(panel.years))
        .to_numpy(dtype=float)
    )
    indicators = fetch_frame(
        con,
        "SELECT index_year, cve_mun, households, pct_households_emigrants, "
        "pct_households_return, pct_households_remittances, intensity_degree "
        "FROM fct_migration_intensity",
    )
    return DepopulationData(panel, male_share, indicators)


def rebase_parameters(params: np.ndarray, years_ahead: float) -> np.ndarray:
    """Parameter rows describing the same paths from ``years_ahead`` years later (or earlier,
    when negative).

    Life expectancies move by their gain (capped at 95, the kernel's cap), fertility along its
    exponential convergence to the target, emigration scale by its exponential trend; the
    other parameters are shapes or rates that do not depend on the start year.
    """
    rows = np.array(params, dtype=float, ndmin=2, copy=True)
    column = {
        p.name: parameter_index(DEPOPULATION_PARAMETERS, p.name) for p in DEPOPULATION_PARAMETERS
    }
    gain = rows[:, column["e0_gain"]] * years_ahead
    for name in ("e0_female_base", "e0_male_base"):
        rows[:, column[name]] = np.minimum(rows[:, column[name]] + gain, 95.0)
    target = rows[:, column["tfr_target"]]
    decay = np.exp(-rows[:, column["tfr_speed"]] * years_ahead)
    rows[:, column["tfr_base"]] = target + (rows[:, column["tfr_base"]] - target) * decay
    rows[:, column["emigration_scale"]] *= np.exp(rows[:, column["emigration_trend"]] * years_ahead)
    return rows


def start_parameters(start_year: int) -> np.ndarray:
    """The default row with the forecast settings, life expectancies moved back to ``start_year``."""
    row = default_params(DEPOPULATION_PARAMETERS)[0]
    for name, value in FORECAST_SETTINGS.items():
        row[parameter_index(DEPOPULATION_PARAMETERS, name)] = value
    gain = row[parameter_index(DEPOPULATION_PARAMETERS, "e0_gain")]
    for name in ("e0_female_base", "e0_male_base"):
        row[parameter_index(DEPOPULATION_PARAMETERS, name)] -= gain * (
            DEFAULTS_REFER_TO - start_year
        )
    return row


@dataclass(frozen=True)
class KernelUnits:
    """The municipalities the kernel projects from the first census, with their inputs."""

    rows: np.ndarray  # positions in the panel
    total: np.ndarray
    male: np.ndarray
    emigration: np.ndarray
    returns: np.ndarray
    degree: np.ndarray
    households: np.ndarray
    remittance_share: np.ndarray
    growth: np.ndarray  # observed growth that sets the quasi-stable structure

    def units(self, params_row: np.ndarray) -> DepopulationUnits:
        return DepopulationUnits.from_totals(
            self.total,
            self.male,
            self.total - self.male,
            self.emigration,
            self.returns,
            self.degree,
            params=params_row,
            growth_rate=self.growth,
            households=self.households,
            remittance_household_share=self.remittance_share,
        )


def kernel_units(data: DepopulationData, index_year: int) -> KernelUnits:
    """Units of the first census with the ``index_year`` CONAPO intensities (0 where absent)."""
    panel = data.panel
    start = panel.years[0]
    censuses = [year for year in panel.years[1:] if panel.kind(year) == CENSUS]
    second = censuses[0] if censuses else (panel.years[1] if len(panel.years) > 1 else None)
    if second is None:
        raise ValueError(
            f"fct_municipal_population: only {start} up to the origin; the kernel needs a second "
            "enumeration to fit"
        )
    total_all = panel.level(start)
    rows = np.flatnonzero(np.isfinite(total_all))
    total = total_all[rows]
    share = data.male_share[rows, 0]
    national_share = np.nansum(share * total) / np.sum(total[np.isfinite(share)])
    male = total * np.where(np.isfinite(share), share, national_share)
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = np.log(panel.level(second)[rows] / total) / (
            panel.date(second) - panel.date(start)
        )
    finite = np.isfinite(growth)
    growth = np.where(finite, growth, np.median(growth[finite]))
    growth = np.clip(growth, *QUASI_STABLE_GROWTH_LIMITS)
    table = (
        data.indicators[data.indicators["index_year"] == index_year]
        .set_index("cve_mun")
        .reindex(panel.cve_mun[rows])
    )
    households = table["households"].fillna(0.0).to_numpy(float)
    emigrants = table["pct_households_emigrants"].fillna(0.0).to_numpy(float)
    index_population = (
        panel.level(index_year)[rows] if index_year in panel.years else np.full(rows.size, np.nan)
    )
    index_population = np.where(np.isfinite(index_population), index_population, total)
    degree = table["intensity_degree"].fillna("null").to_numpy(str)
    return KernelUnits(
        rows=rows,
        total=total,
        male=male,
        emigration=emigration_intensity_from_indicators(emigrants, households, index_population),
        returns=return_intensity_from_indicators(
            table["pct_households_return"].fillna(0.0).to_numpy(float), emigrants
        ),
        degree=degree_codes(degree),
        households=households,
        remittance_share=table["pct_households_remittances"].fillna(0.0).to_numpy(float) / 100,
        growth=growth,
    )


def grid_log_levels(log_grid: np.ndarray, grid_dates: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Log levels ``[..., n_grid]`` read at exact ``dates`` by linear interpolation in logs."""
    position = np.interp(dates, grid_dates, np.arange(grid_dates.size, dtype=float))
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, grid_dates.size - 1)
    weight = position - low
    return (1 - weight) * log_grid[..., low] + weight * log_grid[..., high]


@dataclass(frozen=True)
class KernelFit:
    """The kernel fitted at one origin, able to project its units to any later date."""

    origin: int
    start_year: int
    start_date: float
    index_year: int
    params_row: np.ndarray  # at the start year
    units: KernelUnits = field(repr=False)
    calibration: Calibration = field(repr=False)

    def log_unit_levels(self, dates: np.ndarray) -> np.ndarray:
        """Kernel log population ``[n_units, n_dates]`` at exact dates (one run from the start)."""
        dates = np.asarray(dates, dtype=float)
        steps = max(1, math.ceil((float(dates.max()) - self.start_date) / STEP_YEARS + 1e-9))
        grid_dates = self.start_date + STEP_YEARS * np.arange(steps + 1)
        horizon = self.start_year + STEP_YEARS * steps
        result = project_depopulation(
            self.params_row[None, :],
            self.units.units(self.params_row),
            self.start_year,
            horizon,
            report_years=self.start_year + STEP_YEARS * np.arange(steps + 1),
        )
        log_grid = np.log(np.maximum(result.unit_population[0].T, 1e-9))  # [n_units, n_grid]
        return grid_log_levels(log_grid, grid_dates, dates)

    def log_national(self, dates: np.ndarray) -> np.ndarray:
        """Log of the kernel's national population at exact dates."""
        return np.log(np.exp(self.log_unit_levels(dates)).sum(axis=0))


def fit_kernel(data: DepopulationData, origin: int) -> KernelFit:
    """Calibrate the kernel on the censuses up to ``origin`` (module docstring)."""
    known = data.until(origin)
    panel = known.panel
    index_year = known.index_year()
    if index_year is None:
        raise ValueError(
            f"fct_migration_intensity: no CONAPO index at or before {origin}; the kernel needs "
            "emigration intensities"
        )
    start = panel.years[0]
    censuses = [year for year in panel.years[1:] if panel.kind(year) == CENSUS]
    if not censuses:
        raise ValueError(
            f"fct_municipal_population: no census after {start} up to {origin} to fit the kernel"
        )
    units = kernel_units(known, index_year)
    start_date = panel.date(start)
    fit_dates = np.array([panel.date(year) for year in censuses])
    observed = np.column_stack([panel.level(year)[units.rows] for year in censuses])
    spans = fit_dates - start_date
    observed_rates = np.log(observed / units.total[:, None]) / spans[None, :]
    usable = np.isfinite(observed_rates)
    free = np.array([parameter_index(DEPOPULATION_PARAMETERS, p.name) for p in FREE_PARAMETERS])
    lower = np.array([p.lower for p in FREE_PARAMETERS])
    upper = np.array([p.upper for p in FREE_PARAMETERS])
    base_row = start_parameters(start)
    steps = math.ceil((fit_dates.max() - start_date) / STEP_YEARS)
    grid_dates = start_date + STEP_YEARS * np.arange(steps + 1)
    grid_years = start + STEP_YEARS * np.arange(steps + 1)
    structures: dict[bytes, DepopulationUnits] = {}

    def units_for(candidate: np.ndarray) -> DepopulationUnits:
        key = candidate.tobytes()
        if key not in structures:
            row = base_row.copy()
            row[free] = candidate
            if len(structures) > 4:
                structures.pop(next(iter(structures)))
            structures[key] = units.units(row)
        return structures[key]

    def modelled_rates(candidates: np.ndarray) -> np.ndarray:
        rows = np.tile(base_row, (candidates.shape[0], 1))
        rows[:, free] = candidates
        result = project_depopulation(
            rows, units_for(candidates[0]), start, int(grid_years[-1]), report_years=grid_years
        )
        log_grid = np.log(np.maximum(np.swapaxes(result.unit_population, 1, 2), 1e-9))
        levels = grid_log_levels(log_grid, grid_dates, fit_dates)  # [cand, units, fit]
        return (levels - np.log(units.total)[None, :, None]) / spans[None, None, :]

    def residuals(candidates: np.ndarray) -> np.ndarray:
        return (modelled_rates(candidates) - observed_rates[None])[:, usable]

    fit = fit_batch_least_squares(
        residuals,
        np.clip(base_row[free], lower, upper),
        lower,
        upper,
        loss="soft_l1",
        loss_scale=GROWTH_LOSS_SCALE,
    )
    params_row = base_row.copy()
    params_row[free] = fit.values
    at_fit = modelled_rates(fit.values[None, :])[0]
    growth_fit = fit_summary(at_fit[usable], observed_rates[usable])
    # the growth the kernel leaves unexplained, as the non-persistent shock that gives the same
    # spread over the longest census span (a rate over `span` years of shocks drawn every year
    # has sd = shock sd / sqrt(span)); the sweeps then carry the spread the data show
    residual = (observed_rates - at_fit)[:, -1]
    residual = residual[np.isfinite(residual)]
    spread = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    stored_row = params_row.copy()  # the projections here stay on the mean path: no shock
    stored_row[parameter_index(DEPOPULATION_PARAMETERS, "growth_shock_sd")] = min(
        spread * math.sqrt(spans[-1]), 0.2
    )
    last = censuses[-1]
    rebased = rebase_parameters(stored_row, panel.date(origin) - start_date)[0]
    names = [p.name for p in DEPOPULATION_PARAMETERS]
    components = pd.DataFrame(
        {
            "cve_mun": panel.cve_mun[units.rows],
            "quasi_stable_growth": units.growth,
            "emigration_intensity": units.emigration,
            "return_intensity": units.returns,
        }
    )
    calibration = Calibration(
        kernel=KERNEL,
        parameters={name: float(value) for name, value in zip(names, rebased, strict=True)},
        parameter_sd={
            names[column]: float(error)
            for column, error in zip(free, fit.standard_errors, strict=True)
        },
        fit=FitStatistics(
            target=f"municipal annual growth rates {start}-census years up to {last} "
            "(exact dates); kernel from the first census at the fitted parameters",
            rmse=growth_fit.rmse,
            mape=growth_fit.mape,
            r2=growth_fit.r2,
            n_obs=int(usable.sum()),
        ),
        data_years=tuple(sorted({start, *censuses, index_year})),
        train_until=origin,
        method=(
            f"soft-L1 least squares of municipal growth from the {start} census to the censuses "
            f"up to {origin} on {', '.join(p.name for p in FREE_PARAMETERS)} (counts left out); "
            f"quasi-stable starting age structure at each municipality's observed growth; "
            f"CONAPO {index_year} intensities; emigration_trend 0; parameters carried to {origin}"
        ),
        unit_components=pa.Table.from_pandas(components, preserve_index=False),
    )
    return KernelFit(origin, start, start_date, index_year, params_row, units, calibration)


def calibrate_depopulation(con, train_until: int) -> Calibration:
    """``migsys calibrate --kernel depopulation``: the kernel fitted on censuses up to a year."""
    data = read_depopulation_data(con)
    if train_until > max(data.panel.years):
        raise ValueError(
            f"train_until: {train_until} is after the last census in the warehouse "
            f"({max(data.panel.years)}); nothing after {max(data.panel.years)} can be trained on"
        )
    if train_until < data.panel.years[0]:
        raise ValueError(
            f"train_until: {train_until} is before the first census in the warehouse "
            f"({data.panel.years[0]})"
        )
    usable = [year for year in data.panel.years if year <= train_until]
    if len(usable) < 2:
        raise ValueError(
            f"train_until: {train_until} leaves only census {usable[0]}; the fit needs a later "
            f"census (census years: {list(data.panel.years)})"
        )
    return fit_kernel(data, usable[-1]).calibration
