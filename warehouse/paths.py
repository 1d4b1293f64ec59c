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

from pydantic import BaseModel, ConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PACKAGE_ROOT / "dbt_project"
STUDIES_DIR = PACKAGE_ROOT / "studies"


class MigsysPaths(BaseModel):
    """Resolved locations of the published warehouse, builds, sweeps, reports and sources."""

    model_config = ConfigDict(frozen=True)

    home: Path
    sources: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> MigsysPaths:
        env = os.environ if environ is None else environ
        home = Path(env.get("MIGSYS_HOME") or "var")
        sources = Path(env.get("MIGSYS_SOURCES") or Path("data") / "sources")
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
    def logs(self) -> Path:
        """Full logs of refreshes and dbt (the console shows one line per step)."""
        return self.home / "logs"

    @property
    def state(self) -> Path:
        """Small bookkeeping files (locks, last-run fingerprints)."""
        return self.home / "state"
