"""Run the dbt project against one DuckDB file through dbt's documented interfaces.

dbt runs in a child process (``warehouse.dbt_worker``, which calls dbt's programmatic entry point,
``dbtRunner``): its environment (the DuckDB path, no telemetry) is given to that process only,
never set process-wide; the child can be stopped at once on Ctrl-C or SIGTERM; and it lets go of
the DuckDB file after each command, so nothing holds the build file open between commands. Within
``one_dbt_process()`` (a refresh) the commands on one build share that process: dbt is imported
and the project parsed once for the build, the forecast marts and the docs (~7 s less per
refresh). What happened is read from the artifacts dbt documents for that purpose,
``target/run_results.json`` (status, timing and failures of every node) and
``target/manifest.json`` (each node's layer and parents, for lineage).

The DuckDB path reaches ``dbt_project/profiles.yml`` through ``MIGSYS_DBT_PATH``; the target and
log folders live inside the build, so concurrent or failed builds never share dbt's state and
nothing is ever written into the (possibly read-only) installed project. dbt runs in the DuckDB
file's folder and the profile names the file alone (``warehouse.duckdb``): the profile is then
the same for every build folder and home, so the parse dbt saved for one (``partial_parse.msgpack``,
kept in the home's ``state/``) still holds for a copy of that home; an absolute path would make
dbt re-parse the whole project (~3.5 s more per dbt command).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from migsys.warehouse import dbt_worker
from migsys.warehouse.dbt_worker import DONE_MARK
from migsys.warehouse.paths import DBT_PROJECT_DIR

FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
PASSED_STATUSES = frozenset({"success", "pass"})
WORKER_MODULE = dbt_worker.__name__  # the dbt child process's program
# Seconds dbt gets to cancel its queries and exit after SIGTERM before it is killed.
TERMINATE_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class DbtNodeResult:
    """One node of a dbt invocation, as ``run_results.json`` and ``manifest.json`` describe it."""

    unique_id: str
    resource_type: str  # model | test | seed | unit_test | ...
    status: str
    seconds: float
    message: str | None
    failures: int | None
    layer: str = ""  # seeds | staging | intermediate | marts | tests (folder of the node)
    parents: tuple[str, ...] = ()
    compiled_code: str | None = field(default=None, repr=False)
    # The first rows a failing or warning test returned, one line each (what a reviewer reads).
    examples: tuple[str, ...] = ()

    def describe(self) -> str:
        """``test name: status (N failing rows): message``, then its example rows."""
        line = (
            f"{self.resource_type} {self.name}: {self.status}"
            + (f" ({self.failures} failing rows)" if self.failures else "")
            + (f": {self.message}" if self.message else "")
        )
        return "\n".join([line, *(f"    {example}" for example in self.examples)])

    @property
    def name(self) -> str:
        return self.unique_id.split(".", 2)[-1]


@dataclass(frozen=True)
class DbtEvent:
    """A node finished: streamed from dbt's JSON log while the command runs (for progress)."""

    unique_id: str
    status: str
    done: int
    total: int


@dataclass(frozen=True)
class DbtReport:
    command: str
    success: bool
    seconds: float
    nodes: list[DbtNodeResult] = field(default_factory=list)
    error: str | None = None
    log_file: Path | None = None

    def count(self, resource_type: str, status: str | None = None) -> int:
        return sum(
            1
            for n in self.nodes
            if n.resource_type == resource_type and (status is None or n.status == status)
        )

    @property
    def failed(self) -> list[DbtNodeResult]:
        return [n for n in self.nodes if n.status in FAILED_STATUSES]

    @property
    def warned(self) -> list[DbtNodeResult]:
        return [n for n in self.nodes if n.status == "warn"]

    def seconds_by_type(self, resource_type: str) -> float:
        return sum(n.seconds for n in self.nodes if n.resource_type == resource_type)

    def counts_by_type(self) -> dict[str, dict[str, int]]:
        """``{resource type: {passed, failed, warned, skipped}}`` for the run summary."""
        counts: dict[str, dict[str, int]] = {}
        for node in self.nodes:
            row = counts.setdefault(
                node.resource_type, {"passed": 0, "failed": 0, "warned": 0, "skipped": 0}
            )
            if node.status in PASSED_STATUSES:
                row["passed"] += 1
            elif node.status in FAILED_STATUSES:
                row["failed"] += 1
            elif node.status == "warn":
                row["warned"] += 1
            else:
                row["skipped"] += 1
        return counts

    def describe_failures(self) -> str:
        lines = [n.describe() for n in self.failed]
        if self.error:
            lines.append(self.error)
        if self.log_file is not None:
            lines.append(f"(dbt log: {self.log_file})")
        return "\n".join(lines) or "dbt reported failure without failed nodes"


class DbtInterrupted(RuntimeError):
    """dbt was stopped because the refresh was interrupted (Ctrl-C or SIGTERM)."""


def dbt_environment(database: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of the dbt child process, which runs in ``database``'s folder: the DuckDB
    file to build (by its name), and no telemetry."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "MIGSYS_DBT_PATH": Path(database).name,
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false",
            "DBT_PRINTER_WIDTH": "100",
        }
    )
    return env


def dbt_command_args(
    command: str, work_dir: Path, *extra: str, project_dir: Path = DBT_PROJECT_DIR
) -> list[str]:
    """Arguments for ``dbt <command>`` on a project, with target/logs inside ``work_dir``."""
    return [
        *command.split(),
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        *extra,
    ]


def _load_prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_prctl = _load_prctl()  # looked up here: the child between fork and exec must not import
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the dbt child, before exec: get SIGTERM when the process that started it dies.

    dbt runs in its own session (a terminal's Ctrl-C reaches only us, and we stop dbt ourselves),
    so without this a SIGKILLed refresh would leave dbt running on, orphaned. The thread that
    starts dbt waits for it, so the signal never comes early.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# Children running now, so that a signal handler in the main thread can stop them (Prefect runs
# tasks in worker threads).
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


def terminate_running(grace_seconds: float = TERMINATE_GRACE_SECONDS) -> int:
    """Stop every dbt child of this process (SIGTERM, then SIGKILL); returns how many ran.

    Later calls of ``run_dbt`` in this process refuse to start: the refresh is being stopped.
    """
    _stopping.set()
    with _running_lock:
        children = list(_running)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return len(children)


def allow_runs_again() -> None:
    """Undo ``terminate_running`` (for a long-lived process that starts a new refresh)."""
    _stopping.clear()


def _node_event(line: str, total_hint: int) -> tuple[str, str, int, int] | None:
    """(unique_id, status, index, total) of a 'node finished' line of dbt's JSON log, else None."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    info, data = record.get("info", {}), record.get("data", {})
    if info.get("name") not in {"LogModelResult", "LogTestResult", "LogSeedResult"}:
        return None
    node = data.get("node_info", {})
    return (
        node.get("unique_id", ""),
        str(data.get("status", node.get("node_status", ""))),
        int(data.get("index", 0) or 0),
        # Test results name the total num_models; model and seed results name it total.
        int(data.get("total") or data.get("num_models") or total_hint),
    )


def _log_text(line: str) -> str:
    """The human message of one JSON log line (the raw line when it is not JSON)."""
    try:
        record = json.loads(line)
    except ValueError:
        return line.rstrip("\n")
    info = record.get("info", {})
    return f"{info.get('ts', '')[11:19]} {info.get('level', ''):5} {info.get('msg', '')}".rstrip()


def _error_lines(lines: list[str], limit: int = 20) -> str | None:
    """dbt's own error messages (level error) from its JSON log, for failures with no results."""
    errors = []
    for line in lines:
        with contextlib.suppress(ValueError):
            info = json.loads(line).get("info", {})
            if info.get("level") == "error" and info.get("msg"):
                errors.append(info["msg"].strip())
    return "\n".join(errors[-limit:]) or None


def read_run_results(target: Path) -> list[DbtNodeResult]:
    """Node results from ``run_results.json``, with layers and parents from ``manifest.json``."""
    results_file = target / "run_results.json"
    if not results_file.is_file():
        return []
    results = json.loads(results_file.read_text(encoding="utf-8")).get("results", [])
    manifest_file = target / "manifest.json"
    manifest = (
        json.loads(manifest_file.read_text(encoding="utf-8")) if manifest_file.is_file() else {}
    )
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    out = []
    for result in results:
        unique_id = result["unique_id"]
        node = nodes.get(unique_id, {})
        out.append(
            DbtNodeResult(
                unique_id=unique_id,
                resource_type=node.get("resource_type") or unique_id.split(".", 1)[0],
                status=str(result.get("status")),
                seconds=float(result.get("execution_time") or 0.0),
                message=result.get("message"),
                failures=result.get("failures"),
                layer=_layer(node),
                parents=tuple(node.get("depends_on", {}).get("nodes", [])),
                compiled_code=result.get("compiled_code"),
            )
        )
    return out


EXAMPLE_ROWS = 5


def with_examples(
    nodes: list[DbtNodeResult], database: Path, limit: int = EXAMPLE_ROWS
) -> list[DbtNodeResult]:
    """Failing and warning tests with their first ``limit`` rows, read from the built file.

    A test's count says something is wrong; its rows (file, line, value and neighbours) say
    what. Read after dbt has exited, read-only; a test whose query cannot be re-run keeps its
    count alone.
    """
    import duckdb

    from migsys.warehouse.sql import open_read_only

    wanted = [
        n
        for n in nodes
        if n.resource_type == "test" and n.status in {"fail", "warn"} and n.compiled_code
    ]
    if not wanted or not database.is_file():
        return nodes
    found: dict[str, tuple[str, ...]] = {}
    try:
        con = open_read_only(database)
    except duckdb.Error:
        return nodes
    try:
        for node in wanted:
            with contextlib.suppress(duckdb.Error):
                cursor = con.execute(f"select * from ({node.compiled_code}) limit {limit}")
                names = [column[0] for column in cursor.description]
                found[node.unique_id] = tuple(
                    ", ".join(f"{name}={value}" for name, value in zip(names, row, strict=True))
                    for row in cursor.fetchall()
                )
    finally:
        con.close()
    return [
        dataclasses.replace(n, examples=found[n.unique_id]) if n.unique_id in found else n
        for n in nodes
    ]


def _layer(node: dict) -> str:
    """The folder a node lives in: seeds, staging, intermediate, marts, or tests."""
    if node.get("resource_type") in {"test", "unit_test"}:
        return "tests"
    path = Path(node.get("original_file_path", ""))
    if path.parts[:1] == ("seeds",):
        return "seeds"
    if path.parts[:1] == ("models",) and len(path.parts) > 2:
        return path.parts[1]
    return path.parts[0] if path.parts else ""


class _DbtProcess:
    """One dbt child process (``warehouse.dbt_worker``) and the thread that waits for it.

    The child is started by a thread of its own, which lives exactly as long as the child:
    ``PR_SET_PDEATHSIG`` fires when the *thread* that started a child ends, and a refresh's steps
    run in threads (Prefect's) that end before the dbt process they share does.
    """

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], *, more: bool):
        self.more = more  # commands after the first come on its standard input
        started = threading.Event()
        failure: list[BaseException] = []

        def start_and_wait() -> None:
            try:
                child = subprocess.Popen(
                    [sys.executable, "-m", WORKER_MODULE, *args],
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.PIPE if more else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    encoding="utf-8",
                    errors="replace",
                    start_new_session=True,  # its own process group: stopped as a whole
                    preexec_fn=_die_with_parent,  # noqa: PLW1509 - only calls prctl, no imports
                )
            except BaseException as error:  # noqa: BLE001 - handed to the starting thread
                failure.append(error)
                started.set()
                return
            self.child = child
            with _running_lock:
                _running.add(child)
            started.set()
            child.wait()
            with _running_lock:
                _running.discard(child)

        threading.Thread(target=start_and_wait, name="dbt", daemon=True).start()
        started.wait()
        if failure:
            raise failure[0]

    def alive(self) -> bool:
        """Whether it runs and takes more commands."""
        return self.more and self.child.poll() is None

    def send(self, args: list[str]) -> None:
        assert self.child.stdin is not None
        self.child.stdin.write(json.dumps(args) + "\n")
        self.child.stdin.flush()

    def output(self) -> Iterator[str]:
        """The current command's log lines; then ``self.outcome`` holds what the child said of
        it (None when the child ended before finishing it)."""
        self.outcome: dict | None = None
        assert self.child.stdout is not None
        for line in self.child.stdout:
            if line.startswith(DONE_MARK):
                self.outcome = json.loads(line[len(DONE_MARK) :])
                return
            yield line

    def close(self, timeout: float = 30.0) -> int:
        """End the child (its standard input closed: it finishes and exits); its exit code."""
        if self.child.stdin is not None:
            with contextlib.suppress(OSError):
                self.child.stdin.close()
        try:
            return self.child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.stop(grace_seconds=0.0)

    def stop(self, grace_seconds: float = TERMINATE_GRACE_SECONDS) -> int:
        """Stop the child now, whatever it is doing (SIGTERM, then SIGKILL); its exit code."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGTERM)
        try:
            return self.child.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGKILL)
            return self.child.wait()


# Within ``one_dbt_process()``: the dbt child of each build, kept for that build's next command.
_kept: dict[tuple[Path, Path, Path], _DbtProcess] = {}
_keeping = 0


@contextlib.contextmanager
def one_dbt_process() -> Iterator[None]:
    """Within: the dbt commands on one build run in one dbt process, which ends with the block.

    dbt is imported and the project parsed once rather than once per command (see
    ``warehouse.dbt_worker``). Outside, each ``run_dbt`` has a process of its own.
    """
    global _keeping
    with _running_lock:
        _keeping += 1
    stopped = False
    try:
        yield
    except BaseException:
        stopped = True  # a failure or a signal (Prefect's SIGTERM handler raises): no waiting
        raise
    finally:
        with _running_lock:
            _keeping -= 1
            ending = list(_kept.values()) if _keeping == 0 else []
            if _keeping == 0:
                _kept.clear()
        for process in ending:
            if stopped:
                process.stop()
            else:
                process.close()


def _dbt_process(key: tuple[Path, Path, Path], args: list[str], env: dict[str, str]):
    """The kept process of this build, given ``args``; else a new one started with them."""
    with _running_lock:
        keeping = _keeping > 0
        kept = _kept.get(key)
    if kept is not None and kept.alive():
        try:
            kept.send(args)
            return kept
        except OSError:  # it ended since: a new one
            pass
    process = _DbtProcess(args, key[0].parent, env, more=keeping)
    if keeping:
        with _running_lock:
            _kept[key] = process
    return process


def run_dbt(
    command: str,
    database: Path,
    work_dir: Path,
    *extra: str,
    project_dir: Path = DBT_PROJECT_DIR,
    log_file: Path | None = None,
    on_node: Callable[[DbtEvent], None] | None = None,
    echo: Callable[[str], None] | None = None,
) -> DbtReport:
    """Run ``dbt <command>`` on ``database`` in a child process; never raises for dbt failures.

    ``log_file`` receives dbt's log as text (appended), ``on_node`` is called as each node
    finishes (progress bars), ``echo`` gets every log line live (``migsys refresh -v``).
    Raises ``DbtInterrupted`` when the refresh is being stopped.
    """
    if _stopping.is_set():
        raise DbtInterrupted(f"dbt {command} not started: the refresh is being stopped")
    # dbt runs in the database's folder (see the module's docstring): every path it gets is
    # absolute.
    database, work_dir = Path(database).absolute(), Path(work_dir).absolute()
    project_dir = Path(project_dir).absolute()
    database.parent.mkdir(parents=True, exist_ok=True)
    target = work_dir / "target"
    target.mkdir(parents=True, exist_ok=True)
    (target / "run_results.json").unlink(missing_ok=True)  # never read a previous command's
    args = [
        "--log-format",
        "json",
        "--no-use-colors",
        *dbt_command_args(command, work_dir, *extra, project_dir=project_dir),
    ]
    start = time.perf_counter()
    lines: list[str] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_file, "a", encoding="utf-8") if log_file else contextlib.nullcontext()  # noqa: SIM115
    with log as sink:
        process = _dbt_process((database, work_dir, project_dir), args, dbt_environment(database))
        try:
            for line in process.output():
                lines.append(line)
                text = _log_text(line)
                if sink is not None:
                    sink.write(text + "\n")
                if echo is not None:
                    echo(text)
                event = _node_event(line, 0) if on_node is not None else None
                if event is not None and on_node is not None:
                    on_node(DbtEvent(*event))
        except BaseException:
            # Stopped while dbt works (a signal raised here, a failing callback): dbt must not go
            # on writing the build behind our back.
            process.stop()
            raise
        outcome, returncode = process.outcome, None
        if outcome is None or not process.more:
            returncode = process.close()
    if _stopping.is_set():
        raise DbtInterrupted(f"dbt {command} stopped: the refresh was interrupted")
    nodes = with_examples(read_run_results(target), database)
    success = outcome is not None and outcome["success"]
    error = None
    if not success:
        error = (
            _error_lines(lines)
            or (outcome or {}).get("error")
            or f"dbt exited with {returncode} before it finished"
        )
    return DbtReport(
        command=command,
        success=success,
        seconds=time.perf_counter() - start,
        nodes=nodes,
        error=error,
        log_file=log_file,
    )
