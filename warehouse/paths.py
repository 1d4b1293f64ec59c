"""Where migsys keeps things on disk.

Everything generated lives under ``MIGSYS_HOME`` (default ``./var``); source files live under
``MIGSYS_SOURCES`` (default ``./data/sources``). Entry points build one ``MigsysPaths`` from the
environment and pass it down; library code never reads the environment itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


class MigsysPaths(BaseModel):
    """Resolved locations of the published warehouse, builds, sweeps, reports and sources."""

    model_config = ConfigDict(frozen=True)

    home: Path
    sources: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> MigsysPaths:
        env = os.environ if environ is None else environ
        home = Path(env.get("MIGSYS_HOME", REPO_ROOT / "var"))
        sources = Path(env.get("MIGSYS_SOURCES", REPO_ROOT / "data" / "sources"))
        return cls(home=home.resolve(), sources=sources.resolve())

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
    def bench(self) -> Path:
        return self.home / "bench"

    @property
    def state(self) -> Path:
        """Small bookkeeping files (locks, last-run fingerprints)."""
        return self.home / "state"
