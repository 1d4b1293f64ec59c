"""Outcomes: what a kernel gives back for each scenario, declared once per kernel in the registry.

An :class:`Output` is a scalar (one value per scenario) or a yearly series (one value per
scenario and year). Studies keep some or all of them; the engine writes one column per scalar
and one per year of each series; the analysis, the plots and the IAMC export read their units,
variable names and descriptions from here (through the study record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OutputKind = Literal["scalar", "series"]


@dataclass(frozen=True)
class Output:
    """An outcome: ``scalar`` gives one value per scenario, ``series`` one per scenario and year.

    ``step`` is the year step of a series when it differs from the kernel's ``year_step``.
    """

    name: str
    kind: OutputKind
    unit: str = "1"
    description: str = ""
    variable: str = ""  # IAMC variable name (e.g. "Population"); defaults to ``name``
    region: str = "Mexico"
    step: int | None = None
