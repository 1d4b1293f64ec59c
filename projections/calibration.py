"""Calibrate the kernels on the warehouse: the entry point behind ``migsys calibrate``.

The methods live with each kernel's projection code (:mod:`projections.depopulation`,
:mod:`projections.remittances`); every result is a :class:`projections.store.Calibration` with its
parameters, fit statistics, data years used, method, creation time and the fingerprint of the
code that fitted it (:func:`migsys.fingerprint.fingerprint` of this module and what it imports).
Which calibrations supply a study's parameters is the study kernel's declaration
(``Kernel.calibrations`` in :mod:`sweeps.registry`), by the names in :data:`KERNELS`.
"""

from __future__ import annotations

import dataclasses

from migsys.fingerprint import fingerprint
from migsys.projections import depopulation, remittances
from migsys.projections.inputs import census_years
from migsys.projections.store import Calibration

KERNELS = ("depopulation", "remittances")  # the kernels migsys calibrate can fit


def check_kernel(kernel: str, *, allow_all: bool = False) -> None:
    """Refuse an unknown kernel name, naming the known ones."""
    known = (*KERNELS, "all") if allow_all else KERNELS
    if kernel not in known:
        raise ValueError(f"kernel: unknown kernel {kernel!r}; choose one of {', '.join(known)}")


def default_train_until(con, kernel: str) -> int:
    """The last year of data the kernel can be trained on: the last census (depopulation) or
    the last complete year of remittances whose input paths (GDP, wages, exchange rate) are
    observed too."""
    check_kernel(kernel)
    if kernel == "depopulation":
        years = census_years(con)
        if not years:
            raise ValueError("fct_municipal_population: the warehouse holds no census year")
        return max(years)
    last_remittances = int(remittances.observed_remittances(con).index.max())
    return min(last_remittances, remittances.last_input_year(con))


def calibrate_kernel(con, kernel: str, train_until: int | None = None) -> Calibration:
    """Calibrate one kernel on the data up to ``train_until`` (default: all the data)."""
    check_kernel(kernel)
    until = default_train_until(con, kernel) if train_until is None else int(train_until)
    if kernel == "depopulation":
        calibration = depopulation.calibrate_depopulation(con, until)
    else:
        calibration = remittances.calibrate_remittances(con, until).calibration
    return dataclasses.replace(calibration, code_version=fingerprint(code=[calibrate_kernel]))


def calibrate(con, kernel: str = "all", train_until: int | None = None) -> list[Calibration]:
    """Calibrate ``kernel`` ('depopulation', 'remittances' or 'all')."""
    check_kernel(kernel, allow_all=True)
    kernels = KERNELS if kernel == "all" else (kernel,)
    return [calibrate_kernel(con, name, train_until) for name in kernels]
