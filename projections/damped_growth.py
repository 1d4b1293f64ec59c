"""Damped growth with measurement error: the statistical core of the municipal forecast.

A unit's log share ``l(t)`` (of its state's population, or a state's of the nation's) is
modelled in continuous time as

    l(t) = δ·t + z(t),   dz/dt = u(t),   u an Ornstein–Uhlenbeck process (mean 0, rate θ,
                                          stationary variance τ²),

so a unit's growth relative to its class mean δ persists for about ``1/θ`` years and then fades:
the *damped trend* of the forecasting literature (Gardner & McKenzie 1985) written for irregular
dates. Every enumeration observes ``l`` with an error of its own kind: none for the census (the
reference), variance ``v`` for the intercensal counts (*Conteos*), whose coverage was uneven — in
the 1995 count the log share of a small municipality sits about 7 % off the line between the 1990
and 2000 censuses, of a large one about 3 %.

Parameters are estimated per class from the *variogram* of the observed log shares — the robust
(median absolute deviation) variance of ``l(t_k) − l(t_j)`` over the units of the class, for every
pair of enumerations — against the model's ``V(|t_k − t_j|) + v_j + v_k`` with
``V(h) = 2τ²/θ² (θh − 1 + e^{−θh})``. Three enumerations (1990, 1995, 2000) give three equations
for the three unknowns; later origins give more.

The forecast is the best linear unbiased predictor of ``l`` at the target dates given the unit's
observations (universal kriging with an unknown level), with its predictive variance. Because a
census is observed without error, a forecast starts exactly at an origin census; from a count it
starts from a compromise between the count and the line through the earlier enumerations, in
proportion to how noisy counts proved to be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

MAD_TO_SD = 1.4826
THETA_BOUNDS = (0.005, 1.0)  # per year: growth deviations fade in between a year and 200 years
TAU_BOUNDS = (1e-5, 0.2)  # sd of a unit's growth deviation, per year
NOISE_BOUNDS = (0.0, 0.25)  # sd of a count's error in log share


@dataclass(frozen=True)
class GrowthParameters:
    """One class's parameters (all per year, log scale)."""

    drift: float  # δ: mean growth of the log share
    theta: float  # rate at which growth deviations fade
    tau: float  # stationary sd of the growth deviation
    count_noise: float  # sd of a count's measurement error
    n_units: int

    def variogram(self, lag: np.ndarray) -> np.ndarray:
        """Variance of ``z(t + lag) − z(t)``."""
        lag = np.abs(np.asarray(lag, dtype=float))
        theta = self.theta
        return 2 * self.tau**2 / theta**2 * (theta * lag - 1 + np.exp(-theta * lag))

    def covariance(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``Cov(z(s) − z(0), z(t) − z(0))`` for times ``s, t ≥ 0`` (integrated OU)."""
        s = np.asarray(s, dtype=float)
        t = np.asarray(t, dtype=float)
        low, high = np.minimum(s, t), np.maximum(s, t)
        theta = self.theta
        return (
            self.tau**2
            / theta**2
            * (
                2 * theta * low
                - 1
                + np.exp(-theta * low)
                + np.exp(-theta * high)
                - np.exp(-theta * (high - low))
            )
        )


def robust_variance(values: np.ndarray) -> float:
    """Squared scaled MAD of the finite values (nan with fewer than 5)."""
    values = values[np.isfinite(values)]
    if values.size < 5:
        return float("nan")
    return float((MAD_TO_SD * np.median(np.abs(values - np.median(values)))) ** 2)


def census_span(dates: np.ndarray, is_count: np.ndarray) -> tuple[int, int] | None:
    """Columns of the first and last census (the longest span free of count coverage), or None."""
    censuses = np.flatnonzero(~np.asarray(is_count, dtype=bool))
    return (int(censuses[0]), int(censuses[-1])) if censuses.size >= 2 else None


def class_drift(log_share: np.ndarray, dates: np.ndarray, span: tuple[int, int]) -> float:
    """Median annual growth of the log share between two columns (0 when no unit has both)."""
    first, last = span
    with np.errstate(invalid="ignore"):
        rates = (log_share[:, last] - log_share[:, first]) / (dates[last] - dates[first])
    finite = rates[np.isfinite(rates)]
    return float(np.median(finite)) if finite.size else 0.0


def count_bias(log_share: np.ndarray, dates: np.ndarray, is_count: np.ndarray) -> np.ndarray:
    """Median offset of each count from the line between the censuses around it ``[n_dates]``.

    A count's coverage differs by kind of unit (the 1995 count under-enumerated small
    municipalities relative to large ones by about 1 %): the offset is measured where a census
    lies on each side; a count with no census after it (a count at the origin) takes the offset
    of the latest measured count, the only evidence there is; censuses and unmeasurable counts
    get 0.
    """
    bias = np.zeros(dates.size)
    censuses = np.flatnonzero(~np.asarray(is_count, dtype=bool))
    latest = 0.0
    for column in np.flatnonzero(is_count):
        before, after = censuses[censuses < column], censuses[censuses > column]
        if before.size and after.size:
            j, m = before[-1], after[0]
            weight = (dates[column] - dates[j]) / (dates[m] - dates[j])
            line = log_share[:, j] + weight * (log_share[:, m] - log_share[:, j])
            offsets = log_share[:, column] - line
            offsets = offsets[np.isfinite(offsets)]
            latest = float(np.median(offsets)) if offsets.size >= 5 else 0.0
        bias[column] = latest
    return bias


def _pair_variances(log_share: np.ndarray, dates: np.ndarray, is_count: np.ndarray):
    lags, noisy, empirical = [], [], []
    for j in range(dates.size):
        for k in range(j + 1, dates.size):
            variance = robust_variance(log_share[:, k] - log_share[:, j])
            if np.isfinite(variance) and variance > 0:
                lags.append(dates[k] - dates[j])
                noisy.append(int(is_count[j]) + int(is_count[k]))
                empirical.append(variance)
    return np.array(lags), np.array(noisy), np.array(empirical)


def estimate_class_parameters(
    log_share: np.ndarray,
    classes: np.ndarray,
    n_classes: int,
    dates: np.ndarray,
    is_count: np.ndarray,
    theta: float | None = None,
) -> tuple[GrowthParameters, ...]:
    """Fit every class's parameters at once from the variograms of its units' log shares.

    ``theta`` fixes the persistence instead of estimating it (a level with too few units to pin
    it borrows it from one that has them).

    The persistence ``θ`` is shared by all classes (one origin rarely holds enough enumerations to
    pin it per class); the growth spread ``τ`` and the count noise are each class's own. The
    drift is the class's median growth over the longest census-to-census span; ``log_share``
    must already be corrected for :func:`count_bias`.
    """
    is_count = np.asarray(is_count, dtype=bool)
    span = census_span(dates, is_count) or (0, dates.size - 1)
    has_counts = bool(is_count.any())
    per_class = []
    for number in range(n_classes):
        rows = classes == number
        lags, noisy, empirical = _pair_variances(log_share[rows], dates, is_count)
        drift = class_drift(log_share[rows], dates, span) if rows.any() else 0.0
        per_class.append((drift, int(rows.sum()), lags, noisy, empirical))
    if not any(lags.size for _, _, lags, _, _ in per_class):
        # nothing varies (one state, or too few units): shares stay where they are
        return tuple(
            GrowthParameters(drift, theta or THETA_BOUNDS[1], TAU_BOUNDS[0], 0.0, n)
            for drift, n, *_ in per_class
        )
    informative = [number for number, part in enumerate(per_class) if part[2].size]

    fixed_theta = theta

    def unpack(x: np.ndarray):
        theta = float(np.exp(x[0])) if fixed_theta is None else fixed_theta
        taus = np.exp(x[1 : 1 + n_classes])
        noises = x[1 + n_classes :] if has_counts else np.zeros(n_classes)
        return theta, taus, noises

    def residuals(x: np.ndarray) -> np.ndarray:
        theta, taus, noises = unpack(x)
        out = []
        for number, (drift, n, lags, noisy, empirical) in enumerate(per_class):
            if not lags.size:
                continue
            params = GrowthParameters(drift, theta, float(taus[number]), float(noises[number]), n)
            model = params.variogram(lags) + noisy * noises[number] ** 2
            out.append(np.log(model + 1e-12) - np.log(empirical))
        return np.concatenate(out)

    tau0 = []
    for _, _, lags, _, empirical in per_class:
        if not lags.size:
            tau0.append(TAU_BOUNDS[0])
            continue
        longest = int(np.argmax(lags))
        tau0.append(np.clip(np.sqrt(empirical[longest]) / lags[longest], *TAU_BOUNDS))
    start = np.r_[np.log(0.05), np.log(tau0), np.full(n_classes, 0.02) if has_counts else []]
    lower = np.r_[
        np.log(THETA_BOUNDS[0]),
        np.full(n_classes, np.log(TAU_BOUNDS[0])),
        np.full(n_classes, NOISE_BOUNDS[0]) if has_counts else [],
    ]
    upper = np.r_[
        np.log(THETA_BOUNDS[1]),
        np.full(n_classes, np.log(TAU_BOUNDS[1])),
        np.full(n_classes, NOISE_BOUNDS[1]) if has_counts else [],
    ]
    if fixed_theta is not None:  # keep the slot, pin it
        start[0] = lower[0] = np.log(fixed_theta) - 1e-9
        upper[0] = np.log(fixed_theta) + 1e-9
    fit = least_squares(residuals, np.clip(start, lower, upper), bounds=(lower, upper))
    theta, taus, noises = unpack(fit.x)
    # a class with no variogram of its own takes the median spread and noise of the others
    tau_fill = float(np.median(taus[informative]))
    noise_fill = float(np.median(noises[informative]))
    return tuple(
        GrowthParameters(
            drift,
            theta,
            float(taus[number]) if number in informative else tau_fill,
            float(noises[number]) if number in informative else noise_fill,
            n,
        )
        for number, (drift, n, *_rest) in enumerate(per_class)
    )


@dataclass(frozen=True)
class GrowthForecast:
    """Predicted log shares ``[n_units, n_targets]`` and their predictive sd (no target noise)."""

    mean: np.ndarray
    sd: np.ndarray


def predict(
    params: GrowthParameters,
    log_share: np.ndarray,
    dates: np.ndarray,
    is_count: np.ndarray,
    target_dates: np.ndarray,
) -> GrowthForecast:
    """Kriging predictor of the true log share at ``target_dates`` for every unit (row).

    Units are grouped by which enumerations they have, so each pattern solves one small system.
    A unit with no observation gets NaN.
    """
    n_units = log_share.shape[0]
    targets = np.asarray(target_dates, dtype=float)
    reference = float(dates[0])
    times = dates - reference
    target_times = targets - reference
    detrended = log_share - params.drift * times[None, :]
    mean = np.full((n_units, targets.size), np.nan)
    sd = np.full((n_units, targets.size), np.nan)
    present = np.isfinite(log_share)
    patterns, inverse = np.unique(present, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    for number, pattern in enumerate(patterns):
        if not pattern.any():
            continue
        rows = np.flatnonzero(inverse == number)
        observed = np.flatnonzero(pattern)
        t_obs = times[observed]
        sigma = params.covariance(t_obs[:, None], t_obs[None, :])
        sigma = sigma + np.diag(np.where(is_count[observed], params.count_noise**2, 0.0))
        sigma = sigma + 1e-12 * np.eye(observed.size)
        cross = params.covariance(t_obs[:, None], target_times[None, :])  # [n_obs, n_targets]
        prior = params.covariance(target_times, target_times)  # [n_targets]
        ones = np.ones(observed.size)
        solve_cross = np.linalg.solve(sigma, cross)
        solve_ones = np.linalg.solve(sigma, ones)
        precision_level = ones @ solve_ones
        gap = 1.0 - ones @ solve_cross  # [n_targets]
        weights = solve_cross + np.outer(solve_ones, gap) / precision_level  # [n_obs, n_targets]
        values = detrended[np.ix_(rows, observed)]
        mean[rows] = values @ weights + params.drift * target_times[None, :]
        variance = prior - np.sum(cross * solve_cross, axis=0) + gap**2 / precision_level
        sd[rows] = np.sqrt(np.maximum(variance, 0.0))[None, :]
    return GrowthForecast(mean, sd)
