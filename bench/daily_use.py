"""What a newcomer waits for: `migsys -h`, and the first `migsys refresh` of a fresh clone.

- ``cli.help_seconds``: best of five `migsys -h` (a process: interpreter start-up, imports,
  help text). Target 0.5 s: help loads no Prefect, Dask, DuckDB or Arrow (tests/flows/
  test_cli_help.py checks the imports; the time is measured here, never in a test).
- ``refresh.first_run_embedded_seconds``: `migsys refresh` in an empty folder, exactly as on a
  fresh clone: no MIGSYS_HOME, no MIGSYS_SOURCES (the embedded snapshot), the shipped nightly
  config with its standing study, no forecast cache, Prefect's ephemeral API. Building `.venv`
  (`make venv`) is measured apart: it needs the package registries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from migsys.bench.common import metric

HELP_TARGET_SECONDS = 0.5
HELP_REPEATS = 5


def _migsys() -> str:
    return shutil.which("migsys", path=str(Path(sys.executable).parent)) or "migsys"


def _fresh_clone_environment(folder: Path) -> dict[str, str]:
    dropped = {
        "MIGSYS_HOME",
        "MIGSYS_SOURCES",
        "MIGSYS_FORECAST_CACHE",
        "PREFECT_API_URL",
        "MIGSYS_PREFECT_URL",
    }
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    env["PREFECT_HOME"] = str(folder / "prefect-home")
    return env


def help_seconds() -> float:
    best = float("inf")
    for _ in range(HELP_REPEATS):
        began = time.perf_counter()
        subprocess.run([_migsys(), "-h"], check=True, capture_output=True)
        best = min(best, time.perf_counter() - began)
    return best


def first_refresh_seconds() -> float:
    with tempfile.TemporaryDirectory(prefix="migsys-bench-first-run-") as folder:
        clone = Path(folder)
        began = time.perf_counter()
        subprocess.run(
            [_migsys(), "refresh"],
            cwd=clone,
            env=_fresh_clone_environment(clone),
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - began


def collect(settings) -> dict[str, dict]:
    return {
        "cli.help_seconds": metric(help_seconds(), "s", HELP_TARGET_SECONDS, False),
        "refresh.first_run_embedded_seconds": metric(first_refresh_seconds(), "s", None, False),
    }
