"""The nightly refresh as a Prefect flow: the composition of ``flows.pipeline`` with every step a
task, the run summary and dbt's node results as artifacts.

``migsys refresh``, ``migsys serve`` (on a cron schedule), ``migsys calibrate --publish``, the
bench and the test fixtures all run this flow.
"""

from __future__ import annotations

from prefect import flow

from migsys.flows.config import NightlySettings, validated_schedule
from migsys.flows.pipeline import NightlyResult, refresh_pipeline
from migsys.flows.runner import PrefectSteps, Reporter


@flow(name="nightly-refresh", log_prints=False, validate_parameters=False)
def nightly_refresh(settings: NightlySettings, reporter: Reporter | None = None) -> NightlyResult:
    """The nightly refresh under Prefect: every step a task, the summary an artifact.

    ``reporter`` shows the progress (``migsys refresh`` passes its console); a served run has
    none and logs it.
    """
    return refresh_pipeline(settings, PrefectSteps(reporter))


def run_nightly(settings: NightlySettings, reporter: Reporter | None = None) -> NightlyResult:
    """Run the nightly flow in this process (the API Prefect is configured with, else ephemeral).

    Raises ``RefreshFailed`` (step and reason), ``RefreshInProgress`` or ``NightlyConfigError``.
    """
    return nightly_refresh(settings, reporter)


def nightly_deployment(
    settings: NightlySettings, *, cron: str, timezone: str, name: str = "nightly"
):
    """The served deployment of ``nightly_refresh`` on a cron schedule (one run at a time)."""
    from prefect.schedules import Cron

    schedule = validated_schedule(cron, timezone)
    return nightly_refresh.to_deployment(
        name=name,
        schedule=Cron(schedule.cron, timezone=schedule.timezone),
        parameters={"settings": settings.model_dump(mode="json")},
        concurrency_limit=1,
        description="Fetch, rebuild and test the warehouse, refresh standing studies, publish, report.",
        tags=["migsys", "nightly"],
    )
