"""The ``migsys`` program: its process environment, then the command line.

Some libraries read their switches only from the environment, once, when they are imported:
Prefect's SDK its telemetry (``DO_NOT_TRACK``) and its console handler's level, Prefect's
ephemeral server its analytics and start-up timeout; dbt, a child process, gets its own
environment from ``warehouse.dbt_runner``. migsys writes ``os.environ`` nowhere: when one of
these is missing, the program starts itself again, in place (``os.execve``, the same process
id), with an environment that has it, before anything is imported. The operator's values win.

Under ``make``, Docker and the test suite every one is set already, so nothing is restarted.
"""

from __future__ import annotations

import os
import sys

PROCESS_ENVIRONMENT = {
    "DO_NOT_TRACK": "1",  # dbt and Prefect phone home unless told not to
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",  # a loaded 2-core machine
    # The console shows one line per step; Prefect's INFO lines go to its API and the log file.
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    "PREFECT_LOGGING_INTERNAL_LEVEL": "ERROR",  # Prefect's own client and server chatter
    # Prefect's ephemeral API server writes to our terminal; now and then a route's model, built
    # late, makes pydantic warn "The 'alias' attribute with value 'schedule' was provided to the
    # `Field()` function, which has no effect" about Prefect's code: nothing an operator can act on.
    "PYTHONWARNINGS": "ignore:The 'alias' attribute with value",
}


def program_environment(environ: dict[str, str]) -> dict[str, str] | None:
    """``environ`` completed with ``PROCESS_ENVIRONMENT``, or None when it lacks nothing."""
    missing = {name: value for name, value in PROCESS_ENVIRONMENT.items() if name not in environ}
    return {**environ, **missing} if missing else None


def main() -> None:
    """Run ``migsys`` with its process environment (restarting once to get it)."""
    environment = program_environment(dict(os.environ))
    if environment is not None:
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "migsys.cli", *sys.argv[1:]], environment)
    from migsys.cli.app import app

    app(prog_name="migsys")
