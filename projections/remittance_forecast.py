"""Annual remittances to Mexico: a forecast that respects Banxico's own decomposition.

Banxico reports remittances as a number of operations and their USD amount. Their ratio, the
average remittance, is close to flat in nominal dollars (326 in 1995, 345 in 2007, 291 in 2015):
the growth came from the number of operations, and operations follow the number of Mexican-born
migrants in the US and the US economy that employs them. So, in logs,

    remittances = operations × average amount
    operations  = migrant stock × operations per migrant

and at an origin ``T`` the forecast of year ``T + h`` is

- average amount: the last annual average (a random walk in nominal USD);
- migrant stock: the UN DESA stock (five-yearly) interpolated log-linearly and extrapolated at its
  last five-year growth — only the UN values published for years up to ``T``;
- operations per migrant: the last value moved with the US economy's *own forecast*:
  ``γ · (log GDP_us(T+h) − log GDP_us(T))``, where ``γ`` is the regression of the yearly change of
  operations per migrant on the yearly changes of US GDP and of the peso rate (with an intercept
  for the channel formalisation of the 1990s, not carried forward, and a dummy for 2003) over the
  years up to ``T``, and US GDP is forecast by damped-trend exponential smoothing of its own logs
  up to ``T``; the exchange rate's own forecast is its last value (a random walk), so it enters
  the fit but moves no forecast.
- the 2003 recording change: Banxico began counting electronic transfers more completely in 2003,
  when operations jumped 60 % with the average amount unchanged. It is a level shift (the dummy
  above), never growth to extrapolate.

The baselines it must beat: the last level, the drift (mean yearly log change up to ``T``
continued) and damped-trend exponential smoothing of log remittances (statsmodels ``ETSModel``).
One combination is forecast beside them, a candidate for the published method: the model and the
last level, equally weighted in logs.

The drift and the smoothing read the series with the 2003 shift removed (the shift estimated at
``T``), as the model does: a baseline that took the recording change for growth would be a straw
man. Each method's intervals come from its own realised errors
(:func:`projections.evaluation.remittance_quantiles`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

RECORDING_SHIFT_YEAR = 2003
MODEL = "model"
LAST_LEVEL = "last_level"
DRIFT = "drift"
DAMPED_ETS = "damped_ets"
REMITTANCE_BASELINES = (LAST_LEVEL, DRIFT, DAMPED_ETS)
# a candidate for the published method (projections.selection): the geometric mean of the model
# and the last level, the model's economy and migrant stock shrunk halfway towards no change
MODEL_AND_LAST_LEVEL = "model_and_last_level"
FIRST_ORIGIN = 2003
MAX_HORIZON = 5
MIN_CALIBRATION_ERRORS = 3
ELASTICITY_PRIOR_SD = 0.5


@dataclass(frozen=True)
class RemittanceData:
    """Annual series (index: year) the remittance forecasts read."""

    remittances_usd: pd.Series  # complete years only
    operations: pd.Series
    usdmxn: pd.Series  # yearly mean rate
    us_gdp: pd.Series  # current USD, World Bank
    migrant_stock: pd.Series  # UN DESA, five-yearly

    def until(self, origin: int) -> RemittanceData:
        """The data as they stood at the end of ``origin``: later years removed."""
        return RemittanceData(*(series[series.index <= origin].copy() for series in self._series()))

    def _series(self) -> tuple[pd.Series, ...]:
        return (
            self.remittances_usd,
            self.operations,
            self.usdmxn,
            self.us_gdp,
            self.migrant_stock,
        )

    @property
    def last_year(self) -> int:
        return int(self.remittances_usd.index.max())


def read_remittance_data(con) -> RemittanceData:
    """The annual series from the marts; a missing series is an error naming its mart."""
    from migsys.projections.inputs import fetch_frame

    annual = fetch_frame(
        con,
        "SELECT year, remittances_usd, operations FROM fct_remittances_annual "
        "WHERE months_observed = 12 AND remittances_usd > 0 AND operations > 0 ORDER BY year",
    ).set_index("year")
    if annual.empty:
        raise ValueError("fct_remittances_annual: no complete year with remittances and operations")
    fx = fetch_frame(
        con,
        "SELECT year(month) AS year, avg(usdmxn_rate) AS rate FROM fct_remittances_monthly "
        "WHERE usdmxn_rate > 0 GROUP BY 1 ORDER BY 1",
    ).set_index("year")["rate"]
    gdp = fetch_frame(
        con,
        "SELECT year, avg(us_value) AS us FROM fct_binational_asymmetry "
        "WHERE indicator = 'gdp' AND source LIKE 'World Bank%' AND us_value > 0 "
        "GROUP BY year ORDER BY year",
    ).set_index("year")["us"]
    stock = fetch_frame(
        con,
        "SELECT year, avg(mexican_born_in_us) AS stock FROM fct_migrant_stock "
        "WHERE mexican_born_in_us > 0 GROUP BY year ORDER BY year",
    ).set_index("year")["stock"]
    for name, series in (("fct_binational_asymmetry (US GDP)", gdp), ("fct_migrant_stock", stock)):
        if series.empty:
            raise ValueError(f"{name}: no rows; the remittance forecast needs it")
    return RemittanceData(
        annual["remittances_usd"].astype(float),
        annual["operations"].astype(float),
        fx.astype(float),
        gdp.astype(float),
        stock.astype(float),
    )


def _int_index(series: pd.Series) -> pd.Series:
    series = series.copy()
    series.index = series.index.astype(int)
    return series


def stock_path(stock: pd.Series, years: np.ndarray) -> np.ndarray:
    """Log migrant stock at ``years``: log-linear between UN years, the last five-year growth
    beyond the last one (and the first growth before the first)."""
    known = _int_index(stock).sort_index()
    if known.size < 2:
        raise ValueError("fct_migrant_stock: need two UN years to extrapolate the stock")
    x = known.index.to_numpy(float)
    y = np.log(known.to_numpy(float))
    years = np.asarray(years, dtype=float)
    out = np.interp(years, x, y)
    late_rate = (y[-1] - y[-2]) / (x[-1] - x[-2])
    early_rate = (y[1] - y[0]) / (x[1] - x[0])
    out = np.where(years > x[-1], y[-1] + late_rate * (years - x[-1]), out)
    return np.where(years < x[0], y[0] + early_rate * (years - x[0]), out)


def damped_ets_forecast(log_values: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Damped additive-trend exponential smoothing of a log series, forecast ``horizons`` ahead."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    values = np.asarray(log_values, dtype=float)
    if values.size < 4:
        slope = (values[-1] - values[0]) / max(values.size - 1, 1)
        return values[-1] + slope * np.asarray(horizons, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = ETSModel(values, error="add", trend="add", damped_trend=True).fit(disp=False)
        path = fitted.forecast(int(np.max(horizons)))
    return np.asarray(path)[np.asarray(horizons, dtype=int) - 1]


@dataclass(frozen=True)
class OperationsFit:
    """The regression of yearly changes of log operations per migrant."""

    gdp_elasticity: float
    fx_elasticity: float
    formalisation: float  # intercept: mean yearly growth not explained (not carried forward)
    recording_shift: float  # log jump of 2003 (0 when the data end before it)


def fit_operations(data: RemittanceData) -> OperationsFit:
    """OLS of Δ log(operations / stock) on Δ log US GDP and Δ log peso rate, with an intercept
    and a 2003 dummy, over the years up to the data's last."""
    years = _int_index(data.operations).index.to_numpy(int)
    per_migrant = np.log(_int_index(data.operations).to_numpy(float)) - stock_path(
        data.migrant_stock, years
    )
    gdp = np.log(_int_index(data.us_gdp).reindex(years).to_numpy(float))
    fx = np.log(_int_index(data.usdmxn).reindex(years).to_numpy(float))
    change = np.diff(per_migrant)
    columns = [np.ones(change.size), np.diff(gdp), np.diff(fx)]
    shift_at = years[1:] == RECORDING_SHIFT_YEAR
    if shift_at.any():
        columns.append(shift_at.astype(float))
    design = np.column_stack(columns)
    usable = np.all(np.isfinite(design), axis=1) & np.isfinite(change)
    if usable.sum() < design.shape[1] + 1:
        raise ValueError(
            f"remittance forecast: {int(usable.sum())} usable years up to {years[-1]}; the "
            f"operations regression needs at least {design.shape[1] + 1}"
        )
    x, y = design[usable], change[usable]
    # Bayesian ridge: the two elasticities have a N(0, ELASTICITY_PRIOR_SD²) prior, the intercept
    # and the 2003 dummy a flat one; the noise variance is the least-squares residual variance.
    # A handful of years confounded with the 1990s formalisation of channels cannot pin an
    # elasticity; the prior keeps the economy out of the forecast until the data show it.
    ols, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = max(y.size - x.shape[1], 1)
    noise = max(float(np.sum((y - x @ ols) ** 2)) / dof, 1e-6)
    penalty = np.zeros(x.shape[1])
    penalty[1:3] = noise / ELASTICITY_PRIOR_SD**2
    coefficients = np.linalg.solve(x.T @ x + np.diag(penalty), x.T @ y)
    shift = float(coefficients[3]) if shift_at.any() else 0.0
    return OperationsFit(
        float(coefficients[1]), float(coefficients[2]), float(coefficients[0]), shift
    )


def point_forecasts(
    data: RemittanceData, origin: int, horizons: np.ndarray
) -> dict[str, np.ndarray]:
    """Every method's forecast of log remittances ``h`` years after ``origin``."""
    known = data.until(origin)
    series = _int_index(known.remittances_usd)
    if origin not in series.index:
        raise ValueError(f"fct_remittances_annual: no complete year {origin} to start from")
    horizons = np.asarray(horizons, dtype=int)
    log_series = np.log(series.to_numpy(float))
    last = log_series[-1]
    fit = fit_operations(known)
    # the years before the recording change on today's recording basis (shift 0 before 2003)
    comparable = log_series + np.where(
        series.index.to_numpy(int) < RECORDING_SHIFT_YEAR, fit.recording_shift, 0.0
    )
    drift = (comparable[-1] - comparable[0]) / max(comparable.size - 1, 1)
    out = {
        LAST_LEVEL: np.full(horizons.size, last),
        DRIFT: last + drift * horizons,
        DAMPED_ETS: damped_ets_forecast(comparable, horizons),
    }
    gdp = np.log(_int_index(known.us_gdp))
    gdp_known = gdp[gdp.index <= origin].to_numpy(float)
    gdp_path = damped_ets_forecast(gdp_known, horizons)
    gdp_origin = float(gdp[origin]) if origin in gdp.index else float(gdp_known[-1])
    years = origin + horizons
    stock_growth = stock_path(known.migrant_stock, years) - stock_path(
        known.migrant_stock, np.array([origin])
    )
    out[MODEL] = last + stock_growth + fit.gdp_elasticity * (gdp_path - gdp_origin)
    out[MODEL_AND_LAST_LEVEL] = 0.5 * (out[MODEL] + out[LAST_LEVEL])
    return out


def observed_log(data: RemittanceData, year: int, origin: int) -> float | None:
    """Log remittances of ``year`` as comparable with a forecast from ``origin``: across the 2003
    recording change the shift is removed (estimated on the data up to the comparison's end)."""
    series = _int_index(data.remittances_usd)
    if year not in series.index:
        return None
    value = float(np.log(series[year]))
    if origin < RECORDING_SHIFT_YEAR <= year:
        value -= fit_operations(data.until(max(year, RECORDING_SHIFT_YEAR))).recording_shift
    return value
