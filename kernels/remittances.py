"""Remittance-dependence kernel: the Mexican-born population in the US by years since arrival and
the remittances it sends, under many scenarios.

State: ``stock[d]``, Mexican-born residents of the US who arrived d years ago, d = 0 … D−1 (the
last duration is open). Annual steps. For year index i (year = base_year + i):

* remitters      ρ_i = Σ_d stock_i[d] · share(d),  share(d) = share₀ · exp(−decay_s · d)
  (settlement: the longer in the US, the fewer send money);
* amount         a_i = amount_base · (W^US_i / W^US_0)^ε_a (amounts follow US wages);
* remittances    USD_i = ρ_i · a_i;  MXN_i = USD_i · FX_i;  pct_gdp_i = 100 · USD_i / GDP_i;
* households     H_i = min(households_i, households_per_remitter · ρ_i);
* transition     returns r(d) = r₀ exp(−decay_r d), then deaths m(d) = min(1, m₀ exp(g d)) of
  those staying; survivors age one year (the open group keeps its own); arrivals during year i
  enter at duration 0: A_i = inflow_base · (gap_i / gap_0)^ε_gap · (L_i / L_0)^ε_L with
  gap = W^US / W^MX and L the US labour-demand index — or, in the coupled run, arrivals
  supplied by the depopulation kernel's municipal emigrants.

So stock_{i+1} = stock_i + A_i − returns_i − deaths_i exactly (up to rounding).

Paths (US and Mexican wage indices, labour demand, GDP in USD, USD/MXN, households) are data
from ``RemittanceInputs`` up to their last year and grow at the scenario's growth-rate
parameters after it; the base year must lie inside the data.

Summaries: ``peak_year``/``peak_value`` of USD remittances over the projection (first maximum);
``year_below_start`` is the first year after the base whose remittances/GDP fall below the
base-year ratio, or −1 when that never happens within the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from migsys.kernels._validate import as_float_array, check_params, check_range, check_years
from migsys.kernels.defaults import REMITTANCE_PARAMETERS, default_params

# Column order of ``params`` (kernels.defaults.REMITTANCE_PARAMETERS); a test pins it.
(
    INFLOW_BASE,
    INFLOW_GAP_ELASTICITY,
    INFLOW_DEMAND_ELASTICITY,
    RETURN_RATE_INITIAL,
    RETURN_RATE_DECAY,
    MORTALITY_RATE,
    MORTALITY_DURATION_GROWTH,
    REMITTER_SHARE_INITIAL,
    REMITTER_SHARE_DECAY,
    AMOUNT_BASE,
    AMOUNT_WAGE_ELASTICITY,
    HOUSEHOLDS_PER_REMITTER,
    US_WAGE_GROWTH,
    MX_WAGE_GROWTH,
    LABOUR_DEMAND_GROWTH,
    GDP_GROWTH,
    HOUSEHOLDS_GROWTH,
    FX_GROWTH,
) = range(18)

PATH_NAMES = (
    "us_wage_index",
    "mx_wage_index",
    "us_labour_demand_index",
    "gdp_usd",
    "usdmxn",
    "households",
)
# Growth parameter extrapolating each path, in PATH_NAMES order.
PATH_GROWTH_COLUMNS = (
    US_WAGE_GROWTH,
    MX_WAGE_GROWTH,
    LABOUR_DEMAND_GROWTH,
    GDP_GROWTH,
    FX_GROWTH,
    HOUSEHOLDS_GROWTH,
)


@dataclass(frozen=True)
class RemittanceInputs:
    """Yearly paths (one value per entry of ``years``, consecutive years) and the initial stock.

    us_wage_index, mx_wage_index, us_labour_demand_index: positive indices (any base).
    gdp_usd: Mexican GDP in current USD; usdmxn: pesos per dollar; households: Mexican households.
    initial_stock: ``[n_durations]`` Mexican-born in the US at the base year by years since
        arrival (last entry open-ended); see :func:`initial_stock_from_total`.
    """

    years: np.ndarray
    us_wage_index: np.ndarray
    mx_wage_index: np.ndarray
    us_labour_demand_index: np.ndarray
    gdp_usd: np.ndarray
    usdmxn: np.ndarray
    households: np.ndarray
    initial_stock: np.ndarray

    def __post_init__(self) -> None:
        years = np.asarray(self.years)
        if years.ndim != 1 or years.size < 1:
            raise ValueError(
                f"inputs.years: expected a non-empty 1-d array, got shape {years.shape}"
            )
        if not np.all(np.isfinite(years.astype(np.float64))) or (years != np.round(years)).any():
            raise ValueError("inputs.years: must be whole years")
        years = years.astype(np.int64)
        if years.size > 1 and (np.diff(years) != 1).any():
            gap = int(np.argmax(np.diff(years) != 1))
            raise ValueError(
                f"inputs.years: must be consecutive, found {years[gap]} followed by {years[gap + 1]}"
            )
        object.__setattr__(self, "years", years)
        for name in PATH_NAMES:
            path = as_float_array(getattr(self, name), f"inputs.{name}", 1)
            if path.shape[0] != years.size:
                raise ValueError(
                    f"inputs.{name}: expected {years.size} values (one per year), got {path.shape[0]}"
                )
            if (path <= 0).any():
                row = int(np.argmax(path <= 0))
                raise ValueError(
                    f"inputs.{name}: must be > 0, found {path[row]} for year {years[row]}"
                )
            object.__setattr__(self, name, path)
        stock = as_float_array(self.initial_stock, "inputs.initial_stock", 1)
        if stock.size < 2:
            raise ValueError(f"inputs.initial_stock: need >= 2 durations, got {stock.size}")
        check_range(stock, "inputs.initial_stock", 0.0, np.inf)
        object.__setattr__(self, "initial_stock", stock)

    def paths(self) -> np.ndarray:
        """The six paths stacked as ``[6, n_data_years]`` in PATH_NAMES order."""
        return np.stack([getattr(self, name) for name in PATH_NAMES])


def initial_stock_from_total(
    total: float,
    params_row: np.ndarray | None = None,
    inflow_growth: float = 0.05,
    n_durations: int = 50,
) -> np.ndarray:
    """Split a total Mexican-born stock (UN DESA, census) by years since arrival.

    Cohorts that arrived d years ago are (1 + inflow_growth)^−d times smaller at arrival (flows
    grew about 5 % a year in 1970–2000) and have since been thinned by the returns and deaths of
    ``params_row`` (defaults if None). The open last duration holds all earlier arrivals.
    """
    if not (np.isfinite(total) and total >= 0):
        raise ValueError(f"total: must be a finite number >= 0, got {total}")
    if not (np.isfinite(inflow_growth) and inflow_growth > -1):
        raise ValueError(f"inflow_growth: must be > -1, got {inflow_growth}")
    if int(n_durations) != n_durations or n_durations < 2:
        raise ValueError(f"n_durations: must be a whole number >= 2, got {n_durations}")
    row = (
        default_params(REMITTANCE_PARAMETERS)[0]
        if params_row is None
        else (check_params(np.atleast_2d(params_row), REMITTANCE_PARAMETERS)[0])
    )
    durations = np.arange(n_durations + 200, dtype=np.float64)
    keep = (1.0 - row[RETURN_RATE_INITIAL] * np.exp(-row[RETURN_RATE_DECAY] * durations)) * (
        1.0
        - np.minimum(1.0, row[MORTALITY_RATE] * np.exp(row[MORTALITY_DURATION_GROWTH] * durations))
    )
    surviving = np.concatenate(([1.0], np.cumprod(keep)[:-1]))
    shape = surviving * (1.0 + inflow_growth) ** (-durations)
    stock = shape[:n_durations].copy()
    stock[-1] = shape[n_durations - 1 :].sum()
    return total * stock / stock.sum()


@dataclass(frozen=True)
class RemittanceResult:
    """Outputs of :func:`project_remittances`; first axis = scenario, ``n_years = horizon − base + 1``.

    remittances_usd, remittances_mxn: yearly flows; remittances_pct_gdp: percent of GDP (0–100);
    receiving_households, migrant_stock, remitters: counts per year.
    arrivals, returns, deaths: ``[n_scen, n_years − 1]`` flows from year i to i + 1.
    peak_year (int), peak_value (USD), year_below_start (int, −1 = never): ``[n_scen]``.
    """

    years: np.ndarray
    remittances_usd: np.ndarray
    remittances_mxn: np.ndarray
    remittances_pct_gdp: np.ndarray
    receiving_households: np.ndarray
    migrant_stock: np.ndarray
    remitters: np.ndarray
    arrivals: np.ndarray
    returns: np.ndarray
    deaths: np.ndarray
    peak_year: np.ndarray
    peak_value: np.ndarray
    year_below_start: np.ndarray


def project_remittances(
    params: np.ndarray,
    inputs: RemittanceInputs,
    base_year: int,
    horizon_year: int,
    *,
    arrivals: np.ndarray | None = None,
) -> RemittanceResult:
    """Project the US stock and remittances under every row of ``params`` (REMITTANCE_PARAMETERS).

    ``arrivals`` (``[n_scen, n_years − 1]``, persons, ≥ 0) replaces the wage-gap inflow model —
    the coupled run passes municipal emigrants here.
    """
    params, observed, external, n_years = prepare_remittances(
        params, inputs, base_year, horizon_year, arrivals
    )
    outputs = _allocate_outputs(params.shape[0], n_years)
    _remittance_kernel(
        params, observed, inputs.initial_stock, external, arrivals is not None, *outputs
    )
    return _result(base_year, n_years, outputs)


def prepare_remittances(
    params: np.ndarray,
    inputs: RemittanceInputs,
    base_year: int,
    horizon_year: int,
    arrivals: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Validated params, the observed part of the paths from the base year ``[6, n_observed]``,
    the external arrivals (or an empty array) and the number of projected years."""
    params = check_params(params, REMITTANCE_PARAMETERS)
    if not isinstance(inputs, RemittanceInputs):
        raise ValueError(f"inputs: expected RemittanceInputs, got {type(inputs).__name__}")
    n_years = check_years(base_year, horizon_year, 1) + 1
    first, last = int(inputs.years[0]), int(inputs.years[-1])
    if not first <= base_year <= last:
        raise ValueError(
            f"base_year: must lie within the years of the input paths [{first}, {last}], "
            f"got {base_year}"
        )
    start = base_year - first
    observed = np.ascontiguousarray(inputs.paths()[:, start : start + n_years])
    if arrivals is None:
        external = np.zeros((params.shape[0], 0))
    else:
        external = as_float_array(arrivals, "arrivals", 2)
        if external.shape != (params.shape[0], n_years - 1):
            raise ValueError(
                f"arrivals: expected shape {(params.shape[0], n_years - 1)} "
                f"(scenarios, projected years - 1), got {external.shape}"
            )
        check_range(external, "arrivals", 0.0, np.inf)
    return params, observed, external, n_years


def _allocate_outputs(n_scen: int, n_years: int) -> tuple[np.ndarray, ...]:
    yearly = [np.zeros((n_scen, n_years)) for _ in range(6)]
    flows = [np.zeros((n_scen, n_years - 1)) for _ in range(3)]
    summaries = [np.zeros(n_scen, dtype=np.int64), np.zeros(n_scen), np.zeros(n_scen, np.int64)]
    return (*yearly, *flows, *summaries)


def _result(base_year: int, n_years: int, outputs: tuple[np.ndarray, ...]) -> RemittanceResult:
    (
        usd,
        mxn,
        pct,
        households,
        stock,
        remitters,
        arrivals,
        returns,
        deaths,
        peak_index,
        peak_value,
        below_index,
    ) = outputs
    years = base_year + np.arange(n_years, dtype=np.int64)
    return RemittanceResult(
        years=years,
        remittances_usd=usd,
        remittances_mxn=mxn,
        remittances_pct_gdp=pct,
        receiving_households=households,
        migrant_stock=stock,
        remitters=remitters,
        arrivals=arrivals,
        returns=returns,
        deaths=deaths,
        peak_year=base_year + peak_index,
        peak_value=peak_value,
        year_below_start=np.where(below_index >= 0, base_year + below_index, -1),
    )


@njit(cache=True, inline="always")
def _advance_paths(observed, log_observed, year, growth, log_growth, values, logs) -> None:
    """Set ``values``/``logs`` of the six paths to ``year``: the observation while there is one,
    else last year's value times (1 + growth) — called for consecutive years."""
    n_observed = observed.shape[1]
    for path in range(observed.shape[0]):
        if year < n_observed:
            values[path] = observed[path, year]
            logs[path] = log_observed[path, year]
        else:
            values[path] = values[path] * growth[path]
            logs[path] = logs[path] + log_growth[path]


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _sweep_cohorts(cohorts, first, share, return_rate, dying_rate, keep, sums) -> None:
    """One pass over the closed durations stored from ``cohorts[first]`` (oldest) onwards:
    accumulate remitters, stock, returns and deaths into ``sums`` and age each cohort in place."""
    remitters = 0.0
    total = 0.0
    leaving = 0.0
    dying = 0.0
    for k in range(share.shape[0]):
        people = cohorts[first + k]
        remitters += people * share[k]
        total += people
        leaving += people * return_rate[k]
        dying += people * dying_rate[k]
        cohorts[first + k] = people * keep[k]
    sums[0] += remitters
    sums[1] += total
    sums[2] += leaving
    sums[3] += dying


@njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
def _remittance_kernel(
    params,
    observed,
    initial_stock,
    external_arrivals,
    use_external,
    usd,
    mxn,
    pct,
    households,
    stock_total,
    remitters_out,
    arrivals_out,
    returns_out,
    deaths_out,
    peak_index,
    peak_value,
    below_index,
):
    """All scenarios × years × durations; each scenario writes only its own output rows.

    Cohorts are stored by arrival year (``cohorts[year + D − 1 − d]`` holds duration d < D − 1
    in year ``year``; the open duration is a scalar), so ageing is an in-place multiply with no
    shifting, and one fused pass per year gives the outputs and the transition. Elastic terms
    use exp(ε · log ratio) with logs of the observations computed once.
    """
    n_scen = params.shape[0]
    n_years = usd.shape[1]
    n_durations = initial_stock.shape[0]
    n_closed = n_durations - 1
    n_paths = observed.shape[0]
    n_observed = observed.shape[1]
    log_observed = np.log(observed)
    for scenario in prange(n_scen):
        row = params[scenario]
        # One allocation per scenario for all scratch arrays (allocations showed in profiles).
        scratch = np.empty(4 * n_closed + n_years + n_closed + 4 * n_paths + 4)
        # Rates of closed duration d stored at k = D − 2 − d (oldest first, as in ``cohorts``).
        share = scratch[0:n_closed]
        return_rate = scratch[n_closed : 2 * n_closed]
        dying_rate = scratch[2 * n_closed : 3 * n_closed]
        keep = scratch[3 * n_closed : 4 * n_closed]
        cohorts = scratch[4 * n_closed : 5 * n_closed + n_years]
        growth = scratch[5 * n_closed + n_years : 5 * n_closed + n_years + n_paths]
        log_growth = scratch[
            5 * n_closed + n_years + n_paths : 5 * n_closed + n_years + 2 * n_paths
        ]
        values = scratch[
            5 * n_closed + n_years + 2 * n_paths : 5 * n_closed + n_years + 3 * n_paths
        ]
        logs = scratch[5 * n_closed + n_years + 3 * n_paths : 5 * n_closed + n_years + 4 * n_paths]
        sums = scratch[5 * n_closed + n_years + 4 * n_paths :]
        # Geometric sequences by repeated multiplication: three exp calls per scenario, not 3 D.
        return_step = math.exp(-row[RETURN_RATE_DECAY])
        death_step = math.exp(row[MORTALITY_DURATION_GROWTH])
        share_step = math.exp(-row[REMITTER_SHARE_DECAY])
        returning = row[RETURN_RATE_INITIAL]
        death_level = row[MORTALITY_RATE]
        remitting = row[REMITTER_SHARE_INITIAL]
        for d in range(n_closed):
            death = min(1.0, death_level)
            k = n_closed - 1 - d
            share[k] = remitting
            return_rate[k] = returning
            dying_rate[k] = (1.0 - returning) * death
            keep[k] = (1.0 - returning) * (1.0 - death)
            returning *= return_step
            death_level *= death_step
            remitting *= share_step
        death = min(1.0, death_level)
        open_share = remitting
        open_return = returning
        open_dying = (1.0 - returning) * death
        open_keep = (1.0 - returning) * (1.0 - death)
        cohorts[:] = 0.0
        for d in range(n_closed):
            cohorts[n_closed - d] = initial_stock[d]
        open_stock = initial_stock[n_closed]
        for path in range(n_paths):
            rate = row[PATH_GROWTH_COLUMNS[path]]
            growth[path] = 1.0 + rate
            log_growth[path] = math.log1p(rate)
        amount_step = math.exp(row[AMOUNT_WAGE_ELASTICITY] * log_growth[0])
        inflow_step = math.exp(
            row[INFLOW_GAP_ELASTICITY] * (log_growth[0] - log_growth[1])
            + row[INFLOW_DEMAND_ELASTICITY] * log_growth[2]
        )
        amount = 0.0
        arriving = 0.0
        best = -1.0
        below_index[scenario] = -1
        for year in range(n_years):
            _advance_paths(observed, log_observed, year, growth, log_growth, values, logs)
            sums[0] = open_stock * open_share
            sums[1] = open_stock
            sums[2] = open_stock * open_return
            sums[3] = open_stock * open_dying
            first = year + 1
            _sweep_cohorts(cohorts, first, share, return_rate, dying_rate, keep, sums)
            remitters = sums[0]
            # Beyond the data every path grows at a constant rate, so the elastic terms grow by
            # a constant factor a year: one multiply instead of an exp.
            observed_year = year < n_observed
            if observed_year:
                amount = row[AMOUNT_BASE] * math.exp(
                    row[AMOUNT_WAGE_ELASTICITY] * (logs[0] - log_observed[0, 0])
                )
            else:
                amount *= amount_step
            flow = remitters * amount
            usd[scenario, year] = flow
            mxn[scenario, year] = flow * values[4]
            pct[scenario, year] = 100.0 * flow / values[3]
            households[scenario, year] = min(values[5], row[HOUSEHOLDS_PER_REMITTER] * remitters)
            stock_total[scenario, year] = sums[1]
            remitters_out[scenario, year] = remitters
            if flow > best:
                best = flow
                peak_index[scenario] = year
            if below_index[scenario] < 0 and pct[scenario, year] < pct[scenario, 0]:
                below_index[scenario] = year
            if year == n_years - 1:
                break
            if use_external:
                arriving = external_arrivals[scenario, year]
            elif observed_year:
                log_gap = (logs[0] - logs[1]) - (log_observed[0, 0] - log_observed[1, 0])
                log_demand = logs[2] - log_observed[2, 0]
                arriving = row[INFLOW_BASE] * math.exp(
                    row[INFLOW_GAP_ELASTICITY] * log_gap
                    + row[INFLOW_DEMAND_ELASTICITY] * log_demand
                )
            else:
                arriving *= inflow_step
            # The oldest closed cohort (already aged in place) joins the open duration.
            open_stock = open_stock * open_keep + cohorts[first]
            cohorts[first + n_closed] = arriving
            arrivals_out[scenario, year] = arriving
            returns_out[scenario, year] = sums[2]
            deaths_out[scenario, year] = sums[3]
        peak_value[scenario] = best
