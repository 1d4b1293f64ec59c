"""Model adapters: one small protocol between the engine and whatever it evaluates.

A model knows its parameters (name, default, bounds, unit), its outputs (scalar per scenario or a
yearly series) and evaluates a batch of parameter rows in one call. The engine never calls a
model once per scenario. Adapters must be picklable: they travel to Dask workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from migsys.sweeps import testfunctions
from migsys.sweeps.spec import SpecError, StudySpec


@dataclass(frozen=True)
class ModelParameter:
    """A parameter the model accepts, with its default and plausible range."""

    name: str
    default: float
    low: float
    high: float
    unit: str = "1"
    description: str = ""
    valid_low: float = -np.inf
    valid_high: float = np.inf


@dataclass(frozen=True)
class ModelOutput:
    """An outcome: ``scalar`` gives one value per scenario, ``series`` one per scenario and year."""

    name: str
    kind: Literal["scalar", "series"]
    unit: str = "1"
    description: str = ""
    variable: str = ""  # IAMC variable name (e.g. "Population"); defaults to ``name``
    region: str = "Mexico"
    years: tuple[int, ...] = ()  # years of a series when they differ from the model's years


@runtime_checkable
class SweepModel(Protocol):
    """What the engine needs from a model."""

    name: str
    parameters: tuple[ModelParameter, ...]
    outputs: tuple[ModelOutput, ...]
    years: tuple[int, ...]

    def evaluate(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Outcomes of a batch ``params`` [n, len(parameters)]: scalars [n], series [n, len(years)]."""
        ...


@dataclass(frozen=True)
class AnalyticModel:
    """An analytic test function of the parameters (no years, one scalar output ``y``)."""

    name: str
    parameters: tuple[ModelParameter, ...]
    function: Callable[[np.ndarray], np.ndarray]
    outputs: tuple[ModelOutput, ...] = (ModelOutput("y", "scalar", "1", "function value"),)
    years: tuple[int, ...] = field(default=())

    def evaluate(self, params: np.ndarray) -> dict[str, np.ndarray]:
        return {"y": self.function(params)}


def ishigami_model() -> AnalyticModel:
    """Ishigami with x1..x3 uniform on [-pi, pi]."""
    parameters = tuple(
        ModelParameter(f"x{i}", 0.0, -np.pi, np.pi, "1", "Ishigami input") for i in (1, 2, 3)
    )
    return AnalyticModel("ishigami", parameters, testfunctions.ishigami)


def sobol_g_model() -> AnalyticModel:
    """Sobol' G with SALib's eight coefficients, inputs x1..x8 uniform on [0, 1]."""
    parameters = tuple(
        ModelParameter(f"x{i + 1}", 0.5, 0.0, 1.0, "1", f"Sobol G input, a = {a}")
        for i, a in enumerate(testfunctions.SOBOL_G_A)
    )
    return AnalyticModel("sobol_g", parameters, testfunctions.sobol_g)


@dataclass(frozen=True)
class ModelContext:
    """Where kernel adapters find their inputs: the published warehouse (read-only).

    ``remittance_inputs`` (kernels.remittances.RemittanceInputs) and ``units``
    (kernels.depopulation.DepopulationUnits) given here are used instead of the warehouse's,
    e.g. by benchmarks that must run without data files.
    """

    warehouse: Path | None = None
    remittance_inputs: object | None = None
    units: object | None = None


def build_model(spec: StudySpec, context: ModelContext | None = None) -> SweepModel:
    """The model a spec names, with its inputs loaded; checks the spec against it."""
    context = context or ModelContext()
    if spec.kernel == "ishigami":
        model: SweepModel = ishigami_model()
    elif spec.kernel == "sobol_g":
        model = sobol_g_model()
    else:
        from migsys.sweeps import kernel_models

        model = kernel_models.build_kernel_model(spec, context)
    check_spec_against_model(spec, model)
    return model


def check_spec_against_model(spec: StudySpec, model: SweepModel) -> None:
    """Reject parameters the model lacks, unknown outputs, years on a model without years."""
    known = {p.name for p in model.parameters}
    for name in spec.parameters:
        if name not in known:
            raise SpecError(
                f"study {spec.name}: parameters.{name}: kernel {spec.kernel} has no such "
                f"parameter (it has: {', '.join(sorted(known))})"
            )
    outputs = {o.name for o in model.outputs}
    for name in spec.outputs or ():
        if name not in outputs:
            raise SpecError(
                f"study {spec.name}: outputs: kernel {spec.kernel} has no output {name!r} "
                f"(it has: {', '.join(sorted(outputs))})"
            )
    kept_scalars = {o.name for o in kept_outputs(spec, model) if o.kind == "scalar"}
    for rule in spec.discovery:
        if rule.outcome not in kept_scalars:
            raise SpecError(
                f"study {spec.name}: discovery.outcome: {rule.outcome!r} is not a kept scalar output"
            )
    for name, given in spec.parameters.items():
        parameter = next(p for p in model.parameters if p.name == name)
        low = given.low if given.is_swept and given.kind != "normal" else given.value
        high = given.high if given.is_swept and given.kind != "normal" else given.value
        if low is not None and not parameter.valid_low <= low <= high <= parameter.valid_high:
            raise SpecError(
                f"study {spec.name}: parameters.{name}: [{low}, {high}] leaves the range the "
                f"kernel accepts [{parameter.valid_low}, {parameter.valid_high}]"
            )
    if spec.years is not None and not model.years and spec.kernel in ("ishigami", "sobol_g"):
        raise SpecError(f"study {spec.name}: years: kernel {spec.kernel} has no years")
    clash = known & outputs
    if clash:
        raise SpecError(f"kernel {spec.kernel}: names used both as parameter and output: {clash}")


def kept_outputs(spec: StudySpec, model: SweepModel) -> tuple[ModelOutput, ...]:
    """The outputs the study keeps (all by default), in model order."""
    wanted = set(spec.outputs) if spec.outputs is not None else None
    return tuple(o for o in model.outputs if wanted is None or o.name in wanted)


def output_years(model: SweepModel, output: ModelOutput) -> tuple[int, ...]:
    """Years of a series output (its own, else the model's)."""
    return output.years or tuple(model.years)


def series_column(series: str, year: int) -> str:
    """Column name of one year of a kept series in the result parts."""
    return f"{series}__{year}"
