"""The shape of one metric in ``MIGSYS_HOME/bench/latest.json``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def metric(
    value: float, unit: str, target: float | None = None, higher_is_better: bool = True
) -> dict:
    """One entry of latest.json: ``{"value", "unit", "target", "higher_is_better"}``."""
    return {
        "value": float(value),
        "unit": unit,
        "target": None if target is None else float(target),
        "higher_is_better": bool(higher_is_better),
    }


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time in seconds of ``repeats`` calls (the least disturbed by the other core)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def no_studies_config(paths) -> Path:
    """A nightly config without standing studies (the warehouse alone), under ``paths.home``."""
    from pathlib import Path

    config = Path(paths.home) / "nightly-no-studies.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[schedule]\ncron = '0 2 * * *'\n", encoding="utf-8")
    return config
