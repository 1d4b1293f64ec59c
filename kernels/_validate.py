"""Input checks shared by the public wrappers: every failure is a ``ValueError`` naming the argument,
the offending position and the rule broken, so that no bad input reaches a Numba kernel."""

from __future__ import annotations

import numpy as np

from migsys.kernels.defaults import Parameter, valid_bounds


def as_float_array(value: object, name: str, ndim: int) -> np.ndarray:
    """``value`` as a C-contiguous float64 array of ``ndim`` dimensions with only finite entries."""
    try:
        array = np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: cannot be read as float64 numbers ({error})") from None
    if array.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: must be finite, found {array[where]} at index {where}")
    return array


def check_range(array: np.ndarray, name: str, low: float, high: float) -> None:
    """Raise unless every entry of ``array`` lies in ``[low, high]``."""
    bad = (array < low) | (array > high)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}: must lie in [{low}, {high}], found {array[where]} at index {where}"
        )


def check_params(
    params: object, parameters: tuple[Parameter, ...], name: str = "params"
) -> np.ndarray:
    """``params`` as a ``(n_scenarios, n_params)`` float64 array inside each column's valid bounds."""
    array = np.asarray(params, dtype=np.float64) if not isinstance(params, np.ndarray) else params
    if array.ndim == 1:
        raise ValueError(
            f"{name}: expected shape (n_scenarios, {len(parameters)}), got a 1-d array of shape "
            f"{array.shape}; use params[None, :] for one scenario"
        )
    array = as_float_array(array, name, 2)
    if array.shape[1] != len(parameters) or array.shape[0] < 1:
        raise ValueError(
            f"{name}: expected shape (n_scenarios >= 1, {len(parameters)}), got {array.shape}"
        )
    bounds = valid_bounds(parameters)
    for column, parameter in enumerate(parameters):
        values = array[:, column]
        bad = (values < bounds[column, 0]) | (values > bounds[column, 1])
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(
                f"{name}[{row}, {column}] ({parameter.name}) = {values[row]} is outside its valid "
                f"range [{parameter.valid_low}, {parameter.valid_high}] {parameter.unit}"
            )
    return array


def check_years(base_year: int, horizon_year: int, step: int) -> int:
    """Number of steps from ``base_year`` to ``horizon_year``; the span must be a positive multiple of ``step``."""
    for name, year in (("base_year", base_year), ("horizon_year", horizon_year)):
        if int(year) != year:
            raise ValueError(f"{name}: must be a whole year, got {year!r}")
    if horizon_year <= base_year:
        raise ValueError(f"horizon_year: must be after base_year ({base_year}), got {horizon_year}")
    span = int(horizon_year) - int(base_year)
    if span % step:
        raise ValueError(
            f"horizon_year: horizon_year - base_year must be a multiple of {step} years, got {span}"
        )
    return span // step


def unit_vector(values: object, name: str, n_units: int) -> np.ndarray:
    """``values`` as a finite float64 vector with one entry per unit."""
    array = as_float_array(values, name, 1)
    if array.shape[0] != n_units:
        raise ValueError(f"{name}: expected {n_units} entries (one per unit), got {array.shape[0]}")
    return array
