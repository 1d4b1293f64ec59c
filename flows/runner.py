"""How the refresh's composition calls a step: plainly, or as a Prefect task.

``refresh_pipeline`` calls ``step(name, fn, *args)`` for every step. ``PlainSteps`` calls ``fn``;
``PrefectSteps`` runs it as a Prefect task of that name (retries on the task, the run summary and
dbt's node results posted as artifacts). Both time every step, name the failed step in any error,
and tell the ``Reporter`` (the console of ``migsys refresh``: one line per step, a progress bar
for dbt) what happens.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from migsys.warehouse.dbt_runner import DbtEvent, DbtInterrupted, DbtReport
from migsys.warehouse.guard import PublishRefused
from migsys.warehouse.publish import RefreshFailed

log = logging.getLogger("migsys.refresh")

SUMMARY_ARTIFACT_KEY = "nightly-refresh-summary"
DBT_NODES_ARTIFACT_KEY = "nightly-dbt-nodes"


class Reporter(Protocol):
    """Where progress goes: the log by default, the console under ``migsys refresh``."""

    def step_started(self, name: str) -> None: ...
    def step_finished(self, name: str, seconds: float, ok: bool) -> None: ...
    def note(self, text: str) -> None: ...
    def dbt_node(self, event: DbtEvent) -> None: ...


class LogReporter:
    """Progress into the ``migsys.refresh`` log only."""

    def step_started(self, name: str) -> None:
        log.info("%s ...", name)

    def step_finished(self, name: str, seconds: float, ok: bool) -> None:
        log.info("%s %s in %.1f s", name, "done" if ok else "FAILED", seconds)

    def note(self, text: str) -> None:
        log.info("%s", text)

    def dbt_node(self, event: DbtEvent) -> None:
        log.debug("dbt %d/%d %s %s", event.done, event.total, event.unique_id, event.status)


_reporter: Reporter = LogReporter()


def use_reporter(reporter: Reporter) -> None:
    """Send this process's refresh progress to ``reporter`` (the CLI sets its console)."""
    global _reporter
    _reporter = reporter


class StepRunner:
    """Calls steps, times them and names the failed one; subclasses decide how to call."""

    def __init__(self, reporter: Reporter | None = None) -> None:
        self.reporter = reporter or _reporter
        self.seconds: dict[str, float] = {}

    def __call__(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        retries: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Run one step. ``retries`` (an object with ``retries`` and ``retry_delay_seconds``)
        retries a flaky step such as the fetch."""
        self.reporter.step_started(name)
        start, ok = time.perf_counter(), False
        try:
            result = self.invoke(name, fn, args, kwargs, retries)
            ok = True
            return result
        except (RefreshFailed, DbtInterrupted, KeyboardInterrupt):
            raise
        except PublishRefused as error:
            raise RefreshFailed(name, str(error)) from error
        except Exception as error:
            raise RefreshFailed(name, f"{type(error).__name__}: {error}") from error
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[name] = round(self.seconds.get(name, 0.0) + elapsed, 3)
            self.reporter.step_finished(name, elapsed, ok)

    def begin(self, paths) -> None:
        """The run starts (Prefect's runner notes the server it started, for kill -9 cleanup)."""

    def invoke(self, name, fn, args, kwargs, retries) -> Any:
        attempts = 1 + (retries.retries if retries else 0)
        delays = list(retries.retry_delay_seconds) if retries else []
        for attempt in range(attempts):
            try:
                return fn(*args, **kwargs)
            except Exception as error:
                if attempt + 1 == attempts:
                    raise
                delay = delays[min(attempt, len(delays) - 1)] if delays else 0.0
                self.note(f"{name} failed ({error}); retry {attempt + 1} in {delay:g} s")
                time.sleep(delay)
        raise AssertionError("unreachable")

    def dbt(self, build, paths) -> DbtReport:
        """The main dbt build (everything but the forecast marts), the forecast step (rolling-
        origin skill and forecasts, reused when their inputs are unchanged), then the forecast
        marts; node progress throughout, one merged report."""
        from migsys.flows.steps import FORECAST_SELECTOR, dbt_build_step
        from migsys.projections.forecast_refresh import refresh_forecasts

        main = self(
            "dbt build",
            dbt_build_step,
            build,
            paths,
            exclude=FORECAST_SELECTOR,
            on_node=self.reporter.dbt_node,
        )
        forecasts = self("forecasts", refresh_forecasts, build.database, paths.forecasts)
        self.note(forecasts.summary)
        marts = self(
            "dbt build (forecasts)",
            dbt_build_step,
            build,
            paths,
            select=FORECAST_SELECTOR,
            on_node=self.reporter.dbt_node,
        )
        merged = dataclasses.replace(
            main, nodes=[*main.nodes, *marts.nodes], seconds=main.seconds + marts.seconds
        )
        for node in merged.warned:  # plausibility warnings: the rows a reviewer should look at
            self.note(f"dbt warning: {node.describe()}")
        return merged

    def note(self, text: str) -> None:
        self.reporter.note(text)

    def artifacts(self, summary: dict[str, Any], dbt: DbtReport | None) -> None:
        """Post the run summary where operators look (nothing to do without Prefect)."""


class PlainSteps(StepRunner):
    """Steps as plain function calls."""


class PrefectSteps(StepRunner):
    """Steps as Prefect tasks of the running flow."""

    flow_run_url: str | None = None

    def begin(self, paths) -> None:
        from prefect.runtime import flow_run

        from migsys.flows.runtime import record_ephemeral_server

        record_ephemeral_server(paths)
        api_url = os.environ.get("PREFECT_API_URL")
        if api_url and flow_run.id:  # a server with a UI (the ephemeral API has none)
            self.flow_run_url = f"{api_url.removesuffix('/api')}/runs/flow-run/{flow_run.id}"
            self.note(f"flow run: {self.flow_run_url}")

    def invoke(self, name, fn, args, kwargs, retries) -> Any:
        from prefect import task
        from prefect.cache_policies import NO_CACHE

        options: dict[str, Any] = {"name": name, "cache_policy": NO_CACHE}
        if retries:
            options["retries"] = retries.retries
            options["retry_delay_seconds"] = list(retries.retry_delay_seconds)
        return task(fn, **options)(*args, **kwargs)

    def note(self, text: str) -> None:
        from prefect import get_run_logger

        super().note(text)
        get_run_logger().info("%s", text)

    def artifacts(self, summary: dict[str, Any], dbt: DbtReport | None) -> None:
        from prefect.artifacts import create_markdown_artifact, create_table_artifact

        from migsys.flows.steps import summary_markdown

        create_markdown_artifact(
            markdown=summary_markdown(summary),
            key=SUMMARY_ARTIFACT_KEY,
            description="Nightly refresh summary",
        )
        if dbt is not None:
            create_table_artifact(
                table=[
                    {
                        "node": node.name,
                        "type": node.resource_type,
                        "layer": node.layer,
                        "status": node.status,
                        "seconds": round(node.seconds, 3),
                        "failures": node.failures,
                        "parents": ", ".join(p.split(".", 2)[-1] for p in node.parents),
                    }
                    for node in dbt.nodes
                ],
                key=DBT_NODES_ARTIFACT_KEY,
                description="dbt build: every node with its layer, status, time and parents",
            )
