"""What migsys takes from the environment, read once by an entry point and passed down.

The entry points (the ``migsys`` commands, ``python -m migsys.bench``, ``migsys.connect()``)
build one ``MigsysSettings`` with :meth:`MigsysSettings.from_env`; everything below them takes
paths, limits and URLs as arguments and never reads or writes ``os.environ``. The variables:

======================================  =====================================================
``MIGSYS_HOME``, ``MIGSYS_SOURCES``,    where things are (``warehouse.paths.MigsysPaths``,
``MIGSYS_FORECAST_CACHE``               which also reads ``MIGSYS_HOME/migsys.toml``)
``MIGSYS_MAX_SCENARIOS``                the largest study ``migsys sweep run`` accepts
``MIGSYS_PREFECT_URL``                  a Prefect API to report to when it answers
``PREFECT_API_URL``, ``PREFECT_HOME``   Prefect's own, when the operator set them
``PATH``                                how the closing block of a refresh names ``migsys``
======================================  =====================================================

(A pydantic ``BaseModel`` rather than pydantic-settings' ``BaseSettings``: the paths already have
their one reader, ``MigsysPaths.from_env``, with the home's config file and the provenance of the
sources folder, and ``BaseSettings`` reads only the process environment, while entry points and
tests hand over a mapping.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from migsys.warehouse.paths import MigsysPaths

MAX_SCENARIOS_VARIABLE = "MIGSYS_MAX_SCENARIOS"


class SettingsError(ValueError):
    """An environment variable migsys reads breaks its rule; the message names it."""


class MigsysSettings(BaseModel):
    """The environment of one migsys process, typed."""

    model_config = ConfigDict(frozen=True)

    paths: MigsysPaths
    max_scenarios: int | None = Field(default=None, ge=1)  # None: the sweep engine's default
    prefect_server_url: str | None = None  # MIGSYS_PREFECT_URL
    prefect_api_url: str | None = None  # PREFECT_API_URL
    prefect_home: Path | None = None  # PREFECT_HOME
    search_path: str = ""  # PATH

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MigsysSettings:
        """The settings ``environ`` (default: this process's environment) gives.

        Raises ``warehouse.paths.HomeConfigError`` for an unreadable ``MIGSYS_HOME/migsys.toml``
        and ``SettingsError`` for a variable that breaks its rule.
        """
        env = dict(os.environ) if environ is None else environ
        return cls(
            paths=MigsysPaths.from_env(env),
            max_scenarios=_max_scenarios(env.get(MAX_SCENARIOS_VARIABLE)),
            prefect_server_url=env.get("MIGSYS_PREFECT_URL") or None,
            prefect_api_url=env.get("PREFECT_API_URL") or None,
            prefect_home=Path(env["PREFECT_HOME"]) if env.get("PREFECT_HOME") else None,
            search_path=env.get("PATH", ""),
        )


def _max_scenarios(text: str | None) -> int | None:
    """``MIGSYS_MAX_SCENARIOS`` as a number (``20_000_000`` and ``20,000,000`` read as written)."""
    if not text:
        return None
    digits = text.replace("_", "").replace(",", "")
    if not digits.isdigit() or int(digits) < 1:
        raise SettingsError(f"{MAX_SCENARIOS_VARIABLE}={text!r}: must be a positive whole number")
    return int(digits)
