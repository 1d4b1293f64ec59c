"""Parameters taken "from calibration": fitted values stored by ``migsys calibrate``.

``migsys calibrate`` (:mod:`projections`) keeps calibrations under ``MIGSYS_HOME/calibrations``
and every refresh loads them into ``main.calibrations`` of the warehouse. A study parameter with
``from = "calibration"`` takes the fitted value of the newest calibration, among those of the
kernel's declared calibrations (:attr:`sweeps.registry.Kernel.calibrations`), whose parameters
describe runs from the study's base year (a calibration's parameters are re-based to its
``train_until``). The value is either used as is or as the centre of a spread (see
:class:`sweeps.spec.ParameterSpec`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from migsys.sweeps import registry
from migsys.sweeps.registry import Kernel
from migsys.sweeps.spec import MissingInputs, SpecError, StudySpec, UnusableCalibration
from migsys.warehouse.sql import open_read_only


@dataclass(frozen=True)
class CalibrationUsed:
    """One row of ``main.calibrations`` a study took values from."""

    kernel: str
    calibration_id: str
    train_until: int
    created_at: str
    parameters: dict[str, float] = field(repr=False)
    parameter_sd: dict[str, float] = field(repr=False)


@dataclass(frozen=True)
class Calibrated:
    """Fitted values of a spec's ``from = "calibration"`` parameters, and where they came from."""

    values: dict[str, float] = field(default_factory=dict)
    sources: tuple[CalibrationUsed, ...] = ()

    def record(self) -> list[dict]:
        """What ``study.json`` keeps about the calibrations used."""
        return [
            {
                "kernel": c.kernel,
                "calibration_id": c.calibration_id,
                "train_until": c.train_until,
                "created_at": c.created_at,
            }
            for c in self.sources
        ]


def _json(value: object) -> dict:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def latest_calibration(
    warehouse: Path, kernel: str, train_until: int | None = None
) -> CalibrationUsed:
    """The newest ``main.calibrations`` row of ``kernel`` (trained until ``train_until`` if
    given), read-only. Raises :class:`MissingInputs` when there is none."""
    if not Path(warehouse).is_file():
        raise MissingInputs(
            f"parameters from calibration: no published warehouse at {warehouse} "
            "(run `migsys refresh` and `migsys calibrate` first)"
        )
    with open_read_only(warehouse) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = 'calibrations'"
        ).fetchall()[0][0]
        if not exists:
            raise MissingInputs(
                f"parameters from calibration: {warehouse} has no main.calibrations table "
                "(run `migsys calibrate` and refresh)"
            )
        rows = con.execute(
            "select calibration_id, train_until, cast(created_at as varchar), parameters, "
            "parameter_sd from main.calibrations where kernel = ? "
            "and (? is null or train_until = ?) order by created_at desc, calibration_id desc "
            "limit 1",
            [kernel, train_until, train_until],
        ).fetchall()
        trained = con.execute(
            "select distinct train_until from main.calibrations where kernel = ? order by 1",
            [kernel],
        ).fetchall()
    if not rows:
        where = "" if train_until is None else f" trained until {train_until}"
        others = (
            f" (there are calibrations trained until {', '.join(str(t[0]) for t in trained)})"
            if trained
            else ""
        )
        until = "" if train_until is None else f" --train-until {train_until}"
        raise MissingInputs(
            f"parameters from calibration: {warehouse} has no calibration of kernel "
            f"{kernel!r}{where}{others}; run `migsys calibrate --kernel {kernel}{until}` and refresh"
        )
    calibration_id, until_year, created_at, parameters, parameter_sd = rows[0]
    return CalibrationUsed(
        kernel,
        str(calibration_id),
        int(until_year),
        str(created_at),
        {str(k): float(v) for k, v in _json(parameters).items()},
        {str(k): float(v) for k, v in _json(parameter_sd).items()},
    )


def calibrated(spec: StudySpec, kernel: Kernel, warehouse: Path | None) -> Calibrated:
    """Fitted values of the spec's ``from = "calibration"`` parameters, and of every unlisted
    parameter when ``defaults = "calibration"`` (none: empty), ``kernel`` being the spec's.

    Each value comes from the first of the kernel's calibrations that holds the parameter; the
    calibration must describe runs from the study's base year.
    """
    wanted = spec.calibrated_names
    if spec.defaults == "calibration":
        wanted += tuple(p for p in kernel.parameter_names if p not in spec.parameters)
    if not wanted:
        return Calibrated()
    if not kernel.calibrations:
        raise SpecError(
            f"study {spec.name}: parameters.{wanted[0]}: kernel {kernel.name} has no calibration"
        )
    if warehouse is None:
        raise SpecError(
            f"study {spec.name}: parameters from calibration need a published warehouse"
        )
    base_year = (spec.years or kernel.default_years or (None, None))[0]
    sources = [latest_calibration(warehouse, name, base_year) for name in kernel.calibrations]
    values: dict[str, float] = {}
    used: list[CalibrationUsed] = []
    for name in wanted:
        source = next((c for c in sources if name in c.parameters), None)
        if source is None:
            raise UnusableCalibration(
                f"study {spec.name}: parameter {name}: taken from calibration, but no "
                f"{'/'.join(kernel.calibrations)} calibration in {warehouse} has it "
                "(made before the parameter existed? run `migsys calibrate`)"
            )
        values[name] = source.parameters[name]
        if source not in used:
            used.append(source)
    return Calibrated(values, tuple(used))


def calibrations_needed(spec: StudySpec) -> list[tuple[str, int | None]]:
    """The calibrations ``(kernel, train_until)`` a study takes values from: what a pipeline
    must have run ``migsys calibrate`` for before the study can run (empty: none)."""
    if not spec.uses_calibration:
        return []
    kernel = registry.get(spec.kernel)
    base_year = (spec.years or kernel.default_years or (None, None))[0]
    return [(name, base_year) for name in kernel.calibrations]
