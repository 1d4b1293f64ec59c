"""The municipal population forecast: national drift × state share × municipal share.

A municipality's population at a target date is forecast as the product of three parts, each
from the data up to the origin only:

1. **The nation** — the cohort-component kernel calibrated on the censuses
   (:func:`projections.depopulation.fit_kernel`) carries the last national census total forward:
   ``N(t) = N(census) · K(t) / K(census)``. This is where the demography is: falling fertility and
   an ageing structure slow national growth in ways no extrapolation of past totals can know.
   Counts are not used at this level (their national coverage differs from the censuses' and a
   single count cannot tell coverage from growth).
2. **The state's share of the nation** and 3. **the municipality's share of its state** — each a
   damped-growth process observed with count error (:mod:`projections.damped_growth`), fitted
   on the variogram of the log shares (states as one class; municipalities by size quintile at
   the origin) and predicted by kriging. Shares remove the coverage level of each enumeration
   (a count that missed 2 % of a state missed it in the state's total too), so only a count's
   *differential* coverage is left as measurement error, which the model estimates.

Forecast shares are raked to sum to one (states in the nation, municipalities in their state,
over the units enumerated at the origin), so the municipal forecasts add up to the national one.

When no CONAPO index exists up to the origin (the kernel's emigration rates need one), the
national part falls back to the exponential trend between the last two censuses (between the
last two enumerations when there is one census), and says so in
:attr:`MunicipalForecast.national_method`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from migsys.projections.census import CENSUS, COUNT, CensusPanel
from migsys.projections.damped_growth import (
    GrowthParameters,
    count_bias,
    estimate_class_parameters,
    predict,
)
from migsys.projections.depopulation import DepopulationData, KernelFit, fit_kernel

N_SIZE_CLASSES = 5
KERNEL_NATIONAL = "cohort-component kernel"
TREND_NATIONAL = "exponential trend between the last two censuses"
TREND_ENUMERATIONS = "exponential trend between the last two enumerations"


@dataclass(frozen=True)
class MunicipalForecast:
    """Point forecasts ``[n_units, n_targets]`` (NaN where a unit has no origin population), the
    model's own predictive sd of the log level (state and municipal share parts), and what was
    fitted."""

    origin: int
    level: np.ndarray
    log_sd: np.ndarray
    national_method: str
    state_parameters: GrowthParameters
    municipal_parameters: tuple[GrowthParameters, ...]
    size_class: np.ndarray  # [n_units] 0..4 at the origin, -1 where absent


def size_classes(level: np.ndarray, n_classes: int = N_SIZE_CLASSES) -> np.ndarray:
    """Quantile class (0 = smallest) of every finite level; -1 for the rest."""
    classes = np.full(level.shape, -1, dtype=int)
    finite = np.isfinite(level)
    if finite.sum() < n_classes:
        classes[finite] = 0
        return classes
    edges = np.quantile(level[finite], np.linspace(0, 1, n_classes + 1)[1:-1])
    classes[finite] = np.searchsorted(edges, level[finite], side="right")
    return classes


def national_log_path(
    data: DepopulationData,
    origin: int,
    target_dates: np.ndarray,
    kernel: KernelFit | None = None,
) -> tuple[np.ndarray, str]:
    """Log national population at the target dates and the method that gave it.

    Anchored on the last census up to ``origin``; ``kernel`` (fitted at ``origin`` if None)
    supplies the growth from there.
    """
    panel = data.panel.until(origin)
    censuses = [year for year in panel.years if panel.kind(year) == CENSUS]
    if not censuses:
        raise ValueError(f"fct_municipal_population: no census up to {origin}")
    last = censuses[-1]
    _, totals = panel.state_totals()
    national = totals.sum(axis=0)
    log_last = np.log(national[panel.column(last)])
    if kernel is None and data.until(origin).index_year() is not None and len(censuses) >= 2:
        kernel = fit_kernel(data, origin)
    if kernel is not None:
        # each unit's kernel growth from the last census, weighted by its observed population
        # there: the composition of the nation is the census's, the growth the kernel's
        path = kernel.log_unit_levels(np.r_[panel.date(last), target_dates])
        observed = panel.level(last)[kernel.units.rows]
        weight = np.where(np.isfinite(observed), observed, 0.0)
        growth = np.exp(path[:, 1:] - path[:, :1])
        return log_last + np.log(weight @ growth / weight.sum()), KERNEL_NATIONAL
    if len(censuses) < 2:  # one census: the trend to the latest count is all there is
        if len(panel.years) < 2:
            return np.full(len(target_dates), log_last), "zero growth (one enumeration)"
        earlier, last = panel.years[-2], panel.years[-1]
        log_last = np.log(national[panel.column(last)])
        method = TREND_ENUMERATIONS
    else:
        earlier, method = censuses[-2], TREND_NATIONAL
    rate = (log_last - np.log(national[panel.column(earlier)])) / (
        panel.date(last) - panel.date(earlier)
    )
    return log_last + rate * (np.asarray(target_dates) - panel.date(last)), method


def _rake(log_share: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Log shares shifted so that, within each group, the shares of the finite rows sum to 1."""
    out = np.full_like(log_share, np.nan)
    for group in np.unique(groups):
        rows = (groups == group) & np.isfinite(log_share[:, 0])
        if rows.any():
            shares = np.exp(log_share[rows])
            out[rows] = np.log(shares / shares.sum(axis=0, keepdims=True))
    return out


@dataclass(frozen=True)
class ShareModelFit:
    """The parameters of the state and municipal share models fitted at one origin."""

    origin: int
    state: GrowthParameters
    state_bias: np.ndarray  # [n_dates] count offsets of the state shares
    municipal: tuple[GrowthParameters, ...]  # by size class at the origin
    municipal_bias: np.ndarray  # [n_classes, n_dates]
    kernel: KernelFit | None


def _log_shares(panel: CensusPanel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state log shares of the nation, municipal log shares of their state, state row index)."""
    _, state_totals = panel.state_totals()
    with np.errstate(divide="ignore", invalid="ignore"):
        state_log_share = np.log(state_totals / state_totals.sum(axis=0, keepdims=True))
        state_row = panel.state_of_rows()
        log_share = np.log(panel.population / state_totals[state_row])
    state_log_share[~np.isfinite(state_log_share)] = np.nan
    log_share[~np.isfinite(log_share)] = np.nan
    return state_log_share, log_share, state_row


def fit_share_models(data: DepopulationData, origin: int) -> ShareModelFit:
    """Estimate the share models (and the kernel, when it can run) on the data up to ``origin``."""
    known = data.until(origin)
    panel = known.panel
    is_count = np.array([kind == COUNT for kind in panel.kinds])
    state_log_share, log_share, _ = _log_shares(panel)
    at_origin = np.isfinite(log_share[:, panel.column(origin)])
    classes = size_classes(np.where(at_origin, panel.level(origin), np.nan))
    bias = np.zeros((N_SIZE_CLASSES, panel.dates.size))
    for size in range(N_SIZE_CLASSES):
        rows = classes == size
        bias[size] = count_bias(log_share[rows], panel.dates, is_count)
        log_share[rows] -= bias[size][None, :]
    municipal = estimate_class_parameters(
        log_share[at_origin], classes[at_origin], N_SIZE_CLASSES, panel.dates, is_count
    )
    # 32 states cannot pin a persistence of their own: they share the municipalities'
    state_bias = count_bias(state_log_share, panel.dates, is_count)
    n_states = state_log_share.shape[0]
    (state_params,) = estimate_class_parameters(
        state_log_share - state_bias,
        np.zeros(n_states, dtype=int),
        1,
        panel.dates,
        is_count,
        theta=municipal[0].theta,
    )
    censuses = [year for year in panel.years if panel.kind(year) == CENSUS]
    kernel = (
        fit_kernel(data, origin) if known.index_year() is not None and len(censuses) >= 2 else None
    )
    return ShareModelFit(origin, state_params, state_bias, municipal, bias, kernel)


def forecast_municipalities(
    data: DepopulationData,
    origin: int,
    target_dates: np.ndarray,
    fit: ShareModelFit | None = None,
) -> MunicipalForecast:
    """Forecast every municipality enumerated at ``origin`` at each target date (module doc).

    ``fit`` (default: fitted at ``origin``) may come from a later origin: the errors such a
    pseudo-forecast makes are how the intervals learn the model's own accuracy.
    """
    fit = fit or fit_share_models(data, origin)
    if fit.origin < origin:
        raise ValueError(f"fit: parameters from {fit.origin} cannot forecast from {origin}")
    known = data.until(origin)
    panel = known.panel
    n_dates = panel.dates.size
    target_dates = np.asarray(target_dates, dtype=float)
    if np.any(target_dates <= panel.date(origin)):
        raise ValueError(f"target dates: every target must come after the origin {origin}")
    is_count = np.array([kind == COUNT for kind in panel.kinds])
    last = panel.column(origin)
    log_national, national_method = national_log_path(data, origin, target_dates, fit.kernel)
    state_log_share, log_share, state_row = _log_shares(panel)

    state_forecast = predict(
        fit.state,
        state_log_share - fit.state_bias[None, :n_dates],
        panel.dates,
        is_count,
        target_dates,
    )
    state_log = _rake(state_forecast.mean, np.zeros(state_log_share.shape[0], dtype=int))

    at_origin = np.isfinite(log_share[:, last])
    classes = size_classes(np.where(at_origin, panel.level(origin), np.nan))
    mean = np.full((panel.population.shape[0], target_dates.size), np.nan)
    sd = np.full_like(mean, np.nan)
    for size, params in enumerate(fit.municipal):
        rows = classes == size
        corrected = log_share[rows] - fit.municipal_bias[size, None, :n_dates]
        forecast = predict(params, corrected, panel.dates, is_count, target_dates)
        mean[rows], sd[rows] = forecast.mean, forecast.sd
    municipal_log = _rake(np.where(at_origin[:, None], mean, np.nan), state_row)
    log_level = log_national[None, :] + state_log[state_row] + municipal_log
    log_sd = np.sqrt(sd**2 + state_forecast.sd[state_row] ** 2)
    return MunicipalForecast(
        origin=origin,
        level=np.exp(log_level),
        log_sd=np.where(at_origin[:, None], log_sd, np.nan),
        national_method=national_method,
        state_parameters=fit.state,
        municipal_parameters=fit.municipal,
        size_class=classes,
    )


def panel_dates(panel: CensusPanel, years: list[int]) -> np.ndarray:
    """Exact dates of ``years``: the reference date of an enumeration, else mid-year."""
    return np.array(
        [panel.date(year) if year in panel.years else year + 0.5 for year in years], dtype=float
    )
