"""Default parameters of the projection kernels, their plausible ranges and where each comes from.

The values live in one table per kernel, ``kernels/parameters/<kernel>.csv`` (columns name, default,
low, high, valid_low, valid_high, unit, description, source), shipped as package data: edit a range
there, nowhere else. Sweeps, calibration and the kernels read parameter names, defaults and bounds
through this module. The row order of a table is the column order
of the ``params[n_scenarios, n_params]`` matrices the batch wrappers take.

Each :class:`Parameter` carries two ranges:

* ``low``/``high`` — the *plausible* range a sweep should explore (cited in ``source``);
* ``valid_low``/``valid_high`` — the *admissible* range outside which the kernels refuse to run
  (a ``ValueError`` naming the column and the bound), e.g. a life expectancy outside the span the
  life-table solver supports, or a rate multiplier that would push a probability above 1.

Sources, abbreviated in ``source``:

* CONAPO (2002), *Proyecciones de la población de México 2000–2050* (life expectancy 2000: men
  73.1, women 77.6; total fertility 2000: 2.4, long-run assumption 1.85; mean age at childbearing
  about 27; annual net emigration to the US of 0.3–0.4 million).
* Rogers, A. and Castro, L. J. (1981), *Model Migration Schedules*, IIASA RR-81-30 (the "standard"
  schedule: peak age mu2 ≈ 20, lambda2 ≈ 0.4, alpha2 ≈ 0.1, alpha1 ≈ alpha2, a1/a2 ≈ 1/3,
  c/a2 ≈ 0.05).
* Delgado-Wise and Márquez-Covarrubias (2006), the paper in ``../shared/paper`` ("paper"):
  400,000 Mexicans a year settling abroad in 1990–95; 10.2 million Mexican-born in the US in 2004;
  USD 20 bn remittances in 2005; 1.6 million remittance-receiving households (8 %); the US/Mexico
  manufacturing wage ratio rising from 5.7 (1994) to 6.8 (2004).
* Banxico SIE remittance series and FIX exchange rate; World Bank WDI GDP; UN DESA migrant stock.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Parameter:
    """One column of a ``params`` matrix: its default, plausible sweep range and admissible range."""

    name: str
    default: float
    low: float
    high: float
    unit: str
    source: str
    description: str
    valid_low: float = -np.inf
    valid_high: float = np.inf

    def __post_init__(self) -> None:
        if not (self.valid_low <= self.low <= self.default <= self.high <= self.valid_high):
            raise ValueError(
                f"parameter {self.name!r}: need valid_low <= low <= default <= high <= valid_high, "
                f"got {self.valid_low}, {self.low}, {self.default}, {self.high}, {self.valid_high}"
            )


PARAMETER_TABLES = resources.files("migsys.kernels") / "parameters"
TABLE_COLUMNS = (
    "name",
    "default",
    "low",
    "high",
    "valid_low",
    "valid_high",
    "unit",
    "description",
    "source",
)


def _number(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {column}: {text!r} is not a number") from None
    if math.isnan(value) or (math.isinf(value) and column not in ("valid_low", "valid_high")):
        raise ValueError(f"{where}: {column}: must be a finite number, got {text!r}")
    return value


def parse_parameter_table(text: str, source: str) -> tuple[Parameter, ...]:
    """Parameters of a CSV table (columns ``TABLE_COLUMNS``), in row order = column order.

    Every problem is a ``ValueError`` naming ``source``, the row and the column.
    """
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != TABLE_COLUMNS:
        raise ValueError(
            f"{source}: header must be {','.join(TABLE_COLUMNS)}, got {','.join(reader.fieldnames or ())}"
        )
    parameters: list[Parameter] = []
    for line, row in enumerate(reader, start=2):
        where = f"{source}, row {line}"
        if None in row or any(value is None for value in row.values()):
            raise ValueError(f"{where}: expected {len(TABLE_COLUMNS)} fields")
        name = row["name"].strip()
        if not name.isidentifier():
            raise ValueError(f"{where}: name: {name!r} is not a valid parameter name")
        if any(p.name == name for p in parameters):
            raise ValueError(f"{where}: name: {name!r} appears twice")
        numbers = {
            column: _number(row[column], where, column)
            for column in ("default", "low", "high", "valid_low", "valid_high")
        }
        try:
            parameters.append(
                Parameter(
                    name=name,
                    unit=row["unit"],
                    source=row["source"],
                    description=row["description"],
                    **numbers,
                )
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    if not parameters:
        raise ValueError(f"{source}: no parameters")
    return tuple(parameters)


def read_parameter_table(path: Path | Traversable) -> tuple[Parameter, ...]:
    """Parameters of the CSV table at ``path`` (package data or any file)."""
    return parse_parameter_table(path.read_text(encoding="utf-8"), str(path))


def kernel_parameters(kernel: str) -> tuple[Parameter, ...]:
    """Parameters of a shipped kernel, from ``kernels/parameters/<kernel>.csv``."""
    return read_parameter_table(PARAMETER_TABLES / f"{kernel}.csv")


DEPOPULATION_PARAMETERS: tuple[Parameter, ...] = kernel_parameters("depopulation")
REMITTANCE_PARAMETERS: tuple[Parameter, ...] = kernel_parameters("remittances")


def parameter_names(parameters: tuple[Parameter, ...]) -> tuple[str, ...]:
    """Names of ``parameters`` in column order."""
    return tuple(parameter.name for parameter in parameters)


def parameter_index(parameters: tuple[Parameter, ...], name: str) -> int:
    """Column of ``name`` in a ``params`` matrix built from ``parameters``."""
    names = parameter_names(parameters)
    if name not in names:
        raise ValueError(f"unknown parameter {name!r}; known: {', '.join(names)}")
    return names.index(name)


def default_params(parameters: tuple[Parameter, ...], n: int = 1) -> np.ndarray:
    """``n`` identical rows of the defaults, shape ``(n, len(parameters))``, float64."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    row = np.array([parameter.default for parameter in parameters], dtype=np.float64)
    return np.tile(row, (n, 1))


def parameter_bounds(parameters: tuple[Parameter, ...]) -> np.ndarray:
    """Plausible ``[low, high]`` per parameter, shape ``(n_params, 2)`` (SALib ``bounds`` order)."""
    return np.array([[parameter.low, parameter.high] for parameter in parameters], dtype=np.float64)


def valid_bounds(parameters: tuple[Parameter, ...]) -> np.ndarray:
    """Admissible ``[valid_low, valid_high]`` per parameter, shape ``(n_params, 2)``."""
    return np.array(
        [[parameter.valid_low, parameter.valid_high] for parameter in parameters], dtype=np.float64
    )
