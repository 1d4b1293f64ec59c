"""The study spec: a small TOML file validated into a typed, frozen object.

A study names a kernel, the parameters it varies (bounds or a distribution, or "from
calibration"), a design, a sample size and a seed. Everything else has a default. Unknown keys,
impossible bounds, parameters the kernel does not have and sample sizes the design cannot use are
rejected with the file and the field named.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

KERNELS = ("depopulation", "remittances", "coupled", "ishigami", "sobol_g")
DESIGNS = ("grid", "lhs", "sobol", "morris")
STUDY_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class SpecError(ValueError):
    """A study spec breaks a rule; the message names the file and the field."""


class MissingInputs(SpecError):
    """The warehouse lacks the data a kernel needs (its sources were absent from the refresh)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterSpec(_Strict):
    """How one kernel parameter varies in the study.

    Exactly one of: bounds (``low``/``high``, uniform unless ``distribution`` says otherwise),
    ``distribution = "normal"`` with ``mean``/``sd``, a fixed ``value``, or ``from = "calibration"``.
    """

    distribution: Literal["uniform", "triangular", "normal"] | None = None
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: float | None = Field(default=None, gt=0)
    value: float | None = None
    from_: Literal["calibration"] | None = Field(default=None, alias="from")
    unit: str | None = None

    @model_validator(mode="after")
    def _one_way_to_vary(self) -> ParameterSpec:
        fixed = self.value is not None or self.from_ is not None
        bounded = self.low is not None or self.high is not None
        if self.value is not None and self.from_ is not None:
            raise ValueError("give either value or from, not both")
        if fixed and (bounded or self.distribution or self.mean is not None):
            raise ValueError(
                "a fixed parameter (value/from) cannot also have bounds or a distribution"
            )
        if fixed:
            return self
        kind = self.distribution or "uniform"
        if kind in ("uniform", "triangular"):
            if self.low is None or self.high is None:
                raise ValueError(f"a {kind} parameter needs low and high")
            if not self.low < self.high:
                raise ValueError(f"low ({self.low}) must be < high ({self.high})")
        if kind == "triangular" and (self.mode is None or not self.low <= self.mode <= self.high):
            raise ValueError("a triangular parameter needs low <= mode <= high")
        if kind == "normal" and (self.mean is None or self.sd is None):
            raise ValueError("a normal parameter needs mean and sd")
        if kind != "triangular" and self.mode is not None:
            raise ValueError("mode is only for distribution = 'triangular'")
        if kind != "normal" and (self.mean is not None or self.sd is not None):
            raise ValueError("mean/sd are only for distribution = 'normal'")
        if kind == "normal" and (self.low is not None or self.high is not None):
            raise ValueError("a normal parameter takes mean and sd, not low/high")
        return self

    @property
    def is_swept(self) -> bool:
        return self.value is None and self.from_ is None

    @property
    def kind(self) -> str:
        return self.distribution or "uniform"


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

    name: Annotated[str, Field(pattern=STUDY_NAME_PATTERN)]
    kernel: Literal["depopulation", "remittances", "coupled", "ishigami", "sobol_g"]
    description: str = ""
    seed: int = Field(ge=0)
    chunk_size: int = Field(default=1000, ge=1, le=1_000_000)
    years: tuple[int, int] | None = None
    outputs: tuple[str, ...] | None = None
    design: DesignSpec
    parameters: dict[str, ParameterSpec]
    analysis: AnalysisSpec = AnalysisSpec()
    discovery: tuple[DiscoverySpec, ...] = ()

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


def _field_path(location: tuple[object, ...]) -> str:
    parts = [str(part) for part in location if part not in ("function-after", "literal_error")]
    return ".".join(parts) or "(top level)"


def _format_errors(source: str, error: ValidationError) -> str:
    lines = [f"{source}: invalid study spec"]
    for item in error.errors():
        field = _field_path(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {field}: {message}")
    return "\n".join(lines)


def parse_spec(data: dict, source: str = "<spec>") -> StudySpec:
    """Validate a spec given as a dict (the parsed TOML); ``source`` names it in errors."""
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
        return StudySpec.model_validate(flat)
    except ValidationError as error:
        raise SpecError(_format_errors(source, error)) from None


def load_spec(path: Path | str) -> StudySpec:
    """Read and validate a study TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"{path}: cannot read study spec ({error.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML: {error}") from None
    return parse_spec(data, str(path))


def spec_to_dict(spec: StudySpec) -> dict:
    """A JSON-ready dict of the spec, with the TOML key names (``from``), Nones dropped."""
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)
