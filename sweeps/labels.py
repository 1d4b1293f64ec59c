"""Outcomes and series of a study in words, with the units people read on an axis.

A figure says "remittances in 2030", not ``remittances_usd_horizon``, and "USD bn per year"
with ticks 40, 60, 80 rather than ``1e11`` above an axis of 0.4, 0.6, 0.8.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Divide a kernel's values by ``divisor`` and label the axis with ``unit``."""

    divisor: float
    unit: str


# Keyed by the unit the kernels declare (sweeps.outcomes.Output.unit).
UNIT_SCALES: dict[str, Scale] = {
    "USD/yr": Scale(1e9, "USD bn per year"),
    "persons": Scale(1e6, "million people"),
    "households": Scale(1e6, "million households"),
    "units": Scale(1.0, "municipalities"),
    "%": Scale(1.0, "%"),
    "year": Scale(1.0, "year"),
    "1": Scale(1.0, "dimensionless"),
}


def scale_for(unit: str | None) -> Scale:
    return UNIT_SCALES.get(unit or "1", Scale(1.0, unit or "dimensionless"))


@dataclass(frozen=True)
class OutputWords:
    """What an output is, as a sentence fragment, and its unit."""

    description: str
    unit: str


def output_words(kernel: str, name: str) -> OutputWords:
    """The kernel's own description and unit of output ``name`` (the name itself if unknown)."""
    from migsys.sweeps import registry

    try:
        outputs = registry.get(kernel).outputs
    except registry.UnknownKernel:
        outputs = ()
    for output in outputs:
        if output.name == name:
            return OutputWords(output.description or name.replace("_", " "), output.unit)
    return OutputWords(name.replace("_", " "), "1")


def at_horizon(description: str, horizon: int | None) -> str:
    """'remittances at the horizon' -> 'remittances in 2030'."""
    if horizon is None:
        return description
    return description.replace("at the horizon", f"in {horizon}")


def sobol_title(kernel: str, outcome: str, horizon: int | None, study: str) -> str:
    """'What drives remittances in 2030? Sobol indices of study remittances-nightly'."""
    words = at_horizon(output_words(kernel, outcome).description, horizon)
    return f"What drives {words}? Sobol indices of study {study}"


def interval_note(conf_level: float) -> str:
    """The caption of an error bar: what interval it draws."""
    return f"error bars: {conf_level * 100:.0f} % bootstrap confidence interval"
