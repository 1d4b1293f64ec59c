"""How the refresh's composition calls a step: plainly, or as a Prefect task.

A step is declared once as a ``Step`` (``flows.pipeline`` lists them): its name, the plain function
that does it, and its retries in the words of Prefect's ``@task(retries=...,
retry_delay_seconds=[...])``. ``refresh_pipeline`` calls ``step(STEP, *args)`` for each.
``PrefectSteps`` runs it as the Prefect task that declaration makes, wrapped once per process
(Prefect retries it); ``PlainSteps`` calls the function and honours the same retries. Both time
every step, name the failed step in any error, and tell their ``Reporter`` (the console of
``migsys refresh``: one line per step, a progress bar for dbt; the log otherwise) what happens.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from migsys.warehouse.dbt_runner import DbtEvent, DbtInterrupted, DbtReport
from migsys.warehouse.guard import PublishRefused
from migsys.warehouse.publish import RefreshFailed

log = logging.getLogger("migsys.refresh")

SUMMARY_ARTIFACT_KEY = "nightly-refresh-summary"
DBT_NODES_ARTIFACT_KEY = "nightly-dbt-nodes"


@dataclass(frozen=True)
class Step:
    """One step of the refresh, declared once: what Prefect's ``task(fn, name=..., retries=...,
    retry_delay_seconds=[...])`` gets, and what the plain runner honours the same way."""

    name: str
    fn: Callable[..., Any]
    retries: int = 0
    retry_delay_seconds: tuple[float, ...] = ()

    def named(self, name: str) -> Step:
        """The same step under another name (one per standing study: ``plan <study>``)."""
        return dataclasses.replace(self, name=name)

    def with_retries(self, retries: int, retry_delay_seconds: Sequence[float]) -> Step:
        """The same step with the retries a run's configuration asks for (the fetch's)."""
        return dataclasses.replace(
            self, retries=retries, retry_delay_seconds=tuple(retry_delay_seconds)
        )

    def delay_before(self, retry: int) -> float:
        """Seconds before retry ``retry`` (1-based): the last delay repeats, as in Prefect."""
        delays = self.retry_delay_seconds
        return delays[min(retry, len(delays)) - 1] if delays else 0.0


class Reporter:
    """Where progress goes: the log by default, the console under ``migsys refresh``.

    A class rather than a Protocol: it is a parameter of the Prefect flow, whose schema needs a
    type it can check with ``isinstance``.
    """

    def step_started(self, name: str) -> None: ...
    def step_finished(self, name: str, seconds: float, ok: bool) -> None: ...
    def note(self, text: str) -> None: ...
    def dbt_node(self, event: DbtEvent) -> None: ...


class LogReporter(Reporter):
    """Progress into the ``migsys.refresh`` log only."""

    def step_started(self, name: str) -> None:
        log.info("%s ...", name)

    def step_finished(self, name: str, seconds: float, ok: bool) -> None:
        log.info("%s %s in %.1f s", name, "done" if ok else "FAILED", seconds)

    def note(self, text: str) -> None:
        log.info("%s", text)

    def dbt_node(self, event: DbtEvent) -> None:
        log.debug("dbt %d/%d %s %s", event.done, event.total, event.unique_id, event.status)


class StepRunner:
    """Calls steps, times them and names the failed one; subclasses decide how to call."""

    def __init__(self, reporter: Reporter | None = None) -> None:
        self.reporter: Reporter = reporter or LogReporter()
        self.seconds: dict[str, float] = {}

    def __call__(self, step: Step, *args: Any, **kwargs: Any) -> Any:
        """Run one step with these arguments; its result, or ``RefreshFailed`` naming it."""
        self.reporter.step_started(step.name)
        start, ok = time.perf_counter(), False
        try:
            result = self.invoke(step, args, kwargs)
            ok = True
            return result
        except (RefreshFailed, DbtInterrupted, KeyboardInterrupt):
            raise
        except PublishRefused as error:
            raise RefreshFailed(step.name, str(error)) from error
        except Exception as error:
            raise RefreshFailed(step.name, f"{type(error).__name__}: {error}") from error
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[step.name] = round(self.seconds.get(step.name, 0.0) + elapsed, 3)
            self.reporter.step_finished(step.name, elapsed, ok)

    def begin(self, paths) -> None:
        """The run starts (Prefect's runner notes the server it started, for kill -9 cleanup)."""

    def invoke(self, step: Step, args: tuple, kwargs: dict) -> Any:
        raise NotImplementedError

    def note(self, text: str) -> None:
        self.reporter.note(text)

    def artifacts(self, summary: dict[str, Any], dbt: DbtReport | None) -> None:
        """Post the run summary where operators look (nothing to do without Prefect)."""


class PlainSteps(StepRunner):
    """Steps as plain function calls (no Prefect at all: the bench's yardstick), retried as their
    declaration says."""

    def invoke(self, step: Step, args: tuple, kwargs: dict) -> Any:
        for retry in range(1, step.retries + 1):
            try:
                return step.fn(*args, **kwargs)
            except Exception as error:
                delay = step.delay_before(retry)
                self.note(f"{step.name} failed ({error}); retry {retry} in {delay:g} s")
                time.sleep(delay)
        return step.fn(*args, **kwargs)  # the last attempt: its error is the step's


@functools.cache
def as_task(step: Step):
    """The Prefect task of a step declaration, made once per process and declaration."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    return task(
        step.fn,
        name=step.name,
        retries=step.retries,
        retry_delay_seconds=list(step.retry_delay_seconds) or 0,
        cache_policy=NO_CACHE,  # the arguments are paths and builds: nothing to cache on
    )


class PrefectSteps(StepRunner):
    """Steps as Prefect tasks of the running flow."""

    flow_run_url: str | None = None

    def begin(self, paths) -> None:
        from prefect.runtime import flow_run
        from prefect.settings import PREFECT_API_URL

        from migsys.flows.runtime import record_ephemeral_server

        record_ephemeral_server(paths)
        api_url = PREFECT_API_URL.value()
        if api_url and flow_run.id:  # a server with a UI (the ephemeral API has none)
            self.flow_run_url = f"{api_url.removesuffix('/api')}/runs/flow-run/{flow_run.id}"
            self.note(f"flow run: {self.flow_run_url}")

    def invoke(self, step: Step, args: tuple, kwargs: dict) -> Any:
        return as_task(step)(*args, **kwargs)

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
