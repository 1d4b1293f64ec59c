"""Parameters taken "from calibration": the latest calibration of the kernel in the warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from migsys.sweeps.spec import SpecError, StudySpec


def latest_calibration(warehouse: Path, kernel: str) -> dict[str, float]:
    """Parameter values of the newest ``main.calibrations`` row of ``kernel`` (read-only)."""
    if not warehouse.is_file():
        raise SpecError(
            f"parameters from calibration: no published warehouse at {warehouse} "
            "(run `migsys refresh` and `migsys calibrate` first)"
        )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = 'calibrations'"
        ).fetchone()[0]
        if not exists:
            raise SpecError(
                f"parameters from calibration: {warehouse} has no main.calibrations table"
            )
        row = con.execute(
            "select calibration_id, parameters from main.calibrations "
            "where kernel = ? order by created_at desc limit 1",
            [kernel],
        ).fetchone()
    if row is None:
        raise SpecError(
            f"parameters from calibration: {warehouse} has no calibration of kernel {kernel!r} "
            f"(run `migsys calibrate` for it)"
        )
    values = json.loads(row[1]) if isinstance(row[1], str) else row[1]
    return {str(name): float(value) for name, value in values.items()}


def calibrated_values(spec: StudySpec, warehouse: Path | None) -> dict[str, float]:
    """Values of the spec's ``from = "calibration"`` parameters; empty if there are none."""
    wanted = [name for name, p in spec.parameters.items() if p.from_ == "calibration"]
    if not wanted:
        return {}
    if warehouse is None:
        raise SpecError(
            f"study {spec.name}: parameters from calibration need a published warehouse"
        )
    kernel = "remittances" if spec.kernel == "remittances" else "depopulation"
    calibration = latest_calibration(warehouse, kernel)
    missing = [name for name in wanted if name not in calibration]
    if missing:
        raise SpecError(
            f"study {spec.name}: parameters.{missing[0]}: from = 'calibration' but the latest "
            f"{kernel} calibration in {warehouse} has no such parameter"
        )
    return {name: calibration[name] for name in wanted}
