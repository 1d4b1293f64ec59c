"""The study spec: a small TOML file validated into a typed, frozen object.

A study names a kernel (one of :mod:`sweeps.registry`), the parameters it varies (bounds or a
distribution, possibly centred on the latest calibration), a design, a sample size and a seed.
Everything else has a default. Everything that can be checked before running is checked at parse
time, each error naming the file and the field: unknown keys, non-finite numbers, impossible
bounds, parameters or outputs the kernel does not have, ranges (and distribution tails) outside
what the kernel accepts, and sizes this machine cannot hold (:class:`SpecLimits`).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from migsys.kernels.defaults import Parameter
from migsys.sweeps import registry

DESIGNS = ("grid", "lhs", "sobol", "morris")
# One naming rule for studies: lowercase words joined by hyphens (remittances-nightly), the name
# of its folder under MIGSYS_HOME/sweeps. (Spec files keep Python-style names: remittances_nightly.toml.)
STUDY_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
STUDY_NAME_RULE = (
    "a study name is lowercase words joined by hyphens, e.g. remittances-nightly: letters a-z, "
    "digits and '-', starting with a letter or digit, at most 63 characters"
)
KERNEL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

# A normal distribution is sampled through its inverse CDF with the unit value clipped to
# [NORMAL_TAIL, 1 - NORMAL_TAIL] (sweeps.design): its draws stay within mean ± NORMAL_TAIL_SD * sd.
NORMAL_TAIL = 1e-12
NORMAL_TAIL_SD = -NormalDist().inv_cdf(NORMAL_TAIL) * (1 + 1e-9)


class SpecError(ValueError):
    """A study spec breaks a rule; the message names the file and the field."""


class MissingInputs(SpecError):
    """The warehouse lacks the data (or calibration) a study needs; the refresh skips it."""


class UnusableCalibration(MissingInputs):
    """The latest calibration cannot be swept as the spec asks (e.g. a relative spread around a
    fitted value of 0, or a range leaving what the kernel accepts); the refresh skips the study."""


@dataclass(frozen=True)
class SpecLimits:
    """What a study may ask of this machine (2 cores, 24 GiB), checked before anything runs.

    - ``max_scenarios``: 20 million scenarios. Designs are cut into chunks, but the analysis
      reads one outcome of every scenario at a time (160 MB per column) and the results on disk
      grow with it; ``migsys sweep run`` takes it from ``--max-scenarios`` or
      ``MIGSYS_MAX_SCENARIOS`` (read by the program, never here).
    - ``max_whole_design``: LHS, Morris and grid designs are generated whole in every worker
      process (Sobol designs chunk by chunk): 2 million rows (at most the scenario limit).
    - ``max_grid_levels``: points per parameter of a grid design.
    - ``max_chunks``: Dask tasks, manifest lines and part files of one study.
    - ``max_bootstrap_draws``: SALib's Sobol bootstrap holds several ``n × bootstrap`` arrays
      of 8-byte numbers at once; 100 million draws keep it near 8 GiB.
    """

    max_scenarios: int = 20_000_000
    max_whole_design: int = 2_000_000
    max_grid_levels: int = 1_000
    max_chunks: int = 100_000
    max_bootstrap_draws: int = 100_000_000

    @classmethod
    def for_max_scenarios(cls, max_scenarios: int | None) -> SpecLimits:
        """The defaults, with ``max_scenarios`` instead when given."""
        if max_scenarios is None:
            return cls()
        if max_scenarios < 1:
            raise SpecError(f"max_scenarios: must be at least 1, got {max_scenarios}")
        return cls(max_scenarios=max_scenarios)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ParameterSpec(_Strict):
    """How one kernel parameter varies in the study.

    One of:

    - bounds ``low``/``high`` (uniform, or ``distribution = "triangular"`` with a ``mode``);
    - ``distribution = "normal"`` with ``mean``/``sd`` (``low``/``high`` truncate it);
    - a fixed ``value``;
    - ``from = "calibration"``: the latest calibration's fitted value, fixed; or swept around it
      with ``spread`` (half-width) or ``relative_spread`` (half-width as a fraction of the fitted
      value), uniform or ``distribution = "triangular"`` (mode at the fitted value), or
      ``distribution = "normal"`` with ``sd`` or ``relative_sd`` (mean at the fitted value).
    """

    distribution: Literal["uniform", "triangular", "normal"] | None = None
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: float | None = Field(default=None, gt=0)
    value: float | None = None
    from_: Literal["calibration"] | None = Field(default=None, alias="from")
    spread: float | None = Field(default=None, gt=0)
    relative_spread: float | None = Field(default=None, gt=0)
    relative_sd: float | None = Field(default=None, gt=0)
    unit: str | None = None

    @model_validator(mode="after")
    def _one_way_to_vary(self) -> ParameterSpec:
        if self.value is not None:
            others = self._given("distribution", "low", "high", "mode", "mean", "sd", "from_")
            others += self._given("spread", "relative_spread", "relative_sd")
            if others:
                raise ValueError(f"a fixed value takes no {_key(others[0])}")
            return self
        if self.from_ is not None:
            return self._check_around_calibration()
        around = self._given("spread", "relative_spread", "relative_sd")
        if around:
            raise ValueError(f"{_key(around[0])} is only for from = 'calibration'")
        kind = self.kind
        if kind in ("uniform", "triangular"):
            if self.low is None or self.high is None:
                raise ValueError(f"a {kind} parameter needs low and high")
            if not self.low < self.high:
                raise ValueError(f"low ({self.low}) must be < high ({self.high})")
            if self.mean is not None or self.sd is not None:
                raise ValueError(f"mean/sd are only for distribution = 'normal', not {kind}")
        if kind == "triangular" and (self.mode is None or not self.low <= self.mode <= self.high):
            raise ValueError("a triangular parameter needs low <= mode <= high")
        if kind != "triangular" and self.mode is not None:
            raise ValueError("mode is only for distribution = 'triangular'")
        if kind == "normal":
            if self.mean is None or self.sd is None:
                raise ValueError("a normal parameter needs mean and sd")
            self._check_truncation(self.mean)
        return self

    def _given(self, *names: str) -> list[str]:
        return [name for name in names if getattr(self, name) is not None]

    def _check_around_calibration(self) -> ParameterSpec:
        if self.distribution is None and not self._given("spread", "relative_spread", "sd"):
            if self._given("relative_sd", "low", "high", "mode", "mean"):
                name = self._given("relative_sd", "low", "high", "mode", "mean")[0]
                raise ValueError(f"from = 'calibration' takes no {_key(name)} without a spread")
            return self  # fixed at the fitted value
        if self._given("mean", "mode"):
            raise ValueError(
                f"from = 'calibration' centres the parameter on the fitted value: "
                f"give no {self._given('mean', 'mode')[0]}"
            )
        kind = self.kind
        if kind == "normal":
            if len(self._given("sd", "relative_sd")) != 1:
                raise ValueError("a normal parameter from calibration needs sd or relative_sd")
            if self._given("spread", "relative_spread"):
                raise ValueError("spread/relative_spread are for uniform or triangular spreads")
            return self
        if len(self._given("spread", "relative_spread")) != 1:
            raise ValueError(
                f"a {kind} parameter from calibration needs spread or relative_spread "
                "(half-width around the fitted value)"
            )
        others = self._given("sd", "relative_sd", "low", "high")
        if others:
            raise ValueError(f"a {kind} spread from calibration takes no {_key(others[0])}")
        return self

    def _check_truncation(self, centre: float) -> None:
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be < high ({self.high})")
        if (self.low is not None and centre < self.low) or (
            self.high is not None and centre > self.high
        ):
            raise ValueError(f"the mean ({centre}) must lie within the truncation low/high")

    @property
    def is_swept(self) -> bool:
        """Varies across scenarios (bounds, a distribution, or a spread around a calibration)."""
        if self.value is not None:
            return False
        if self.from_ is not None:
            return self.distribution is not None or bool(
                self._given("spread", "relative_spread", "sd")
            )
        return True

    @property
    def from_calibration(self) -> bool:
        return self.from_ == "calibration"

    @property
    def kind(self) -> str:
        return self.distribution or "uniform"

    def support(self) -> tuple[float, float] | None:
        """The range the design can draw (normal: its truncation or mean ± NORMAL_TAIL_SD sd);
        a fixed parameter's value twice; None while a calibration has not been resolved."""
        if self.value is not None:
            return self.value, self.value
        if self.from_ is not None:
            return None
        if self.kind == "normal":
            low = self.mean - NORMAL_TAIL_SD * self.sd
            high = self.mean + NORMAL_TAIL_SD * self.sd
            return (
                low if self.low is None else max(low, self.low),
                high if self.high is None else min(high, self.high),
            )
        return self.low, self.high

    def around(self, fitted: float) -> ParameterSpec:
        """This parameter with its calibration resolved to ``fitted``: fixed, or a concrete
        uniform/triangular/normal centred on it (``from`` dropped)."""
        if self.from_ is None:
            return self
        if not self.is_swept:
            return ParameterSpec(value=fitted, unit=self.unit)
        if self.kind == "normal":
            sd = self.sd if self.sd is not None else self.relative_sd * abs(fitted)
            if not sd > 0:
                raise ValueError(
                    f"relative_sd around a fitted value of {fitted} is zero; give sd instead"
                )
            return ParameterSpec(
                distribution="normal",
                mean=fitted,
                sd=sd,
                low=self.low,
                high=self.high,
                unit=self.unit,
            )
        half = self.spread if self.spread is not None else self.relative_spread * abs(fitted)
        if not half > 0:
            raise ValueError(
                f"relative_spread around a fitted value of {fitted} is empty; give spread instead"
            )
        return ParameterSpec(
            distribution=self.distribution,
            low=fitted - half,
            high=fitted + half,
            mode=fitted if self.kind == "triangular" else None,
            unit=self.unit,
        )


def _key(name: str) -> str:
    return "from" if name == "from_" else name


class DesignSpec(_Strict):
    """Which design, how big. ``n`` is the base sample size (Sobol: Saltelli base N)."""

    method: Literal["grid", "lhs", "sobol", "morris"]
    n: int | None = Field(default=None, gt=0)
    levels: int | None = Field(default=None, ge=2)
    second_order: bool = False

    @model_validator(mode="after")
    def _size_fits_method(self) -> DesignSpec:
        if self.method == "grid":
            if self.levels is None:
                raise ValueError("a grid design needs levels (points per parameter)")
            if self.n is not None:
                raise ValueError("a grid design has levels**k scenarios; do not give n")
            return self
        if self.n is None:
            raise ValueError(f"a {self.method} design needs n (base sample size)")
        if self.method == "sobol" and (self.n < 2 or self.n & (self.n - 1)):
            lower = 2 ** int(math.log2(self.n)) if self.n >= 2 else 2
            raise ValueError(
                f"n = {self.n}: Saltelli/Sobol sampling needs a power of 2 (try {lower} or {lower * 2})"
            )
        if self.method == "lhs" and self.n < 2:
            raise ValueError("n must be >= 2 for lhs")
        if self.method == "morris":
            if self.n < 2:
                raise ValueError("morris needs n >= 2 trajectories")
            if self.levels is not None and self.levels % 2:
                raise ValueError(f"levels = {self.levels}: morris needs an even number of levels")
        if self.method != "morris" and self.levels is not None:
            raise ValueError(f"levels is only for grid and morris designs, not {self.method}")
        if self.method != "sobol" and self.second_order:
            raise ValueError("second_order is only for sobol designs")
        return self


class AnalysisSpec(_Strict):
    """Analysis settings: bootstrap resamples, confidence level, the interval width we accept."""

    bootstrap: int = Field(default=200, ge=10)
    conf_level: float = Field(default=0.95, gt=0.5, lt=1.0)
    max_conf: float = Field(default=0.1, gt=0.0)
    quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)

    @field_validator("quantiles")
    @classmethod
    def _quantiles_in_unit_interval(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0.0 < q < 1.0 for q in value):
            raise ValueError(
                "quantiles must be a non-empty list of numbers strictly between 0 and 1"
            )
        return tuple(sorted(value))


class DiscoverySpec(_Strict):
    """One scenario-discovery question: which parameter ranges give ``outcome`` above/below a threshold."""

    outcome: str
    above: float | None = None
    below: float | None = None
    min_coverage: float = Field(default=0.5, gt=0.0, le=1.0)
    max_boxes: int = Field(default=2, ge=1, le=10)

    @model_validator(mode="after")
    def _one_threshold(self) -> DiscoverySpec:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        return self


class StudySpec(_Strict):
    """A validated study."""

    name: str
    kernel: Annotated[str, Field(pattern=KERNEL_NAME_PATTERN)]
    description: str = ""
    # Values of the parameters the spec does not list: the kernel table's defaults, or the
    # latest calibration's fitted values (a study centred on the calibrated model).
    defaults: Literal["table", "calibration"] = "table"
    seed: int = Field(ge=0)
    chunk_size: int = Field(default=1000, ge=1, le=1_000_000)
    years: tuple[int, int] | None = None
    outputs: tuple[str, ...] | None = None
    design: DesignSpec
    parameters: dict[str, ParameterSpec]
    analysis: AnalysisSpec = AnalysisSpec()
    discovery: tuple[DiscoverySpec, ...] = ()

    @field_validator("name")
    @classmethod
    def _one_naming_rule(cls, value: str) -> str:
        if not re.fullmatch(STUDY_NAME_PATTERN, value):
            hint = (
                value.replace("_", "-")
                if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", value)
                else None
            )
            raise ValueError(f"{value!r}: {STUDY_NAME_RULE}" + (f" (try {hint!r})" if hint else ""))
        return value

    @field_validator("years")
    @classmethod
    def _years_increase(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"years = {list(value)}: base year must be before horizon year")
        return value

    @model_validator(mode="after")
    def _something_varies(self) -> StudySpec:
        if not self.swept_names:
            raise ValueError(
                "parameters: at least one parameter must vary (bounds or distribution)"
            )
        if self.design.method in ("grid", "morris"):
            for name, parameter in self.parameters.items():
                if parameter.is_swept and parameter.kind == "normal":
                    raise ValueError(
                        f"parameters.{name}: a {self.design.method} design needs bounded "
                        "parameters (uniform/triangular), not normal"
                    )
        return self

    @property
    def swept_names(self) -> tuple[str, ...]:
        """Varied parameters, in spec order (= column order of the design)."""
        return tuple(name for name, p in self.parameters.items() if p.is_swept)

    @property
    def calibrated_names(self) -> tuple[str, ...]:
        """Listed parameters taken (fixed or as a centre) from the latest calibration."""
        return tuple(name for name, p in self.parameters.items() if p.from_calibration)

    @property
    def uses_calibration(self) -> bool:
        return bool(self.calibrated_names) or self.defaults == "calibration"

    @property
    def n_scenarios(self) -> int:
        k = len(self.swept_names)
        design = self.design
        if design.method == "grid":
            return int(design.levels) ** k
        if design.method == "lhs":
            return int(design.n)
        if design.method == "morris":
            return int(design.n) * (k + 1)
        per_base = 2 * k + 2 if design.second_order else k + 2
        return int(design.n) * per_base

    def resolved(self, fitted: dict[str, float]) -> StudySpec:
        """The spec with every ``from = "calibration"`` parameter replaced by its fitted value
        (fixed) or by a concrete distribution around it. Parameter order is kept."""
        if not self.calibrated_names:
            return self
        parameters = {
            name: parameter.around(fitted[name]) if parameter.from_calibration else parameter
            for name, parameter in self.parameters.items()
        }
        return self.model_copy(update={"parameters": parameters})


def _field_path(location: tuple[object, ...]) -> str:
    parts = [str(part) for part in location if part not in ("function-after", "literal_error")]
    return ".".join(parts) or "(top level)"


def format_problems(source: str, problems: list[tuple[str, str]]) -> str:
    """``source: invalid study spec`` and one indented ``field: message`` line per problem."""
    return "\n".join([f"{source}: invalid study spec", *(f"  {f}: {m}" for f, m in problems)])


def _format_errors(source: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append((_field_path(item["loc"]), message))
    return format_problems(source, problems)


def kernel_problems(spec: StudySpec, kernel: registry.Kernel) -> list[tuple[str, str]]:
    """What in ``spec`` the kernel cannot run: unknown names, ranges it refuses, wrong units,
    years it has not, outputs and discovery outcomes it does not produce."""
    problems: list[tuple[str, str]] = []
    known = kernel.parameter_names
    if spec.uses_calibration and not kernel.calibrations:
        where = (
            "defaults"
            if spec.defaults == "calibration"
            else f"parameters.{spec.calibrated_names[0]}"
        )
        problems.append((where, f"kernel {kernel.name} has no calibration to take values from"))
    for name, given in spec.parameters.items():
        where = f"parameters.{name}"
        if name not in known:
            problems.append(
                (where, f"kernel {kernel.name} has no such parameter (it has: {', '.join(known)})")
            )
            continue
        parameter = kernel.parameter(name)
        if given.unit is not None and given.unit != parameter.unit:
            problems.append(
                (
                    f"{where}.unit",
                    f"{given.unit!r}, but kernel {kernel.name} measures {name} in "
                    f"{parameter.unit!r} ({kernel.parameter_table or 'its parameter table'})",
                )
            )
        support = given.support()
        if support is not None:
            problems.extend(_range_problems(where, given, support, parameter, kernel.name))
    outputs = {o.name: o for o in kernel.outputs}
    for name in spec.outputs or ():
        if name not in outputs:
            problems.append(
                (
                    "outputs",
                    f"kernel {kernel.name} has no output {name!r} (it has: {', '.join(outputs)})",
                )
            )
    if spec.outputs == ():
        problems.append(("outputs", "keep at least one output (or leave outputs out: all)"))
    kept = set(spec.outputs) if spec.outputs is not None else set(outputs)
    for index, rule in enumerate(spec.discovery):
        output = outputs.get(rule.outcome)
        if output is None or output.kind != "scalar" or rule.outcome not in kept:
            problems.append(
                (f"discovery.{index}.outcome", f"{rule.outcome!r} is not a kept scalar output")
            )
    if spec.years is not None:
        if not kernel.has_years:
            problems.append(("years", f"kernel {kernel.name} has no years"))
        elif (spec.years[1] - spec.years[0]) % kernel.span_step:
            problems.append(
                (
                    "years",
                    f"the {kernel.name} kernel steps {kernel.span_step} years; horizon - base "
                    f"({spec.years[1] - spec.years[0]}) must be a multiple of {kernel.span_step}",
                )
            )
    return problems


def _range_problems(
    where: str,
    given: ParameterSpec,
    support: tuple[float, float],
    parameter: Parameter,
    kernel: str,
) -> list[tuple[str, str]]:
    low, high = support
    if parameter.valid_low <= low and high <= parameter.valid_high:
        return []
    accepted = f"[{parameter.valid_low}, {parameter.valid_high}] {parameter.unit}"
    if given.value is not None:
        return [
            (where, f"value {given.value} is outside the range kernel {kernel} accepts {accepted}")
        ]
    if given.kind == "normal":
        return [
            (
                where,
                f"normal(mean {given.mean}, sd {given.sd}) draws down to {low:.6g} and up to "
                f"{high:.6g} (mean ± {NORMAL_TAIL_SD:.2f} sd), outside the range kernel {kernel} "
                f"accepts {accepted}; use a smaller sd or truncate it with low/high",
            )
        ]
    return [(where, f"[{low}, {high}] leaves the range kernel {kernel} accepts {accepted}")]


def limit_problems(spec: StudySpec, limits: SpecLimits) -> list[tuple[str, str]]:
    """Sizes this machine cannot hold (see :class:`SpecLimits`)."""
    problems: list[tuple[str, str]] = []
    n = spec.n_scenarios
    design = spec.design
    if design.method == "grid" and design.levels > limits.max_grid_levels:
        problems.append(
            (
                "design.levels",
                f"{design.levels:,} levels: a grid takes at most {limits.max_grid_levels:,}",
            )
        )
    if n > limits.max_scenarios:
        problems.append(
            (
                "design",
                f"{n:,} scenarios exceed the limit of {limits.max_scenarios:,} "
                "(MIGSYS_MAX_SCENARIOS or `migsys sweep run --max-scenarios` raises it)",
            )
        )
    elif design.method != "sobol" and n > min(limits.max_whole_design, limits.max_scenarios):
        problems.append(
            (
                "design",
                f"a {design.method} design of {n:,} scenarios is generated whole in every worker; "
                f"at most {limits.max_whole_design:,} (a sobol design is generated chunk by chunk)",
            )
        )
    chunks = -(-n // spec.chunk_size)
    if n <= limits.max_scenarios and chunks > limits.max_chunks:
        problems.append(
            (
                "chunk_size",
                f"{spec.chunk_size:,} gives {chunks:,} chunks; at most {limits.max_chunks:,} "
                f"(chunk_size >= {-(-n // limits.max_chunks):,})",
            )
        )
    if design.method == "sobol" and design.n * spec.analysis.bootstrap > limits.max_bootstrap_draws:
        problems.append(
            (
                "analysis.bootstrap",
                f"{spec.analysis.bootstrap} resamples of n = {design.n:,} base rows are "
                f"{design.n * spec.analysis.bootstrap:,} draws held at once by the Sobol "
                f"analysis; at most {limits.max_bootstrap_draws:,}: lower analysis.bootstrap",
            )
        )
    return problems


def parse_spec(
    data: dict, source: str = "<spec>", *, limits: SpecLimits | None = None
) -> StudySpec:
    """Validate a spec given as a dict (the parsed TOML); ``source`` names it in errors.

    Checks the spec on its own, against its kernel's declaration and against ``limits``
    (default: :class:`SpecLimits`'s defaults).
    """
    study = data.get("study")
    if not isinstance(study, dict):
        raise SpecError(f"{source}: missing [study] table")
    flat = dict(study)
    for table in ("design", "parameters", "analysis", "discovery"):
        if table in flat:
            raise SpecError(f"{source}: study.{table}: give it as its own [{table}] table")
        if table in data:
            flat[table] = data[table]
    extra = sorted(set(data) - {"study", "design", "parameters", "analysis", "discovery"})
    if extra:
        raise SpecError(f"{source}: {extra[0]}: unknown top-level table")
    try:
        spec = StudySpec.model_validate(flat)
    except ValidationError as error:
        raise SpecError(_format_errors(source, error)) from None
    try:
        kernel = registry.get(spec.kernel)
    except registry.UnknownKernel as error:
        raise SpecError(format_problems(source, [("kernel", str(error))])) from None
    problems = kernel_problems(spec, kernel)
    problems += limit_problems(spec, limits or SpecLimits())
    if problems:
        raise SpecError(format_problems(source, problems))
    return spec


def load_spec(path: Path | str, *, limits: SpecLimits | None = None) -> StudySpec:
    """Read and validate a study TOML file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SpecError(f"{path}: cannot read study spec ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SpecError(
            f"{path}: not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); "
            "save the spec as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML: {error}") from None
    return parse_spec(data, str(path), limits=limits)


def spec_to_dict(spec: StudySpec) -> dict:
    """A JSON-ready dict of the spec, with the TOML key names (``from``), Nones dropped."""
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)
