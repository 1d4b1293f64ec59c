"""Configuration of the nightly refresh: the config file (``studies/nightly.toml``) and the typed
settings of one run.

``NightlyConfig`` is what the file says (schedule, fetch, publish guard, standing studies);
``NightlySettings`` is what one run is asked to do (where, which flags). Both are pydantic models:
a mistake is reported with the file and the field, before anything runs.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from migsys.warehouse.guard import GuardPolicy
from migsys.warehouse.paths import DBT_PROJECT_DIR, STUDIES_DIR, MigsysPaths

DEFAULT_NIGHTLY_CONFIG = STUDIES_DIR / "nightly.toml"

# Marts fed by the source files (not by the paper's seeds): a build must keep at least
# ``min_row_share`` of their published rows unless the operator passes --allow-shrink.
SOURCE_FED_MARTS = (
    "dim_municipality",
    "fct_municipal_population",
    "fct_municipal_growth",
    "fct_migration_intensity",
    "fct_depopulation_by_degree",
    "fct_depopulation_by_intensity",
    "fct_remittances_monthly",
    "fct_remittances_annual",
    "fct_remittances_state_quarterly",
    "fct_municipal_remittances_quarterly",
    "fct_municipal_remittances",
    "fct_migrant_stock",
    "fct_binational_asymmetry",
)


class NightlyConfigError(ValueError):
    """``studies/nightly.toml`` breaks a rule; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleConfig(_Strict):
    """When the served deployment runs: a cron expression in a named time zone."""

    cron: str = "0 2 * * *"
    timezone: str = "America/Mexico_City"

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(
                f"{value!r}: a cron expression has 5 fields (minute hour day month weekday)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (e.g. America/Mexico_City)"
            ) from None
        return value


class FetchConfig(_Strict):
    """Whether to download new releases first, and how hard to retry a flaky publisher."""

    enabled: bool = False
    retries: int = Field(default=3, ge=0, le=10)
    retry_delay_seconds: tuple[float, ...] = (30.0, 120.0, 600.0)


class PublishGuardConfig(_Strict):
    """Which marts must not shrink, and by how much they may."""

    source_fed_marts: tuple[str, ...] = SOURCE_FED_MARTS
    min_row_share: float = Field(default=0.95, gt=0.0, le=1.0)


class StandingStudy(_Strict):
    """One study the nightly refresh keeps up to date (spec path relative to the config file)."""

    spec: Path
    workers: int | None = Field(default=None, ge=1)


class NightlyConfig(_Strict):
    """The parsed ``studies/nightly.toml``."""

    schedule: ScheduleConfig = ScheduleConfig()
    fetch: FetchConfig = FetchConfig()
    publish_guard: PublishGuardConfig = PublishGuardConfig()
    studies: tuple[StandingStudy, ...] = ()


def _problems(error: ValidationError) -> list[str]:
    return [
        f"  {'.'.join(str(part) for part in item['loc']) or '(top level)'}: "
        + (
            "unknown key"
            if item["type"] == "extra_forbidden"
            else item["msg"].removeprefix("Value error, ")
        )
        for item in error.errors()
    ]


def load_nightly_config(path: Path) -> NightlyConfig:
    """Read and validate the nightly config; study spec paths come back absolute and existing."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise NightlyConfigError(f"{path}: cannot read nightly config ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise NightlyConfigError(f"{path}: not UTF-8 text ({error.reason})") from None
    except tomllib.TOMLDecodeError as error:
        raise NightlyConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        config = NightlyConfig.model_validate(data)
    except ValidationError as error:
        raise NightlyConfigError(
            f"{path}: invalid nightly config\n" + "\n".join(_problems(error))
        ) from None
    studies = []
    for index, study in enumerate(config.studies):
        spec = study.spec if study.spec.is_absolute() else (path.parent / study.spec).resolve()
        if not spec.is_file():
            raise NightlyConfigError(f"{path}: studies[{index}].spec: {spec} does not exist")
        studies.append(study.model_copy(update={"spec": spec}))
    names = [study.spec.name for study in studies]
    if len(set(names)) != len(names):
        raise NightlyConfigError(f"{path}: studies: the same spec file is listed twice")
    return config.model_copy(update={"studies": tuple(studies)})


def validated_schedule(cron: str, timezone: str) -> ScheduleConfig:
    """A schedule from command-line values, with the config file's error style."""
    try:
        return ScheduleConfig(cron=cron, timezone=timezone)
    except ValidationError as error:
        problems = "; ".join(
            f"{item['loc'][0]}: {item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        )
        raise NightlyConfigError(f"invalid schedule: {problems}") from None


class NightlySettings(BaseModel):
    """Typed parameters of one nightly run (JSON-ready: they travel with the deployment)."""

    model_config = ConfigDict(frozen=True)

    home: Path
    sources: Path
    forecast_cache: Path | None = None  # MIGSYS_FORECAST_CACHE (default: MIGSYS_HOME/forecasts)
    # Whether MIGSYS_SOURCES was set by the operator: then a missing or empty folder is an
    # error (unmounted volume), not the cue to use the embedded data.
    sources_explicit: bool = False
    config_file: Path = DEFAULT_NIGHTLY_CONFIG
    rerun_studies: bool = False
    fetch: bool | None = None  # None: as the config file says
    lock_wait_seconds: float = Field(default=0.0, ge=0.0)
    workers: int | None = Field(default=None, ge=1)
    scheduler: str | None = None  # tcp://host:8786 of an existing Dask cluster
    report_date: dt.date | None = None
    rebuild: bool = False  # rebuild even when every input of the warehouse is unchanged
    allow_shrink: bool = False  # publish even if sources or mart rows are lost (logged)
    use_embedded: bool = False  # replace a warehouse built from source files by embedded data
    dbt_project: Path = DBT_PROJECT_DIR  # the dbt project that builds the warehouse

    @classmethod
    def from_paths(cls, paths: MigsysPaths, **overrides: Any) -> NightlySettings:
        return cls(
            home=paths.home, sources=paths.sources, forecast_cache=paths.forecast_cache, **overrides
        )

    @property
    def paths(self) -> MigsysPaths:
        return MigsysPaths(home=self.home, sources=self.sources, forecast_cache=self.forecast_cache)

    def guard_policy(self, config: NightlyConfig) -> GuardPolicy:
        return GuardPolicy(
            source_fed_marts=config.publish_guard.source_fed_marts,
            min_row_share=config.publish_guard.min_row_share,
            allow_shrink=self.allow_shrink,
            use_embedded=self.use_embedded,
        )
