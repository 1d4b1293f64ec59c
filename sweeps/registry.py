"""The kernel registry: one declaration per kernel the studies can run.

A :class:`Kernel` says what the engine, the study specs, ``from = "calibration"`` lookups and the
warehouse need to know about a model: its parameters (the kernel's own table,
``kernels/parameters/<name>.csv``), its outputs (:mod:`sweeps.outcomes`), the function that
evaluates a batch (:mod:`sweeps.kernel_adapters`), the names of the inputs it reads from the
warehouse (:mod:`sweeps.inputs`), its default years and which calibrations can supply its
parameters. Spec validation (:mod:`sweeps.spec`), the model (:mod:`sweeps.models`), the study
engine and the warehouse table ``sweeps.kernels`` (which the dbt tests of
``stg_sweeps__studies.kernel`` refer to) read it from here.

The registry sits above the kernels (``kernels/`` imports nothing of the project) and imports
what it names. There is no version to bump: a study's fingerprint holds the code of its kernel
(:func:`code_fingerprint`), so an edit of what the kernel computes re-runs its studies and a
docstring edit does not.

Adding a kernel: write its module (a batch function and, if it needs data, an input source in
:mod:`sweeps.inputs`) and add one :class:`Kernel` to ``BUILTIN_KERNELS`` (or call
:func:`register` from a plugin or a test).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from migsys.fingerprint import fingerprint
from migsys.kernels.defaults import Parameter, kernel_parameters
from migsys.sweeps import kernel_adapters
from migsys.sweeps.outcomes import Output

# evaluate(params [n, n_params], inputs by name, (base_year, horizon_year) or None) -> outputs
Evaluate = Callable[[np.ndarray, Mapping[str, object], tuple[int, int] | None], dict]


@dataclass(frozen=True)
class Kernel:
    """One model the sweeps can run, declared once.

    ``evaluate(params, inputs, years) -> {output: array}`` evaluates a batch: ``params`` is
    ``[n, len(parameters)]`` in table order, ``inputs`` maps each name of ``inputs`` to its loaded
    value, ``years`` is ``(base_year, horizon_year)`` or None for a kernel without years.
    Scalars come back as ``[n]``, series as ``[n, len(years of the series)]``.
    """

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    outputs: tuple[Output, ...]
    evaluate: Evaluate
    inputs: tuple[str, ...] = ()  # names of sweeps.inputs.INPUT_SOURCES
    default_years: tuple[int, int] | None = None
    year_step: int = 1
    calibrations: tuple[str, ...] = ()  # calibrations (by kernel name) that supply parameters
    parameter_table: str = ""  # where the parameters were read from (for messages)

    def __post_init__(self) -> None:
        where = f"kernel {self.name!r}"
        if not self.name.replace("_", "").isalnum() or not self.name[:1].isalpha():
            raise ValueError(f"{where}: name must be letters, digits and underscores")
        names = [p.name for p in self.parameters]
        outputs = [o.name for o in self.outputs]
        for label, values in (("parameter", names), ("output", outputs)):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{where}: {label} {repeated[0]!r} declared twice")
        if not names or not outputs:
            raise ValueError(f"{where}: needs at least one parameter and one output")
        clash = sorted(set(names) & set(outputs))
        if clash:
            raise ValueError(f"{where}: {clash[0]!r} is both a parameter and an output")
        if any("__" in name or name == "scenario_id" for name in names + outputs):
            raise ValueError(f"{where}: names may not contain '__' or be 'scenario_id'")
        if not callable(self.evaluate):
            raise ValueError(f"{where}: evaluate must be a function")
        series = [o for o in self.outputs if o.kind == "series"]
        if series and self.default_years is None:
            raise ValueError(f"{where}: series outputs need default_years")
        if self.default_years is not None and not self.default_years[0] < self.default_years[1]:
            raise ValueError(f"{where}: default_years must increase")

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def has_years(self) -> bool:
        return self.default_years is not None

    @property
    def span_step(self) -> int:
        """Horizon minus base year must be a multiple of this (every series grid must fit)."""
        step = self.year_step
        for output in self.outputs:
            step = math.lcm(step, output.step or self.year_step)
        return step

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    def years(self, base_year: int, horizon_year: int) -> tuple[int, ...]:
        """The kernel's time grid from base to horizon."""
        return tuple(range(base_year, horizon_year + 1, self.year_step))

    def output_years(self, output: Output, base_year: int, horizon_year: int) -> tuple[int, ...]:
        """Years of a series output."""
        return tuple(range(base_year, horizon_year + 1, output.step or self.year_step))


# --- the built-in kernels -------------------------------------------------------------------

DEPOPULATION_SERIES = (
    Output("national_population", "series", "persons", "population of all units", "Population"),
    Output(
        "share_65plus", "series", "1", "share of the population aged 65+", "Population|Share 65+"
    ),
)
DEPOPULATION_SCALARS = (
    Output(
        "depopulating_units",
        "scalar",
        "units",
        "units whose population fell during the last five-year period",
    ),
    Output(
        "depopulating_units_very_high",
        "scalar",
        "units",
        "very-high-intensity units whose population fell during the last period",
    ),
    Output(
        "units_below_75pct",
        "scalar",
        "units",
        "units whose horizon population is below 75 % of the base",
    ),
    Output(
        "units_below_50pct",
        "scalar",
        "units",
        "units whose horizon population is below 50 % of the base",
    ),
    Output("population_horizon", "scalar", "persons", "national population at the horizon"),
    Output("share_65plus_horizon", "scalar", "1", "share aged 65+ at the horizon"),
)
REMITTANCE_SERIES = (
    Output("remittances_usd", "series", "USD/yr", "remittances received", "Remittances"),
    Output(
        "remittances_pct_gdp",
        "series",
        "%",
        "remittances as percent of GDP",
        "Remittances|Share of GDP",
    ),
    Output(
        "migrant_stock",
        "series",
        "persons",
        "Mexican-born population in the US",
        "Migrant Stock|Mexico-born in US",
    ),
    Output(
        "receiving_households",
        "series",
        "households",
        "Mexican households receiving remittances",
        "Households|Receiving Remittances",
    ),
)
REMITTANCE_SCALARS = (
    Output("remittances_usd_horizon", "scalar", "USD/yr", "remittances at the horizon"),
    Output("remittances_pct_gdp_horizon", "scalar", "%", "remittances/GDP at the horizon"),
    Output("migrant_stock_horizon", "scalar", "persons", "US Mexican-born stock at the horizon"),
    Output("peak_value", "scalar", "USD/yr", "highest yearly remittances in the projection"),
    Output("peak_year", "scalar", "year", "year of the highest remittances"),
    Output(
        "year_below_start",
        "scalar",
        "year",
        "first year remittances/GDP fall below the base ratio (-1: never)",
    ),
)

BUILTIN_KERNELS: tuple[Kernel, ...] = (
    Kernel(
        name="depopulation",
        description="cohort-component projection of municipalities with emigration and return",
        parameters=kernel_parameters("depopulation"),
        outputs=DEPOPULATION_SCALARS + DEPOPULATION_SERIES,
        evaluate=kernel_adapters.evaluate_depopulation,
        inputs=("units",),
        default_years=(2000, 2030),
        year_step=5,
        calibrations=("depopulation",),
        parameter_table="kernels/parameters/depopulation.csv",
    ),
    Kernel(
        name="remittances",
        description="Mexican-born stock in the US by duration and the remittances it sends",
        parameters=kernel_parameters("remittances"),
        outputs=REMITTANCE_SCALARS + REMITTANCE_SERIES,
        evaluate=kernel_adapters.evaluate_remittances,
        inputs=("remittance_inputs",),
        default_years=(2005, 2030),
        year_step=1,
        calibrations=("remittances",),
        parameter_table="kernels/parameters/remittances.csv",
    ),
    Kernel(
        name="coupled",
        description="both kernels in one run: municipal emigrants feed the US stock",
        # The depopulation parameters, then the remittance ones (no name is shared).
        parameters=kernel_parameters("depopulation") + kernel_parameters("remittances"),
        outputs=(
            DEPOPULATION_SCALARS
            + REMITTANCE_SCALARS
            + tuple(
                Output(o.name, o.kind, o.unit, o.description, o.variable, o.region, step=5)
                for o in DEPOPULATION_SERIES
            )
            + REMITTANCE_SERIES
        ),
        evaluate=kernel_adapters.evaluate_coupled,
        inputs=("units", "remittance_inputs"),
        default_years=(2005, 2030),
        year_step=1,
        calibrations=("depopulation", "remittances"),
        parameter_table="kernels/parameters/depopulation.csv + remittances.csv",
    ),
    Kernel(
        name="ishigami",
        description="Ishigami test function (a = 7, b = 0.1) with analytic Sobol indices",
        parameters=kernel_parameters("ishigami"),
        outputs=(Output("y", "scalar", "1", "function value"),),
        evaluate=kernel_adapters.evaluate_ishigami,
        parameter_table="kernels/parameters/ishigami.csv",
    ),
    Kernel(
        name="sobol_g",
        description="Sobol' G test function with SALib's eight coefficients",
        parameters=kernel_parameters("sobol_g"),
        outputs=(Output("y", "scalar", "1", "function value"),),
        evaluate=kernel_adapters.evaluate_sobol_g,
        parameter_table="kernels/parameters/sobol_g.csv",
    ),
)

_KERNELS: dict[str, Kernel] = {kernel.name: kernel for kernel in BUILTIN_KERNELS}


class UnknownKernel(KeyError):
    """A kernel name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def names() -> tuple[str, ...]:
    """Registered kernel names, built-ins first."""
    return tuple(_KERNELS)


def get(name: str) -> Kernel:
    """The declaration of kernel ``name``."""
    try:
        return _KERNELS[name]
    except KeyError:
        raise UnknownKernel(
            f"unknown kernel {name!r} (registered: {', '.join(_KERNELS)})"
        ) from None


def register(kernel: Kernel) -> Kernel:
    """Add a kernel (a plugin's or a test's); refuses to replace a different one of that name."""
    existing = _KERNELS.get(kernel.name)
    if existing is not None and existing != kernel:
        raise ValueError(f"kernel {kernel.name!r} is already registered")
    _KERNELS[kernel.name] = kernel
    return kernel


def unregister(name: str) -> None:
    """Remove a registered kernel (never a built-in)."""
    if any(kernel.name == name for kernel in BUILTIN_KERNELS):
        raise ValueError(f"kernel {name!r} is built in")
    _KERNELS.pop(name, None)


@contextlib.contextmanager
def registered(kernel: Kernel) -> Iterator[Kernel]:
    """Register ``kernel`` for the duration of a ``with`` block (tests)."""
    register(kernel)
    try:
        yield kernel
    finally:
        unregister(kernel.name)


def code_fingerprint(kernel: Kernel) -> str:
    """Fingerprint of the code that computes the kernel's outputs: the module of its
    ``evaluate`` and every project module that imports, docstrings and comments aside."""
    return fingerprint(code=[kernel.evaluate])


@dataclass(frozen=True)
class KernelRow:
    """One row of the warehouse table ``sweeps.kernels``."""

    kernel: str
    code: str  # code_fingerprint(kernel)
    description: str
    parameters: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)


def kernel_rows() -> list[KernelRow]:
    """What ``sweeps.kernels`` holds: every registered kernel."""
    return [
        KernelRow(
            kernel.name,
            code_fingerprint(kernel),
            kernel.description,
            list(kernel.parameter_names),
            [o.name for o in kernel.outputs],
            list(kernel.inputs),
        )
        for kernel in _KERNELS.values()
    ]
