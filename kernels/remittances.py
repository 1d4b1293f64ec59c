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
from numba import get_num_threads, njit, prange

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
        get_num_threads(),
        params,
        observed,
        inputs.initial_stock,
        external,
        arrivals is not None,
        *outputs,
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
    """The twelve output arrays of ``RemittanceResult``, carved out of one allocation.

    One buffer instead of twelve: a 16,384-scenario chunk needs ~30 MiB of outputs, and separate
    arrays under numpy's 4 MiB huge-page threshold cost ~7,500 page faults per call (measured:
    1.3 µs per scenario in a worker, as much as the projection); one buffer above it gets huge
    pages (~35 faults). Every entry is written by the kernel, so the buffer is not zeroed.
    """
    yearly, flows = n_scen * n_years, n_scen * (n_years - 1)
    buffer = np.empty(6 * yearly + 3 * flows + 3 * n_scen)
    views = []
    offset = 0
    for size, shape in [(yearly, (n_scen, n_years))] * 6 + [(flows, (n_scen, n_years - 1))] * 3:
        views.append(buffer[offset : offset + size].reshape(shape))
        offset += size
    for dtype in (np.int64, np.float64, np.int64):  # peak index, peak value, first year below
        views.append(buffer[offset : offset + n_scen].view(dtype))
        offset += n_scen
    return tuple(views)


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


# Per-stripe memo of the values that depend on a few parameters only (see _remittance_kernel).
MEMO_SCHEDULE = 0  # slots 0-5: the six schedule parameters the rates were computed for
MEMO_OPEN_RATES = 6  # slots 6-9: open duration's share, return, dying and keep rates
MEMO_AMOUNT_ELASTICITY = 10
MEMO_GAP_ELASTICITY = 11
MEMO_DEMAND_ELASTICITY = 12
MEMO_SLOTS = 13
# Rows of the per-stripe rate table, by duration (oldest first, as the cohorts are stored).
SHARE_ROW, RETURN_ROW, DYING_ROW, KEEP_ROW = range(4)
# Rows of the per-stripe observed-year factors.
AMOUNT_ROW, INFLOW_ROW = range(2)


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _same_schedule(params, scenario, memo, stripe) -> bool:
    """Whether the rate table of ``stripe`` was computed for this scenario's six schedule
    parameters. Spelled out with ``&``: a short-circuit ``and`` chain or a loop over a tuple of
    columns here costs the parallel region its no-alias guarantees (checked with
    ``inspect_llvm``), and the duration pass its run-time-check-free vectorisation."""
    return (
        (params[scenario, RETURN_RATE_INITIAL] == memo[stripe, MEMO_SCHEDULE])
        & (params[scenario, RETURN_RATE_DECAY] == memo[stripe, MEMO_SCHEDULE + 1])
        & (params[scenario, MORTALITY_RATE] == memo[stripe, MEMO_SCHEDULE + 2])
        & (params[scenario, MORTALITY_DURATION_GROWTH] == memo[stripe, MEMO_SCHEDULE + 3])
        & (params[scenario, REMITTER_SHARE_INITIAL] == memo[stripe, MEMO_SCHEDULE + 4])
        & (params[scenario, REMITTER_SHARE_DECAY] == memo[stripe, MEMO_SCHEDULE + 5])
    )


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _fill_schedules(params, scenario, memo, rates, stripe) -> None:
    """Rates of the closed durations into ``rates[stripe]`` (closed duration d at k = D − 2 − d,
    oldest first as in the cohorts) and the open duration's into the memo.

    Geometric sequences by repeated multiplication: three exp calls per schedule, not 3 D.
    """
    n_closed = rates.shape[2]
    returning = params[scenario, RETURN_RATE_INITIAL]
    death_level = params[scenario, MORTALITY_RATE]
    remitting = params[scenario, REMITTER_SHARE_INITIAL]
    return_step = math.exp(-params[scenario, RETURN_RATE_DECAY])
    death_step = math.exp(params[scenario, MORTALITY_DURATION_GROWTH])
    share_step = math.exp(-params[scenario, REMITTER_SHARE_DECAY])
    for d in range(n_closed):
        death = min(1.0, death_level)
        k = n_closed - 1 - d
        rates[stripe, SHARE_ROW, k] = remitting
        rates[stripe, RETURN_ROW, k] = returning
        rates[stripe, DYING_ROW, k] = (1.0 - returning) * death
        rates[stripe, KEEP_ROW, k] = (1.0 - returning) * (1.0 - death)
        returning *= return_step
        death_level *= death_step
        remitting *= share_step
    death = min(1.0, death_level)
    memo[stripe, MEMO_OPEN_RATES + SHARE_ROW] = remitting
    memo[stripe, MEMO_OPEN_RATES + RETURN_ROW] = returning
    memo[stripe, MEMO_OPEN_RATES + DYING_ROW] = (1.0 - returning) * death
    memo[stripe, MEMO_OPEN_RATES + KEEP_ROW] = (1.0 - returning) * (1.0 - death)
    memo[stripe, MEMO_SCHEDULE] = params[scenario, RETURN_RATE_INITIAL]
    memo[stripe, MEMO_SCHEDULE + 1] = params[scenario, RETURN_RATE_DECAY]
    memo[stripe, MEMO_SCHEDULE + 2] = params[scenario, MORTALITY_RATE]
    memo[stripe, MEMO_SCHEDULE + 3] = params[scenario, MORTALITY_DURATION_GROWTH]
    memo[stripe, MEMO_SCHEDULE + 4] = params[scenario, REMITTER_SHARE_INITIAL]
    memo[stripe, MEMO_SCHEDULE + 5] = params[scenario, REMITTER_SHARE_DECAY]


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _fill_observed_factors(params, scenario, log_observed, memo, factors, stripe) -> None:
    """The elastic factors of the observed years, (W^US_i / W^US_0)^ε_a and
    (gap_i / gap_0)^ε_gap · (L_i / L_0)^ε_L, recomputed only when the elasticities change."""
    n_observed = factors.shape[2]
    amount_elasticity = params[scenario, AMOUNT_WAGE_ELASTICITY]
    if amount_elasticity != memo[stripe, MEMO_AMOUNT_ELASTICITY]:
        for year in range(n_observed):
            factors[stripe, AMOUNT_ROW, year] = math.exp(
                amount_elasticity * (log_observed[0, year] - log_observed[0, 0])
            )
        memo[stripe, MEMO_AMOUNT_ELASTICITY] = amount_elasticity
    gap_elasticity = params[scenario, INFLOW_GAP_ELASTICITY]
    demand_elasticity = params[scenario, INFLOW_DEMAND_ELASTICITY]
    if (gap_elasticity != memo[stripe, MEMO_GAP_ELASTICITY]) | (
        demand_elasticity != memo[stripe, MEMO_DEMAND_ELASTICITY]
    ):
        base_gap = log_observed[0, 0] - log_observed[1, 0]
        for year in range(n_observed):
            log_gap = (log_observed[0, year] - log_observed[1, year]) - base_gap
            log_demand = log_observed[2, year] - log_observed[2, 0]
            factors[stripe, INFLOW_ROW, year] = math.exp(
                gap_elasticity * log_gap + demand_elasticity * log_demand
            )
        memo[stripe, MEMO_GAP_ELASTICITY] = gap_elasticity
        memo[stripe, MEMO_DEMAND_ELASTICITY] = demand_elasticity


@njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
def _remittance_kernel(
    n_threads,
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

    Cohorts are stored by arrival year (``cohorts[s, year + D − 1 − d]`` holds duration d < D − 1
    in year ``year``; the open duration is a scalar), so ageing is an in-place multiply with no
    shifting, and one fused pass per year over the durations gives the outputs and the
    transition; LLVM vectorises that pass across durations (4 doubles per AVX2 instruction).

    Why this shape (measured, 26 years × 50 durations, one core): laying scenarios in the
    innermost dimension instead (blocks of 8–32 scenarios) ran 1.6–3.4 µs per scenario against
    0.9 µs here — Numba disables LLVM's SLP vectoriser, so the 4 running sums per scenario stay
    in memory, loaded and stored for every duration; and one pass for two years at a time (each
    cohort loaded once) was not vectorised by LLVM (8 sums) and ran 1.6 µs.

    The scenarios are cut into one contiguous stripe per thread (``n_threads``: the caller's
    ``numba.get_num_threads()``, which would stop the kernel from being cached if called here).
    Scratch arrays are allocated here, outside the parallel loop, and indexed by stripe (no
    views in the loop): Numba then marks them no-alias in the parallel region, and the duration
    pass needs no run-time overlap checks. Values that depend on a few parameters only — the rate schedules (6 parameters) and
    the observed years' elastic factors (3 elasticities, one exp per observed year) — are kept
    per stripe and recomputed only when those parameters change from one scenario to the next,
    which in a Saltelli design (rows A, AB_1 … AB_k, B) is a minority of rows. A scenario's
    numbers do not depend on which stripe, chunk or neighbour it had: the same operations run on
    the same parameter values.
    """
    n_scen = params.shape[0]
    n_years = usd.shape[1]
    n_closed = initial_stock.shape[0] - 1
    n_observed = observed.shape[1]
    n_stripes = max(1, min(n_threads, n_scen))
    # Filled by plain loops: in a parallel function np.log or np.full would each be a parallel
    # region of their own, and every region wakes the thread pool (costly for small calls).
    log_observed = np.empty((observed.shape[0], n_observed))
    for path in range(observed.shape[0]):
        for year in range(n_observed):
            log_observed[path, year] = math.log(observed[path, year])
    rates = np.empty((n_stripes, 4, n_closed))
    cohorts = np.empty((n_stripes, n_closed + n_years))
    memo = np.empty((n_stripes, MEMO_SLOTS))
    for stripe in range(n_stripes):
        for slot in range(MEMO_SLOTS):
            memo[stripe, slot] = np.nan  # NaN equals nothing: the first scenario computes
    factors = np.empty((n_stripes, 2, n_observed))
    for stripe in prange(n_stripes):
        for scenario in range(stripe * n_scen // n_stripes, (stripe + 1) * n_scen // n_stripes):
            if not _same_schedule(params, scenario, memo, stripe):
                _fill_schedules(params, scenario, memo, rates, stripe)
            _fill_observed_factors(params, scenario, log_observed, memo, factors, stripe)
            open_share = memo[stripe, MEMO_OPEN_RATES + SHARE_ROW]
            open_return = memo[stripe, MEMO_OPEN_RATES + RETURN_ROW]
            open_dying = memo[stripe, MEMO_OPEN_RATES + DYING_ROW]
            open_keep = memo[stripe, MEMO_OPEN_RATES + KEEP_ROW]
            cohorts[stripe, 0] = 0.0
            for d in range(n_closed):
                cohorts[stripe, n_closed - d] = initial_stock[d]
            open_stock = initial_stock[n_closed]
            # Beyond the data every path grows at a constant rate, so the elastic terms grow by
            # a constant factor a year: one multiply instead of an exp.
            log_us = math.log1p(params[scenario, US_WAGE_GROWTH])
            log_mx = math.log1p(params[scenario, MX_WAGE_GROWTH])
            log_labour = math.log1p(params[scenario, LABOUR_DEMAND_GROWTH])
            amount_step = math.exp(params[scenario, AMOUNT_WAGE_ELASTICITY] * log_us)
            inflow_step = math.exp(
                params[scenario, INFLOW_GAP_ELASTICITY] * (log_us - log_mx)
                + params[scenario, INFLOW_DEMAND_ELASTICITY] * log_labour
            )
            gdp_growth = 1.0 + params[scenario, GDP_GROWTH]
            fx_growth = 1.0 + params[scenario, FX_GROWTH]
            households_growth = 1.0 + params[scenario, HOUSEHOLDS_GROWTH]
            amount_base = params[scenario, AMOUNT_BASE]
            inflow_base = params[scenario, INFLOW_BASE]
            per_remitter = params[scenario, HOUSEHOLDS_PER_REMITTER]
            amount = 0.0
            arriving = 0.0
            gdp = 0.0
            fx = 0.0
            all_households = 0.0
            best = -1.0
            best_year = 0
            below = -1
            base_ratio = 0.0
            for year in range(n_years):
                observed_year = year < n_observed
                if observed_year:
                    gdp = observed[3, year]
                    fx = observed[4, year]
                    all_households = observed[5, year]
                    amount = amount_base * factors[stripe, AMOUNT_ROW, year]
                else:
                    gdp *= gdp_growth
                    fx *= fx_growth
                    all_households *= households_growth
                    amount *= amount_step
                # One pass over the closed durations (oldest first): remitters, stock, returns
                # and deaths, and each cohort aged in place; then the open duration's share.
                first = year + 1
                remitters = 0.0
                total = 0.0
                leaving = 0.0
                dying = 0.0
                for k in range(n_closed):
                    people = cohorts[stripe, first + k]
                    remitters += people * rates[stripe, SHARE_ROW, k]
                    total += people
                    leaving += people * rates[stripe, RETURN_ROW, k]
                    dying += people * rates[stripe, DYING_ROW, k]
                    cohorts[stripe, first + k] = people * rates[stripe, KEEP_ROW, k]
                remitters += open_stock * open_share
                total += open_stock
                leaving += open_stock * open_return
                dying += open_stock * open_dying
                flow = remitters * amount
                ratio = 100.0 * flow / gdp
                usd[scenario, year] = flow
                mxn[scenario, year] = flow * fx
                pct[scenario, year] = ratio
                households[scenario, year] = min(all_households, per_remitter * remitters)
                stock_total[scenario, year] = total
                remitters_out[scenario, year] = remitters
                if flow > best:
                    best = flow
                    best_year = year
                if year == 0:
                    base_ratio = ratio
                elif below < 0 and ratio < base_ratio:
                    below = year
                if year == n_years - 1:
                    break
                if use_external:
                    arriving = external_arrivals[scenario, year]
                elif observed_year:
                    arriving = inflow_base * factors[stripe, INFLOW_ROW, year]
                else:
                    arriving *= inflow_step
                # The oldest closed cohort (already aged in place) joins the open duration.
                open_stock = open_stock * open_keep + cohorts[stripe, first]
                cohorts[stripe, first + n_closed] = arriving
                arrivals_out[scenario, year] = arriving
                returns_out[scenario, year] = leaving
                deaths_out[scenario, year] = dying
            peak_index[scenario] = best_year
            peak_value[scenario] = best
            below_index[scenario] = below
