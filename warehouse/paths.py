"""Where migsys keeps things on disk.

Everything generated lives under ``MIGSYS_HOME`` (default ``./var``, relative to the working
directory); source files live under ``MIGSYS_SOURCES`` (default ``./data/sources``). Entry points
build one ``MigsysPaths`` from the environment and pass it down; library code never reads the
environment itself.

``PACKAGE_ROOT`` is the folder that holds the installed packages' folders: the checkout in an
editable install (``flows/``, ``warehouse/``, ``dbt_project/`` …), ``site-packages/migsys`` in a
wheel install. The dbt project and the standing studies ship inside it, so both layouts find them
the same way; nothing is ever written there.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PACKAGE_ROOT / "dbt_project"
STUDIES_DIR = PACKAGE_ROOT / "studies"


def _forecast_cache_from_env(env) -> Path | None:
    cache = env.get("MIGSYS_FORECAST_CACHE")
    return Path(cache).resolve() if cache else None


def notebook_home(environ: dict[str, str], cwd: Path) -> Path:
    """The MIGSYS_HOME of ``migsys.connect()`` and ``migsys.study()``, wherever Python runs.

    ``MIGSYS_HOME`` when set (relative to ``cwd``). Otherwise the first ``var`` folder holding a
    published warehouse in ``cwd`` or a folder above it (a notebook opened in ``docs/`` finds
    the repository's ``var``), then the checkout the package runs from (an editable install);
    else ``cwd/var``, which the caller's error then names.
    """
    if environ.get("MIGSYS_HOME"):
        return (cwd / environ["MIGSYS_HOME"]).resolve()
    cwd = cwd.resolve()
    for folder in (cwd, *cwd.parents, PACKAGE_ROOT):
        if (folder / "var" / "warehouse.duckdb").is_file():
            return folder / "var"
    return cwd / "var"


class MigsysPaths(BaseModel):
    """Resolved locations of the published warehouse, builds, sweeps, reports and sources."""

    model_config = ConfigDict(frozen=True)

    home: Path
    sources: Path
    # Computed forecast evaluations, keyed by the fingerprint of their inputs and code; homes
    # that refresh the same data (a team's test and production homes, a test session) may share it.
    # Read from MIGSYS_FORECAST_CACHE when not given, however the paths are made.
    forecast_cache: Path | None = Field(
        default_factory=lambda: _forecast_cache_from_env(os.environ)
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> MigsysPaths:
        env = os.environ if environ is None else environ
        home = Path(env.get("MIGSYS_HOME") or "var")
        sources = Path(env.get("MIGSYS_SOURCES") or Path("data") / "sources")
        return cls(
            home=home.resolve(),
            sources=sources.resolve(),
            forecast_cache=_forecast_cache_from_env(env),
        )

    @property
    def warehouse(self) -> Path:
        """The published warehouse analysts read."""
        return self.home / "warehouse.duckdb"

    @property
    def builds(self) -> Path:
        return self.home / "builds"

    @property
    def sweeps(self) -> Path:
        return self.home / "sweeps"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def docs(self) -> Path:
        """Static dbt docs published with the warehouse."""
        return self.home / "docs"

    @property
    def forecasts(self) -> Path:
        """Stored forecast evaluations (MIGSYS_FORECAST_CACHE, default MIGSYS_HOME/forecasts)."""
        return self.forecast_cache or self.home / "forecasts"

    @property
    def bench(self) -> Path:
        return self.home / "bench"

    @property
    def logs(self) -> Path:
        """Full logs of refreshes and dbt (the console shows one line per step)."""
        return self.home / "logs"

    @property
    def state(self) -> Path:
        """Small bookkeeping files (locks, last-run fingerprints)."""
        return self.home / "state"
