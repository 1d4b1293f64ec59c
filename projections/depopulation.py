"""Calibration and projection of the depopulation kernel on the municipal censuses.

Method (all of it uses only data up to ``train_until``):

1. **Years.** The projection base is the last census not after ``train_until`` (2000 for
   ``train_until=2000``); the fit runs the kernel from the earliest census on the same five-year
   grid (1990) through every census in between (1995, 2000). Emigration and return intensities
   come from the latest CONAPO index not after the base (2000: indicators of 1995–2000).
2. **Global parameters** (``FREE_PARAMETERS``): bounded least squares (trust-region reflective,
   soft-L1 loss with a 1 %/year scale so that municipalities split or swollen by suburbs do not
   steer the national parameters) of the kernel's municipal growth rates ``start → census year``
   on the observed ones, every candidate and its finite-difference neighbours evaluated in one
   batch call of the kernel. The initial age structure is the stable population of the unit's
   rates, so it depends on the parameters: every evaluated point gets its own structure (exact
   residuals) while its finite-difference neighbours share it (the Jacobian holds the structure
   fixed) — the fit still converges to where the exact residuals are least.
3. **Municipal component.** What the kernel leaves unexplained in each municipality's growth
   over the fit period, ``u_i = ln(P_obs / P_kernel) / years``, is internal migration, suburban
   growth and local fertility differences — it persists. It is shrunk towards its CONAPO-degree
   median by empirical Bayes with noise ∝ 1/population
   (:func:`projections.fitting.shrink_towards_group_means`) and added to the kernel's growth in
   the projection, ``P_i(t) = P_kernel,i(t) · exp(u_i (t − base))``; the cohort-component
   ageing, the fertility path and the emigration schedule do the rest.
4. **Re-basing.** Parameters fitted at the fit start are carried to the projection base along
   their own paths (life expectancy + gain · Δ, fertility on its exponential path, emigration
   scale times its trend) so a projection from 2000 starts where the fitted 1990 path is in 2000.
5. **Uncertainty.** An ensemble of ``draws``: global parameters from their posterior
   (:func:`projections.fitting.posterior_ensemble`, importance resampling of Gauss–Newton
   proposals through one batch call) and each municipality's component from its shrinkage
   predictive distribution (shrinkage posterior plus a fresh draw of the size-dependent noise
   the fit period showed: the future decade's rate is as noisy as the past one's); p05/p50/p95
   over the ensemble.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from migsys.kernels.defaults import (
    DEPOPULATION_PARAMETERS,
    default_params,
    parameter_index,
    valid_bounds,
)
from migsys.kernels.depopulation import project_depopulation
from migsys.projections.fitting import (
    BatchResiduals,
    LeastSquaresFit,
    fit_batch_least_squares,
    fit_summary,
    posterior_ensemble,
    shrink_towards_group_means,
)
from migsys.projections.inputs import (
    census_population,
    census_years,
    latest_index_year,
    municipal_inputs,
    units_from_inputs,
)
from migsys.projections.store import Calibration, FitStatistics

KERNEL = "depopulation"
STEP_YEARS = 5


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
GROWTH_LOSS_SCALE = 0.01  # 1 %/year: beyond this a municipality's misfit counts as an outlier


@dataclass(frozen=True)
class DepopulationCalibration:
    """A calibration plus what projecting from it needs (kept in memory by the backtest)."""

    calibration: Calibration
    start_year: int  # first census of the fit
    base_year: int  # projections start here; ``params_row`` refers to this year
    index_year: int  # CONAPO index used for the intensities
    params_row: np.ndarray  # [n_params], re-based to base_year
    free_index: np.ndarray  # columns of the fitted parameters
    free_covariance: np.ndarray  # [n_free, n_free], re-based
    unit_components: pd.DataFrame = field(repr=False)  # index cve_mun
    start_params_row: np.ndarray = field(repr=False)  # [n_params] at start_year
    fit: LeastSquaresFit = field(repr=False)  # of the free parameters at start_year
    residuals: BatchResiduals = field(repr=False)  # the fit's batch residuals (for the ensemble)


def rebase_parameters(params: np.ndarray, years_ahead: float) -> np.ndarray:
    """Parameter rows describing the same paths from ``years_ahead`` years later.

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


def _free_columns() -> np.ndarray:
    return np.array([parameter_index(DEPOPULATION_PARAMETERS, p.name) for p in FREE_PARAMETERS])


def _fit_years(available: list[int], train_until: int) -> tuple[int, int, list[int]]:
    """(start, base, grid census years after start) for a fit on censuses up to ``train_until``."""
    if not available:
        raise ValueError("fct_municipal_population: the warehouse holds no census year")
    if train_until > max(available):
        raise ValueError(
            f"train_until: {train_until} is after the last census in the warehouse "
            f"({max(available)}); nothing after {max(available)} can be trained on"
        )
    usable = [year for year in available if year <= train_until]
    if not usable:
        raise ValueError(
            f"train_until: {train_until} is before the first census in the warehouse "
            f"({min(available)})"
        )
    base = max(usable)
    starts = [year for year in usable if year < base and (base - year) % STEP_YEARS == 0]
    if not starts:
        raise ValueError(
            f"train_until: {train_until} leaves only census {base}; the fit needs two censuses "
            f"a multiple of {STEP_YEARS} years apart (census years: {available})"
        )
    start = min(starts)
    grid = [year for year in usable if year > start and (year - start) % STEP_YEARS == 0]
    return start, base, grid


def calibrate_depopulation(con, train_until: int) -> DepopulationCalibration:
    """Fit the depopulation kernel to the censuses up to ``train_until`` (module docstring)."""
    start, base, grid = _fit_years(census_years(con), train_until)
    index_year = latest_index_year(con, base)
    inputs = municipal_inputs(con, start, index_year=index_year)
    observed_levels = census_population(con, grid).reindex(inputs.cve_mun).to_numpy().T
    start_population = inputs.frame["population_total"].to_numpy(float)
    spans = np.array(grid, dtype=float) - start
    observed_rates = np.log(observed_levels / start_population[None, :]) / spans[:, None]
    usable = np.isfinite(observed_rates)  # [n_grid, n_units]

    free = _free_columns()
    lower = np.array([p.lower for p in FREE_PARAMETERS])
    upper = np.array([p.upper for p in FREE_PARAMETERS])
    params_row = default_params(DEPOPULATION_PARAMETERS)[0]
    structures: dict[bytes, object] = {}

    def units_at(candidate: np.ndarray):
        """Units whose stable age structure follows ``candidate`` (the last few are cached)."""
        key = candidate.tobytes()
        if key not in structures:
            row = params_row.copy()
            row[free] = candidate
            if len(structures) > 4:
                structures.pop(next(iter(structures)))
            structures[key] = units_from_inputs(inputs, row)
        return structures[key]

    def residuals(candidates: np.ndarray) -> np.ndarray:
        # the age structure is built at the batch's first row, the point being evaluated; its
        # finite-difference neighbours (or ensemble proposals) share it, which keeps one
        # kernel call per batch and leaves the residual at every evaluated point exact
        units = units_at(candidates[0])
        rows = np.tile(params_row, (candidates.shape[0], 1))
        rows[:, free] = candidates
        result = project_depopulation(rows, units, start, base, report_years=grid)
        modelled = np.log(result.unit_population / start_population) / spans[:, None]
        return (modelled - observed_rates[None])[:, usable]

    fit = fit_batch_least_squares(
        residuals,
        np.clip(params_row[free], lower, upper),
        lower,
        upper,
        loss="soft_l1",
        loss_scale=GROWTH_LOSS_SCALE,
    )
    params_row = params_row.copy()
    params_row[free] = fit.values

    units = units_from_inputs(inputs, params_row)
    at_fit = project_depopulation(params_row[None, :], units, start, base, report_years=[base])
    modelled_base = at_fit.unit_population[0, 0]
    decade = base - start
    base_observed = observed_levels[-1]
    has_base = np.isfinite(base_observed)
    observed_growth = np.log(base_observed / start_population) / decade
    modelled_growth = np.log(modelled_base / start_population) / decade
    growth_fit = fit_summary(modelled_growth[has_base], observed_growth[has_base])
    level_fit = fit_summary(modelled_base[has_base], base_observed[has_base])
    component = shrink_towards_group_means(
        np.where(has_base, observed_growth - modelled_growth, np.nan),
        np.where(has_base, base_observed, start_population),
        inputs.degree,
    )

    # carry the fitted parameters and their covariance to the projection base
    rebased = rebase_parameters(params_row, decade)[0]
    factors = np.empty(free.size)
    for position, column in enumerate(free):
        bumped = params_row.copy()
        bumped[column] += 1.0
        factors[position] = rebase_parameters(bumped, decade)[0, column] - rebased[column]
    covariance = fit.covariance * np.outer(factors, factors)

    degree_mean = pd.Series(component.group_means)
    degree_spread = pd.Series(component.group_spreads)
    components = pd.DataFrame(
        {
            "intensity_degree": inputs.degree,
            "observed_residual_rate": np.where(has_base, observed_growth - modelled_growth, np.nan),
            "residual_rate": component.estimates,
            "residual_sd": component.standard_errors,
            "predictive_sd": component.predictive_sd,
            "shrinkage_weight": component.weights,
            "degree_mean": degree_mean.reindex(inputs.degree).to_numpy(),
            "degree_spread": degree_spread.reindex(inputs.degree).to_numpy(),
        },
        index=pd.Index(inputs.cve_mun, name="cve_mun"),
    )
    names = [p.name for p in DEPOPULATION_PARAMETERS]
    calibration = Calibration(
        kernel=KERNEL,
        parameters={name: float(value) for name, value in zip(names, rebased, strict=True)},
        parameter_sd={
            names[column]: float(math.sqrt(max(covariance[i, i], 0.0)))
            for i, column in enumerate(free)
        },
        fit=FitStatistics(
            target=f"rmse, r2: municipal annual growth rate {start}-{base}; mape: municipal "
            f"population {base}; kernel from the {start} census at the fitted parameters, "
            "before the municipal component",
            rmse=growth_fit.rmse,
            mape=level_fit.mape,
            r2=growth_fit.r2,
            n_obs=int(usable.sum()),
        ),
        data_years=tuple(sorted({start, *grid, index_year})),
        train_until=train_until,
        method=(
            f"soft-L1 least squares of municipal growth {start}-{base} on "
            f"{', '.join(p.name for p in FREE_PARAMETERS)} (batched kernel, Gauss-Newton "
            f"covariance); municipal residual growth shrunk to CONAPO {index_year} degree medians "
            f"(empirical Bayes, noise ~ 1/population); parameters re-based to {base}"
        ),
        unit_components=pa.Table.from_pandas(components.reset_index(), preserve_index=False),
    )
    return DepopulationCalibration(
        calibration=calibration,
        start_year=start,
        base_year=base,
        index_year=index_year,
        params_row=rebased,
        free_index=free,
        free_covariance=covariance,
        unit_components=components,
        start_params_row=params_row,
        fit=fit,
        residuals=residuals,
    )


def draw_parameter_rows(
    calibration: DepopulationCalibration, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``draws`` parameter rows at the base year: the fitted parameters from their posterior
    (sampling-importance-resampling through one batch of the fit's residuals), re-based."""
    lower = np.array([p.lower for p in FREE_PARAMETERS])
    upper = np.array([p.upper for p in FREE_PARAMETERS])
    ensemble = posterior_ensemble(calibration.residuals, calibration.fit, lower, upper, draws, rng)
    rows = np.tile(calibration.start_params_row, (draws, 1))
    rows[:, calibration.free_index] = ensemble.draws
    rows = rebase_parameters(rows, calibration.base_year - calibration.start_year)
    bounds = valid_bounds(DEPOPULATION_PARAMETERS)
    return np.clip(rows, bounds[:, 0], bounds[:, 1])


def _unit_component(calibration: DepopulationCalibration, cve_mun: np.ndarray, degree: np.ndarray):
    """Residual rate mean and predictive sd per unit; units unseen by the fit get their degree's."""
    table = calibration.unit_components
    by_degree = table.groupby("intensity_degree")[["degree_mean", "degree_spread"]].first()
    known = table.reindex(cve_mun)
    fallback = by_degree.reindex(degree)
    overall_mean = float(table["residual_rate"].median())
    overall_spread = float(table["degree_spread"].median())
    mean = known["residual_rate"].to_numpy()
    sd = known["predictive_sd"].to_numpy()
    mean = np.where(np.isnan(mean), fallback["degree_mean"].fillna(overall_mean).to_numpy(), mean)
    sd = np.where(np.isnan(sd), fallback["degree_spread"].fillna(overall_spread).to_numpy(), sd)
    return mean, sd


def project_municipalities(
    con,
    calibration: DepopulationCalibration,
    years: list[int],
    *,
    draws: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """p05/p50/p95 population per municipality (enumerated at the base) and requested year.

    Years off the kernel's five-year grid are interpolated log-linearly between grid years.
    Columns: cve_mun, year, population_p05, population_p50, population_p95.
    """
    base = calibration.base_year
    bad = [year for year in years if year <= base]
    if bad:
        raise ValueError(f"years: {bad[0]} is not after the projection base year {base}")
    inputs = municipal_inputs(con, base, index_year=calibration.index_year)
    units = units_from_inputs(inputs, calibration.params_row)
    horizon = base + STEP_YEARS * math.ceil((max(years) - base) / STEP_YEARS)
    grid = np.arange(base, horizon + 1, STEP_YEARS)
    rng = np.random.default_rng(seed)
    rows = draw_parameter_rows(calibration, draws, rng)
    result = project_depopulation(rows, units, base, int(horizon), report_years=grid)
    log_kernel = np.log(result.unit_population)  # [draws, n_grid, n_units]
    mean, sd = _unit_component(calibration, inputs.cve_mun, inputs.degree)
    unit_rate = mean[None, :] + sd[None, :] * rng.standard_normal((rows.shape[0], mean.size))
    frames = []
    for year in sorted(set(years)):
        position = np.interp(year, grid, np.arange(grid.size))
        low, high = int(math.floor(position)), int(math.ceil(position))
        weight = position - low
        log_level = (1 - weight) * log_kernel[:, low] + weight * log_kernel[:, high]
        log_level = log_level + unit_rate * (year - base)
        quantiles = np.quantile(np.exp(log_level), [0.05, 0.5, 0.95], axis=0)
        frames.append(
            pd.DataFrame(
                {
                    "cve_mun": inputs.cve_mun,
                    "year": year,
                    "population_p05": quantiles[0],
                    "population_p50": quantiles[1],
                    "population_p95": quantiles[2],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
