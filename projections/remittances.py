"""Calibration of the remittance-dependence kernel on the national series (for the sweeps).

Data (marts): Banxico annual remittances (``fct_remittances_annual``, complete years only), the
UN DESA Mexican-born population in the US (``fct_migrant_stock``), Mexican GDP in USD,
the yearly mean USD/MXN rate (``fct_remittances_monthly``), World Bank GDP and population of both
countries (``fct_binational_asymmetry``) and CONAPO households (``fct_migration_intensity``).

Paths (the warehouse has no wage or employment series, so proxies, documented here):
- US wage index: US GDP per capita in current USD; Mexican wage index: Mexico's;
- US labour-demand index: US GDP in current USD (the size of the economy that hires);
  (World Bank rows of ``fct_binational_asymmetry``; the paper's Table 2 rows are not a series)
- Mexican households: CONAPO households of the latest index year, moved with Mexico's population
  (constant persons per household).
Only data up to ``train_until`` enter the paths; after it each path grows at its own average
annual growth of the last ``PATH_TREND_YEARS`` training years (set as the kernel's growth
parameters), so a backtest never sees the exchange rate or GDP of the years it projects.

Method: the kernel starts in the first year with both a Banxico total and a UN stock (1995), from
the UN stock split by duration (:func:`kernels.remittances.initial_stock_from_total`). Bounded
least squares (batched kernel calls) of log remittances for every training year and log migrant
stock at the UN years after the start (weighted ``STOCK_WEIGHT`` times, being 5-yearly) on
``FREE_PARAMETERS``. The fit is on year-on-year log changes with a soft-L1 loss because the series
has a level break: remittances jumped 54 % in 2003, a jump commonly attributed in part to better
recording of electronic transfers rather than to migrants, and a level fit would read that break
as wage elasticity. ``amount_base``
(remittances are proportional to it) is then set to match the log levels.

The calibration serves the scenario sweeps (parameters ``from = "calibration"``) and
``migsys calibrate``. It is not the forecast: the forecast of annual remittances, evaluated against
the simple extrapolations, is :mod:`projections.remittance_forecast`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from migsys.kernels.defaults import (
    REMITTANCE_PARAMETERS,
    default_params,
    parameter_index,
)
from migsys.kernels.remittances import (
    RemittanceInputs,
    initial_stock_from_total,
    project_remittances,
)
from migsys.projections.depopulation import FreeParameter
from migsys.projections.fitting import (
    BatchResiduals,
    LeastSquaresFit,
    fit_batch_least_squares,
    fit_summary,
)
from migsys.projections.inputs import fetch_frame, latest_index_year
from migsys.projections.store import Calibration, FitStatistics

KERNEL = "remittances"
STOCK_WEIGHT = 1.0
GROWTH_LOSS_SCALE = 0.1  # 10 %/year: larger misfits (the 2003 recording jump) count as outliers
PATH_TREND_YEARS = 10

FREE_PARAMETERS: tuple[FreeParameter, ...] = (
    FreeParameter("inflow_base", 0.0, 2_000_000.0, "arrivals in the start year, set by the stock"),
    FreeParameter(
        "inflow_demand_elasticity", -3.0, 6.0, "arrivals against the US labour-demand proxy"
    ),
    FreeParameter(
        "remitter_share_decay", 0.0, 0.5, "settlement: how fast the remitting share falls"
    ),
    FreeParameter(
        "amount_wage_elasticity",
        -3.0,
        6.0,
        "amounts against the US wage proxy; wide because the proxy is GDP per capita",
    ),
)
# Remittances are proportional to amount_base, so it is profiled out: after the growth fit it is
# set to the level that best matches log remittances over the training years.
LEVEL_PARAMETER = "amount_base"

# kernel growth parameter of each path, set from the training years' trend
PATH_GROWTH_PARAMETERS = {
    "us_wage_index": "us_wage_growth",
    "mx_wage_index": "mx_wage_growth",
    "us_labour_demand_index": "labour_demand_growth",
    "gdp_usd": "gdp_growth",
    "usdmxn": "fx_growth",
    "households": "households_growth",
}


def observed_remittances(con) -> pd.Series:
    """Banxico remittance income in USD by year, complete years (12 months) only."""
    frame = fetch_frame(
        con,
        "SELECT year, remittances_usd FROM fct_remittances_annual "
        "WHERE months_observed = 12 AND remittances_usd > 0 ORDER BY year",
    )
    if frame.empty:
        raise ValueError("fct_remittances_annual: no complete year of remittances in the warehouse")
    return frame.set_index("year")["remittances_usd"].astype(float)


def observed_migrant_stock(con) -> pd.Series:
    """UN DESA Mexican-born population in the US by year."""
    frame = fetch_frame(
        con,
        "SELECT year, mexican_born_in_us FROM fct_migrant_stock "
        "WHERE mexican_born_in_us > 0 ORDER BY year",
    )
    if frame.empty:
        raise ValueError("fct_migrant_stock: no Mexican-born stock in the warehouse")
    return frame.groupby("year")["mexican_born_in_us"].mean().astype(float)


def _asymmetry(con, indicator: str) -> pd.DataFrame:
    frame = fetch_frame(
        con,
        "SELECT year, avg(mexico_value) AS mexico, avg(us_value) AS us "
        "FROM fct_binational_asymmetry WHERE indicator = ? AND source LIKE 'World Bank%' "
        "AND mexico_value > 0 AND us_value > 0 GROUP BY year ORDER BY year",
        [indicator],
    )
    if frame.empty:
        raise ValueError(
            f"fct_binational_asymmetry: no World Bank values of indicator {indicator!r}"
        )
    return frame.set_index("year")


def _yearly_exchange_rate(con) -> pd.Series:
    frame = fetch_frame(
        con,
        "SELECT year(month) AS year, avg(usdmxn_rate) AS rate FROM fct_remittances_monthly "
        "WHERE usdmxn_rate > 0 GROUP BY 1 ORDER BY 1",
    )
    return frame.set_index("year")["rate"].astype(float)


def _households_path(con, years: np.ndarray, until: int, mx_population: pd.Series) -> np.ndarray:
    index_year = latest_index_year(con, until)
    total = fetch_frame(
        con,
        "SELECT sum(households) AS households FROM fct_migration_intensity WHERE index_year = ?",
        [index_year],
    )["households"].iloc[0]
    if not total or index_year not in mx_population.index:
        raise ValueError(
            f"fct_migration_intensity: no households for index_year {index_year}, "
            "or no Mexican population that year in fct_binational_asymmetry"
        )
    return float(total) * mx_population.reindex(years).to_numpy() / mx_population[index_year]


def last_input_year(con) -> int:
    """The last year every path the kernel reads is observed (World Bank GDP lags a year behind
    Banxico's remittances: the fit cannot reach a year without its wage and GDP paths)."""
    gdp_per_capita = _asymmetry(con, "gdp_per_capita")
    gdp = _asymmetry(con, "gdp")
    series = [
        gdp_per_capita["us"],
        gdp_per_capita["mexico"],
        gdp["us"],
        gdp["mexico"],
        _yearly_exchange_rate(con),
    ]
    lasts = [int(s.dropna().index.max()) for s in series if not s.dropna().empty]
    if len(lasts) < len(series):
        raise ValueError(
            "fct_binational_asymmetry / fct_remittances_monthly: a GDP, wage or exchange-rate "
            "path of the remittance kernel has no observation"
        )
    return min(lasts)


def remittance_inputs(
    con, base_year: int, *, until: int, params_row: np.ndarray | None = None
) -> RemittanceInputs:
    """Kernel inputs with paths for ``base_year..until`` and the UN stock at ``base_year``.

    Every path must be observed for each year of the span; the error names the first gap.
    """
    if until < base_year:
        raise ValueError(f"until: {until} is before base_year {base_year}")
    years = np.arange(base_year, until + 1)
    gdp_per_capita = _asymmetry(con, "gdp_per_capita")
    gdp = _asymmetry(con, "gdp")
    population = _asymmetry(con, "population")
    paths = {
        "us_wage_index": gdp_per_capita["us"],
        "mx_wage_index": gdp_per_capita["mexico"],
        "us_labour_demand_index": gdp["us"],
        "gdp_usd": gdp["mexico"],
        "usdmxn": _yearly_exchange_rate(con),
    }
    values = {}
    for name, series in paths.items():
        aligned = series.reindex(years).to_numpy(dtype=float)
        if np.isnan(aligned).any():
            missing = int(years[np.argmax(np.isnan(aligned))])
            raise ValueError(
                f"{name}: no observation for {missing} (needed for every year {base_year}-{until})"
            )
        values[name] = aligned
    values["households"] = _households_path(con, years, until, population["mexico"])
    stock = observed_migrant_stock(con)
    if base_year not in stock.index:
        raise ValueError(
            f"fct_migrant_stock: no Mexican-born stock in base_year {base_year} "
            f"(years: {list(stock.index)})"
        )
    return RemittanceInputs(
        years=years,
        initial_stock=initial_stock_from_total(float(stock[base_year]), params_row),
        **values,
    )


def trend_growth(inputs: RemittanceInputs, years: int = PATH_TREND_YEARS) -> dict[str, float]:
    """Average annual growth of each path over its last ``years`` years (growth-parameter names)."""
    span = min(years, inputs.years.size - 1)
    if span < 1:
        raise ValueError("inputs: need at least two years of paths to estimate a trend")
    return {
        parameter: float(
            (getattr(inputs, path)[-1] / getattr(inputs, path)[-1 - span]) ** (1 / span) - 1
        )
        for path, parameter in PATH_GROWTH_PARAMETERS.items()
    }


def rebase_parameters(params_row: np.ndarray, inputs: RemittanceInputs, to_year: int) -> np.ndarray:
    """The parameter row describing the same run from ``to_year`` instead of the first input year.

    Arrivals and amounts are levels set in the base year and moved by path ratios, so
    ``inflow_base`` and ``amount_base`` become their values in ``to_year``; elasticities, shares
    and rates do not depend on the start. (The stock by duration is not a parameter: a run from
    ``to_year`` starts from that year's observed stock.)
    """
    years = inputs.years
    if not years[0] <= to_year <= years[-1]:
        raise ValueError(f"to_year: {to_year} is outside the input paths {years[0]}-{years[-1]}")
    at = int(to_year - years[0])
    row = np.array(params_row, dtype=float, copy=True)

    def ratio(path: np.ndarray) -> float:
        return float(path[at] / path[0])

    column = {p.name: parameter_index(REMITTANCE_PARAMETERS, p.name) for p in REMITTANCE_PARAMETERS}
    gap = ratio(inputs.us_wage_index) / ratio(inputs.mx_wage_index)
    row[column["inflow_base"]] *= (
        gap ** row[column["inflow_gap_elasticity"]]
        * ratio(inputs.us_labour_demand_index) ** row[column["inflow_demand_elasticity"]]
    )
    row[column["amount_base"]] *= (
        ratio(inputs.us_wage_index) ** row[column["amount_wage_elasticity"]]
    )
    return row


@dataclass(frozen=True)
class RemittanceCalibration:
    """A calibration plus what projecting from it needs."""

    calibration: Calibration
    start_year: int
    params_row: np.ndarray  # [n_params] at start_year, growth parameters set from the trend
    free_index: np.ndarray
    inputs: RemittanceInputs  # paths up to train_until
    fit: LeastSquaresFit
    residuals: BatchResiduals  # the fit's batch residuals (for the ensemble)
    last_observed: float  # remittances in train_until, the level projections start from
    growth_noise_sd: float  # robust sd of the yearly log-change misfit at the fit


def _fit_span(con, train_until: int) -> tuple[int, pd.Series, pd.Series]:
    remittances = observed_remittances(con)
    stock = observed_migrant_stock(con)
    last = int(remittances.index.max())
    if train_until > last:
        raise ValueError(
            f"train_until: {train_until} is after the last complete year of remittances in the "
            f"warehouse ({last})"
        )
    starts = [int(year) for year in stock.index if year in remittances.index]
    if not starts or min(starts) >= train_until:
        raise ValueError(
            f"train_until: {train_until} leaves no span to fit: the fit starts in the first year "
            f"with both remittances and a UN stock ({min(starts) if starts else 'none'})"
        )
    return min(starts), remittances, stock


def calibrate_remittances(con, train_until: int) -> RemittanceCalibration:
    """Fit the remittance kernel to remittances and the migrant stock up to ``train_until``."""
    start, remittances, stock = _fit_span(con, train_until)
    years = np.arange(start, train_until + 1)
    observed = remittances.reindex(years).to_numpy(float)
    has_remittances = np.isfinite(observed)
    observed_growth = np.diff(np.log(observed))
    has_growth = np.isfinite(observed_growth)
    stock_years = [int(year) for year in stock.index if start < year <= train_until]
    stock_positions = np.array([year - start for year in stock_years], dtype=int)
    observed_stock = stock.reindex(stock_years).to_numpy(float)

    params_row = default_params(REMITTANCE_PARAMETERS)[0]
    inputs = remittance_inputs(con, start, until=train_until, params_row=params_row)
    for name, value in trend_growth(inputs).items():
        params_row[parameter_index(REMITTANCE_PARAMETERS, name)] = value
    free = np.array([parameter_index(REMITTANCE_PARAMETERS, p.name) for p in FREE_PARAMETERS])
    lower = np.array([p.lower for p in FREE_PARAMETERS])
    upper = np.array([p.upper for p in FREE_PARAMETERS])

    def residuals(candidates: np.ndarray) -> np.ndarray:
        rows = np.tile(params_row, (candidates.shape[0], 1))
        rows[:, free] = candidates
        result = project_remittances(rows, inputs, start, train_until)
        modelled = np.log(np.maximum(result.remittances_usd, 1.0))
        growth = np.diff(modelled, axis=1)[:, has_growth] - observed_growth[has_growth]
        level = np.log(np.maximum(result.migrant_stock[:, stock_positions], 1.0))
        level = STOCK_WEIGHT * (level - np.log(observed_stock))
        return np.hstack([growth, level])

    fit = fit_batch_least_squares(
        residuals,
        params_row[free],
        lower,
        upper,
        max_evaluations=100,
        loss="soft_l1",
        loss_scale=GROWTH_LOSS_SCALE,
    )
    params_row[free] = fit.values
    level = parameter_index(REMITTANCE_PARAMETERS, LEVEL_PARAMETER)
    shape = project_remittances(params_row[None, :], inputs, start, train_until)
    log_gap = np.log(observed[has_remittances]) - np.log(shape.remittances_usd[0, has_remittances])
    params_row[level] *= float(np.exp(np.mean(log_gap)))
    at_fit = project_remittances(params_row[None, :], inputs, start, train_until)
    summary = fit_summary(at_fit.remittances_usd[0, has_remittances], observed[has_remittances])
    names = [p.name for p in REMITTANCE_PARAMETERS]
    data_years = sorted({*years[has_remittances].tolist(), *stock_years, start})
    calibration = Calibration(
        kernel=KERNEL,
        parameters={
            name: float(value)
            for name, value in zip(
                names, rebase_parameters(params_row, inputs, train_until), strict=True
            )
        },
        parameter_sd={names[c]: float(se) for c, se in zip(free, fit.standard_errors, strict=True)},
        fit=FitStatistics(
            target=f"national remittances (USD) {start}-{train_until}",
            rmse=summary.rmse,
            mape=summary.mape,
            r2=summary.r2,
            n_obs=int(has_remittances.sum() + len(stock_years)),
        ),
        data_years=tuple(int(year) for year in data_years),
        train_until=train_until,
        method=(
            f"soft-L1 least squares of year-on-year log changes of remittances {start}-"
            f"{train_until} and log UN migrant stock on "
            f"{', '.join(p.name for p in FREE_PARAMETERS)} (batched kernel, Gauss-Newton "
            f"covariance); {LEVEL_PARAMETER} profiled on log levels; path growth = last "
            f"{PATH_TREND_YEARS}-year trend; fitted from {start}, inflow_base and amount_base "
            f"carried along the paths to {train_until} (std. errors at {start})"
        ),
    )
    growth_misfit = fit.residuals[: int(has_growth.sum())]
    noise_sd = 1.4826 * float(np.median(np.abs(growth_misfit - np.median(growth_misfit))))
    return RemittanceCalibration(
        calibration,
        start,
        params_row,
        free,
        inputs,
        fit,
        residuals,
        float(observed[-1]),
        noise_sd,
    )
