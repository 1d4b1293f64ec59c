"""The units a depopulation run projects: their base population by age and sex and their rates.

:class:`DepopulationUnits` checks every array once (shapes, finiteness, ranges) so that no bad
input reaches a Numba kernel; :meth:`DepopulationUnits.from_totals` builds units known only by
their totals, spreading each over ages as its stable or quasi-stable structure
(:mod:`kernels.depopulation_ages`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from migsys.kernels._schedules import FEMALE, MALE, N_AGES, N_SEXES
from migsys.kernels._validate import as_float_array, check_params, check_range, unit_vector
from migsys.kernels.defaults import DEPOPULATION_PARAMETERS, default_params
from migsys.kernels.depopulation_ages import quasi_stable_age_shares, stable_age_shares

N_DEGREES = 6
DEGREE_NAMES = ("very_high", "high", "medium", "low", "very_low", "null")


@dataclass(frozen=True)
class DepopulationUnits:
    """Base-year inputs of the projected units (arrays are copied to float64/int64 and checked).

    population: ``[n_units, 2, 18]`` persons by sex (0 male, 1 female) and five-year age group.
    emigration_intensity: ``[n_units]`` crude annual emigration rate in [0, 1] at the base year
        (see :func:`emigration_intensity_from_indicators`).
    return_intensity: ``[n_units]`` share of emigrants returning within five years, in [0, 1]
        (see :func:`return_intensity_from_indicators`).
    degree_code: ``[n_units]`` int 0..5 = very_high, high, medium, low, very_low, null.
    households, remittance_household_share: optional ``[n_units]``; needed only by the coupled
        run (households ≥ 0, share in [0, 1]).
    """

    population: np.ndarray
    emigration_intensity: np.ndarray
    return_intensity: np.ndarray
    degree_code: np.ndarray
    households: np.ndarray | None = None
    remittance_household_share: np.ndarray | None = None

    def __post_init__(self) -> None:
        population = as_float_array(self.population, "units.population", 3)
        if population.shape[1:] != (N_SEXES, N_AGES) or population.shape[0] < 1:
            raise ValueError(
                f"units.population: expected shape (n_units >= 1, {N_SEXES}, {N_AGES}), "
                f"got {population.shape}"
            )
        check_range(population, "units.population", 0.0, np.inf)
        n_units = population.shape[0]
        emigration = unit_vector(self.emigration_intensity, "units.emigration_intensity", n_units)
        check_range(emigration, "units.emigration_intensity", 0.0, 1.0)
        returns = unit_vector(self.return_intensity, "units.return_intensity", n_units)
        check_range(returns, "units.return_intensity", 0.0, 1.0)
        degree = unit_vector(self.degree_code, "units.degree_code", n_units)
        check_range(degree, "units.degree_code", 0, N_DEGREES - 1)
        if (degree != np.round(degree)).any():
            raise ValueError("units.degree_code: must be whole numbers 0..5")
        object.__setattr__(self, "population", population)
        object.__setattr__(self, "emigration_intensity", emigration)
        object.__setattr__(self, "return_intensity", returns)
        object.__setattr__(self, "degree_code", degree.astype(np.int64))
        if self.households is not None:
            households = unit_vector(self.households, "units.households", n_units)
            check_range(households, "units.households", 0.0, np.inf)
            object.__setattr__(self, "households", households)
        if self.remittance_household_share is not None:
            share = unit_vector(
                self.remittance_household_share, "units.remittance_household_share", n_units
            )
            check_range(share, "units.remittance_household_share", 0.0, 1.0)
            object.__setattr__(self, "remittance_household_share", share)

    @property
    def n_units(self) -> int:
        return int(self.population.shape[0])

    @classmethod
    def from_totals(
        cls,
        total: np.ndarray,
        male: np.ndarray,
        female: np.ndarray,
        emigration_intensity: np.ndarray,
        return_intensity: np.ndarray,
        degree_code: np.ndarray,
        *,
        params: np.ndarray | None = None,
        growth_rate: np.ndarray | None = None,
        households: np.ndarray | None = None,
        remittance_household_share: np.ndarray | None = None,
    ) -> DepopulationUnits:
        """Units whose age structure is the stable population implied by their base rates.

        ``total`` is authoritative; ``male``/``female`` give the sex split (their sum must be within
        1 % of ``total``). ``params`` is one row of DEPOPULATION_PARAMETERS (defaults if None).
        With ``growth_rate`` (annual, per unit, in [-0.1, 0.1]) the structure is quasi-stable
        at that observed growth (:func:`quasi_stable_age_shares`), else stable at the unit's
        intrinsic growth (:func:`stable_age_shares`).
        """
        total = as_float_array(total, "total", 1)
        n_units = total.shape[0]
        male = unit_vector(male, "male", n_units)
        female = unit_vector(female, "female", n_units)
        for name, values in (("total", total), ("male", male), ("female", female)):
            check_range(values, name, 0.0, np.inf)
        both = male + female
        mismatch = np.abs(both - total) > 0.01 * np.maximum(total, 1.0)
        if mismatch.any():
            row = int(np.argmax(mismatch))
            raise ValueError(
                f"male + female must be within 1 % of total: unit {row} has "
                f"{male[row]} + {female[row]} vs total {total[row]}"
            )
        emigration = unit_vector(emigration_intensity, "emigration_intensity", n_units)
        check_range(emigration, "emigration_intensity", 0.0, 1.0)
        returns = unit_vector(return_intensity, "return_intensity", n_units)
        check_range(returns, "return_intensity", 0.0, 1.0)
        row = (
            default_params(DEPOPULATION_PARAMETERS)[0]
            if params is None
            else (check_params(np.atleast_2d(params), DEPOPULATION_PARAMETERS)[0])
        )
        if growth_rate is None:
            shares = stable_age_shares(row, emigration, returns)
        else:
            growth = unit_vector(growth_rate, "growth_rate", n_units)
            check_range(growth, "growth_rate", -0.1, 0.1)
            shares = quasi_stable_age_shares(row, emigration, returns, growth)
        male_share = np.divide(male, both, out=np.full(n_units, 0.5), where=both > 0)
        population = np.empty((n_units, N_SEXES, N_AGES))
        for sex, sex_total in ((MALE, total * male_share), (FEMALE, total * (1.0 - male_share))):
            by_age = shares[:, sex, :]
            population[:, sex, :] = by_age / by_age.sum(axis=1, keepdims=True) * sex_total[:, None]
        return cls(
            population, emigration, returns, degree_code, households, remittance_household_share
        )
