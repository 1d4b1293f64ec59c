"""Where migsys keeps things on disk.

Everything generated lives under ``MIGSYS_HOME`` (default ``./var``, relative to the working
directory); source files live under ``MIGSYS_SOURCES``, else the folder the home's config file
names (``MIGSYS_HOME/migsys.toml``: ``sources = "/data/migsys"``, set once, or written by the
first refresh that used ``MIGSYS_SOURCES``), else ``./data/sources``. Entry points build one
``MigsysPaths`` from the environment and pass it down; library code never reads the
environment itself.

``PACKAGE_ROOT`` is the folder that holds the installed packages' folders: the checkout in an
editable install (``flows/``, ``warehouse/``, ``dbt_project/`` …), ``site-packages/migsys`` in a
wheel install. The dbt project and the standing studies ship inside it, so both layouts find them
the same way; nothing is ever written there.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from migsys.warehouse.files import atomic_write_text

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PACKAGE_ROOT / "dbt_project"
STUDIES_DIR = PACKAGE_ROOT / "studies"


def _forecast_cache_from_env(env) -> Path | None:
    cache = env.get("MIGSYS_FORECAST_CACHE")
    return Path(cache).resolve() if cache else None


HOME_CONFIG = "migsys.toml"


class HomeConfigError(ValueError):
    """``MIGSYS_HOME/migsys.toml`` cannot be read; the message names the file and the key."""


def configured_sources(home: Path) -> Path | None:
    """The sources folder ``home/migsys.toml`` names (relative paths: to the home), or None."""
    config = home / HOME_CONFIG
    if not config.is_file():
        return None
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise HomeConfigError(f"{config}: cannot read it ({error})") from None
    unknown = sorted(set(data) - {"sources"})
    if unknown:
        raise HomeConfigError(f"{config}: unknown key {unknown[0]!r} (it knows: sources)")
    if "sources" not in data:
        return None
    if not isinstance(data["sources"], str) or not data["sources"]:
        raise HomeConfigError(f'{config}: sources must be a folder path, e.g. sources = "/data"')
    return (home / data["sources"]).resolve()


def remember_sources(home: Path, sources: Path) -> Path | None:
    """Write ``home/migsys.toml`` naming ``sources`` unless it exists; returns it if written."""
    config = home / HOME_CONFIG
    if config.exists():
        return None
    atomic_write_text(
        config,
        "# Written by the first `migsys refresh` that used MIGSYS_SOURCES: the folder of source\n"
        "# files this home is refreshed from. MIGSYS_SOURCES, when set, still wins.\n"
        f"sources = {json.dumps(str(sources.resolve()))}\n",  # a JSON string is a TOML string
    )
    return config


def notebook_home(environ: Mapping[str, str], cwd: Path) -> Path:
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
    # that refresh the same data (a team's test and production homes, a test session) may share it
    # (MIGSYS_FORECAST_CACHE, read by ``from_env``). None: ``MIGSYS_HOME/forecasts``.
    forecast_cache: Path | None = None

    # Where ``sources`` came from: MIGSYS_SOURCES, the home's migsys.toml, or the default
    # ./data/sources. Only the default may silently fall back to the embedded snapshot.
    sources_from: Literal["environment", "config", "default"] = "default"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MigsysPaths:
        """The paths the environment ``env`` gives (an entry point's; see migsys.settings)."""
        home = Path(env.get("MIGSYS_HOME") or "var").resolve()
        if env.get("MIGSYS_SOURCES"):
            sources, origin = Path(env["MIGSYS_SOURCES"]).resolve(), "environment"
        else:
            configured = configured_sources(home)
            sources = configured or (Path("data") / "sources").resolve()
            origin = "config" if configured else "default"
        return cls(
            home=home,
            sources=sources,
            forecast_cache=_forecast_cache_from_env(env),
            sources_from=origin,
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
