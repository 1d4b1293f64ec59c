"""What orchestration costs, and how fast a refresh stops.

- ``refresh.seconds.cold``: `migsys refresh` (the Prefect flow) in a fresh process on a fresh
  MIGSYS_HOME, start-up included (median of 3);
- ``refresh.seconds.plain``: the same composition of the same steps called plainly
  (``flows.pipeline.run_plain``), also in a fresh process on a fresh home (median of 3, the runs
  interleaved with the flow's so that both see the same machine);
- ``refresh.prefect_overhead_ratio``: cold ÷ plain (target ≤ 1.5);
- ``refresh.seconds.warm``: the flow again on unchanged inputs (the published build is kept);
- ``refresh.interrupt_seconds``: from Ctrl-C (SIGINT to the process group) while dbt builds to
  the end of the process (target ≤ 10).

Both sides run the warehouse alone (no standing study: bench/sweeps.py measures those). Prefect's
database lives in one folder for the whole bench, created by an uncounted first run, as it does
on a machine that refreshes every night.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from migsys.bench.common import metric, no_studies_config
from migsys.warehouse.dbt_runner import WORKER_MODULE
from migsys.warehouse.paths import MigsysPaths

RATIO_TARGET = 1.5
INTERRUPT_TARGET_SECONDS = 10.0
REPEATS = 3

PLAIN_SCRIPT = """
import sys
from pathlib import Path
from migsys.flows.config import NightlySettings
from migsys.flows.pipeline import run_plain
from migsys.warehouse.paths import MigsysPaths
paths = MigsysPaths(home=Path(sys.argv[1]), sources=Path(sys.argv[2]))
run_plain(NightlySettings.from_paths(paths, config_file=Path(sys.argv[3])))
"""


def _environment(prefect_home: Path, home: Path, sources: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "MIGSYS_HOME": str(home),
        "MIGSYS_SOURCES": str(sources),
        "MIGSYS_PREFECT_URL": "http://127.0.0.1:9/api",  # never a developer's server
    }
    env.pop("PREFECT_API_URL", None)
    env.pop("MIGSYS_FORECAST_CACHE", None)  # cold: every run evaluates its forecasts
    return env


def _timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def _migsys() -> str:
    return shutil.which("migsys", path=str(Path(sys.executable).parent)) or "migsys"


def _flow(root: Path, name: str, sources: Path, config: Path, *extra: str) -> float:
    home = root / name
    env = _environment(root / "prefect", home, sources)
    return _timed([_migsys(), "refresh", "--config", str(config), *extra], env)


def _plain(root: Path, name: str, sources: Path, config: Path) -> float:
    home = root / name
    env = _environment(root / "prefect", home, sources)
    return _timed([sys.executable, "-c", PLAIN_SCRIPT, str(home), str(sources), str(config)], env)


def _interrupt_seconds(root: Path, name: str, sources: Path, config: Path) -> float:
    """Seconds from SIGINT to the process group (a terminal's Ctrl-C) to the end of the run."""
    env = _environment(root / "prefect", root / name, sources)
    process = subprocess.Popen(
        [_migsys(), "refresh", "--rebuild", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    me = psutil.Process(process.pid)
    deadline = time.monotonic() + 600
    while not any(
        WORKER_MODULE in " ".join(child.cmdline()) for child in me.children(recursive=True)
    ):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the refresh ended before dbt started: nothing to interrupt")
        time.sleep(0.1)
    time.sleep(2.0)  # dbt is busy
    start = time.perf_counter()
    os.killpg(process.pid, signal.SIGINT)
    process.wait()
    return time.perf_counter() - start


def collect(settings) -> dict[str, dict]:
    env_paths = settings.paths
    env_paths.bench.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=env_paths.bench) as tmp:
        root = Path(tmp)
        sources = env_paths.sources
        config = no_studies_config(MigsysPaths(home=root, sources=sources))
        _flow(root, "warm-up", sources, config)  # creates Prefect's database: not counted
        plain, cold = [], []
        for i in range(REPEATS):
            plain.append(_plain(root, f"plain-{i}", sources, config))
            cold.append(_flow(root, f"flow-{i}", sources, config))
        warm = _flow(root, f"flow-{REPEATS - 1}", sources, config)
        interrupt = _interrupt_seconds(root, f"flow-{REPEATS - 1}", sources, config)
    cold_median, plain_median = statistics.median(cold), statistics.median(plain)
    return {
        "refresh.seconds.cold": metric(cold_median, "s", None, False),
        "refresh.seconds.plain": metric(plain_median, "s", None, False),
        "refresh.prefect_overhead_ratio": metric(
            cold_median / plain_median, "ratio", RATIO_TARGET, False
        ),
        "refresh.seconds.warm": metric(warm, "s", None, False),
        "refresh.interrupt_seconds": metric(interrupt, "s", INTERRUPT_TARGET_SECONDS, False),
    }
