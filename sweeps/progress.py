"""A rich progress bar for a running study: chunks, scenarios, scenarios per second, ETA."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class StudyProgress:
    """Context manager; ``advance(n_scenarios)`` after each finished chunk."""

    def __init__(
        self,
        name: str,
        total_chunks: int,
        total_scenarios: int,
        dashboard: str | None,
        enabled: bool,
    ) -> None:
        self.console = Console(stderr=True)
        self.enabled = enabled
        self.dashboard = dashboard
        self.total_scenarios = total_scenarios
        self.scenarios = 0
        self.began = time.perf_counter()
        self.progress = Progress(
            TextColumn(f"[bold]{name}[/bold] chunks"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[scenarios]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not enabled,
        )
        self.task = self.progress.add_task(
            "chunks", total=total_chunks, scenarios=self._scenarios_text(), rate=""
        )

    def _scenarios_text(self) -> str:
        return f"{self.scenarios:,}/{self.total_scenarios:,} scenarios"

    def __enter__(self) -> StudyProgress:
        if self.enabled and self.dashboard:
            self.console.print(f"Dask dashboard: {self.dashboard}")
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def advance(self, scenarios: int) -> None:
        self.scenarios += scenarios
        rate = self.scenarios / max(time.perf_counter() - self.began, 1e-9)
        self.progress.update(
            self.task, advance=1, scenarios=self._scenarios_text(), rate=f"{rate:,.0f} scen/s"
        )
