"""Run the dbt project against one build file, in-process, and summarise what happened.

The DuckDB path reaches ``dbt_project/profiles.yml`` through ``MIGSYS_DBT_PATH``; the target and log
folders live inside the build so that concurrent or failed builds never share dbt's state.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from migsys.warehouse.paths import DBT_PROJECT_DIR

FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


@dataclass(frozen=True)
class DbtNodeResult:
    unique_id: str
    resource_type: str  # model | test | seed | ...
    status: str
    seconds: float
    message: str | None
    failures: int | None


@dataclass(frozen=True)
class DbtReport:
    command: str
    success: bool
    seconds: float
    nodes: list[DbtNodeResult] = field(default_factory=list)
    error: str | None = None

    def count(self, resource_type: str, status: str | None = None) -> int:
        return sum(
            1
            for n in self.nodes
            if n.resource_type == resource_type and (status is None or n.status == status)
        )

    @property
    def failed(self) -> list[DbtNodeResult]:
        return [n for n in self.nodes if n.status in FAILED_STATUSES]

    def seconds_by_type(self, resource_type: str) -> float:
        return sum(n.seconds for n in self.nodes if n.resource_type == resource_type)

    def describe_failures(self) -> str:
        if self.error:
            return self.error
        lines = [
            f"{n.resource_type} {n.unique_id}: {n.status}"
            + (f" ({n.failures} failing rows)" if n.failures else "")
            + (f": {n.message}" if n.message else "")
            for n in self.failed
        ]
        return "\n".join(lines) or "dbt reported failure without failed nodes"


class DbtFailed(RuntimeError):
    def __init__(self, report: DbtReport):
        self.report = report
        super().__init__(f"dbt {report.command} failed:\n{report.describe_failures()}")


def dbt_environment(database: Path) -> dict[str, str]:
    """Environment the dbt profile reads: the DuckDB file to build, and no telemetry."""
    return {
        "MIGSYS_DBT_PATH": str(database),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt_command_args(command: str, work_dir: Path, *extra: str) -> list[str]:
    """Arguments for ``dbt <command>`` on our project, with target/logs inside ``work_dir``."""
    return [
        *command.split(),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        *extra,
    ]


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """dbt reads env_var() from os.environ; set ours for the call only."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def node_results(result: object) -> list[DbtNodeResult]:
    nodes = []
    for r in getattr(result, "results", None) or []:
        node = r.node
        nodes.append(
            DbtNodeResult(
                unique_id=node.unique_id,
                resource_type=str(node.resource_type),
                status=str(r.status),
                seconds=float(r.execution_time or 0.0),
                message=r.message,
                failures=r.failures,
            )
        )
    return nodes


def run_dbt(command: str, database: Path, work_dir: Path, *extra: str) -> DbtReport:
    """Invoke dbt in-process; returns a report (never raises for dbt failures)."""
    from dbt.cli.main import dbtRunner

    args = dbt_command_args(command, work_dir, *extra)
    start = time.perf_counter()
    with patched_environ(dbt_environment(database)):
        outcome = dbtRunner().invoke(args)
    seconds = time.perf_counter() - start
    error = (
        None
        if outcome.exception is None
        else f"{type(outcome.exception).__name__}: {outcome.exception}"
    )
    return DbtReport(
        command=command,
        success=bool(outcome.success),
        seconds=seconds,
        nodes=node_results(outcome.result),
        error=error,
    )
