"""A registered kernel with its inputs loaded: what the engine evaluates.

:func:`build_model` turns a spec and its kernel's declaration (:mod:`sweeps.registry`) into a
:class:`KernelModel`: the inputs the kernel reads from the published warehouse
(:mod:`sweeps.inputs`, or given in the :class:`ModelContext`), the study's years and the
fingerprint of those inputs' content. A model evaluates a batch of parameter rows in one call
(the engine never calls it once per scenario) and is plain picklable data: it travels to the Dask
workers, which import the kernel's function by reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from migsys.fingerprint import fingerprint
from migsys.kernels.defaults import Parameter
from migsys.sweeps.inputs import input_source
from migsys.sweeps.outcomes import Output
from migsys.sweeps.registry import Kernel
from migsys.sweeps.spec import MissingInputs, SpecError, StudySpec


@dataclass(frozen=True)
class ModelContext:
    """Where models find their inputs: the published warehouse (read-only).

    ``inputs`` given here by input-source name (``sweeps.inputs.INPUT_SOURCES``, e.g.
    ``{"remittance_inputs": RemittanceInputs(...)}``) are used instead of the warehouse's, e.g. by
    benchmarks that must run without data files.
    """

    warehouse: Path | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class KernelModel:
    """A kernel ready to evaluate: declaration, loaded inputs, years, input fingerprint."""

    kernel: Kernel
    inputs: Mapping[str, object]
    span: tuple[int, int] | None  # (base_year, horizon_year), None for kernels without years
    data_fingerprint: str

    @property
    def name(self) -> str:
        return self.kernel.name

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return self.kernel.parameters

    @property
    def outputs(self) -> tuple[Output, ...]:
        return self.kernel.outputs

    @property
    def years(self) -> tuple[int, ...]:
        return () if self.span is None else self.kernel.years(*self.span)

    def output_years(self, output: Output) -> tuple[int, ...]:
        return () if self.span is None else self.kernel.output_years(output, *self.span)

    def evaluate(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Outcomes of a batch ``params`` [n, len(parameters)]: scalars [n], series [n, years]."""
        return self.kernel.evaluate(params, self.inputs, self.span)


def _open_warehouse(warehouse: Path | None, kernel: str):
    # Imported here: spec checks import this module and must not load DuckDB.
    from migsys.warehouse.sql import open_read_only

    if warehouse is None or not Path(warehouse).is_file():
        raise SpecError(
            f"kernel {kernel}: needs the published warehouse for its inputs, none at {warehouse} "
            "(run `migsys refresh` first)"
        )
    return open_read_only(warehouse)


def load_inputs(
    spec: StudySpec, kernel: Kernel, span: tuple[int, int] | None, context: ModelContext
) -> tuple[dict[str, object], str]:
    """The kernel's inputs (given ones first, the rest from the warehouse) and their fingerprint:
    ``label:content-hash`` per input, joined by ``:``, or ``none``."""
    sources = {name: input_source(name, kernel.name) for name in kernel.inputs}
    values: dict[str, object] = {}
    labels: dict[str, str] = {}
    for name in kernel.inputs:
        if name in context.inputs:
            values[name], labels[name] = context.inputs[name], "given"
    missing = [name for name in kernel.inputs if name not in values]
    if missing:
        assert span is not None, "kernels with inputs have years"
        con = _open_warehouse(context.warehouse, kernel.name)
        try:
            for name in missing:
                values[name], labels[name] = sources[name].load(con, *span)
        except ValueError as error:
            if isinstance(error, SpecError):
                raise
            raise MissingInputs(
                f"study {spec.name}: kernel {kernel.name} inputs: {error}"
            ) from error
        finally:
            con.close()
    parts = [f"{labels[name]}:{fingerprint(inputs=[values[name]])}" for name in kernel.inputs]
    return values, ":".join(parts) if parts else "none"


def build_model(
    spec: StudySpec, kernel: Kernel, context: ModelContext | None = None
) -> KernelModel:
    """The model of ``spec`` on its kernel ``kernel``, with the inputs loaded."""
    context = context or ModelContext()
    span = (spec.years or kernel.default_years) if kernel.has_years else None
    inputs, data_fingerprint = load_inputs(spec, kernel, span, context)
    return KernelModel(kernel, inputs, span, data_fingerprint)


def kept_outputs(spec: StudySpec, model: KernelModel) -> tuple[Output, ...]:
    """The outputs the study keeps (all by default), in model order."""
    wanted = set(spec.outputs) if spec.outputs is not None else None
    return tuple(o for o in model.outputs if wanted is None or o.name in wanted)


def series_column(series: str, year: int) -> str:
    """Column name of one year of a kept series in the result parts."""
    return f"{series}__{year}"
