"""The dbt runner on a toy project: a child process, results from run_results.json, no leaks.

A two-model project written into the test's folder keeps each dbt invocation to a few seconds
and never touches the repository's own dbt project.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from migsys.warehouse.dbt_runner import (
    WORKER_MODULE,
    DbtInterrupted,
    allow_runs_again,
    one_dbt_process,
    run_dbt,
    terminate_running,
)

PROFILE = """
toy:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('MIGSYS_DBT_PATH') }}"
      threads: 1
"""
PROJECT = """
name: toy
version: "1.0"
config-version: 2
profile: toy
flags:
  send_anonymous_usage_stats: false
models:
  toy:
    staging:
      +materialized: view
    marts:
      +materialized: table
"""


def toy_project(folder: Path, *, failing_test: bool = False, broken_sql: bool = False) -> Path:
    project = folder / "toy_project"
    (project / "models" / "staging").mkdir(parents=True)
    (project / "models" / "marts").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "profiles.yml").write_text(PROFILE)
    (project / "dbt_project.yml").write_text(PROJECT)
    (project / "models" / "staging" / "stg_numbers.sql").write_text(
        "select range as n from range(10)"
    )
    (project / "models" / "marts" / "fct_squares.sql").write_text(
        "select n, n * n as square from {{ ref('stg_numbers') }}" + (" where" if broken_sql else "")
    )
    (project / "models" / "marts" / "fct_squares.yml").write_text(
        "models:\n  - name: fct_squares\n    columns:\n      - name: n\n"
        "        data_tests: [unique, not_null]\n"
    )
    if failing_test:
        (project / "tests" / "assert_no_big_squares.sql").write_text(
            "select * from {{ ref('fct_squares') }} where square > 50"
        )
    return project


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_build_reports_every_node_with_its_layer_and_parents(tmp_path: Path) -> None:
    project = toy_project(tmp_path)
    database = tmp_path / "toy.duckdb"
    log = tmp_path / "logs" / "dbt.log"
    seen = []
    report = run_dbt(
        "build", database, tmp_path / "work", project_dir=project, log_file=log, on_node=seen.append
    )
    assert report.success, report.describe_failures()
    nodes = {node.name: node for node in report.nodes}
    assert nodes["stg_numbers"].layer == "staging"
    assert nodes["fct_squares"].layer == "marts"
    assert nodes["fct_squares"].parents == ("model.toy.stg_numbers",)
    assert report.counts_by_type() == {
        "model": {"passed": 2, "failed": 0, "warned": 0, "skipped": 0},
        "test": {"passed": 2, "failed": 0, "warned": 0, "skipped": 0},
    }
    assert [event.done for event in seen] == [1, 2, 3, 4] and seen[-1].total == 4
    assert "fct_squares" in log.read_text()
    # dbt ran in its own process: nothing here holds the file, and our environment is untouched.
    assert "MIGSYS_DBT_PATH" not in os.environ
    con = duckdb.connect(str(database))  # read-write: would fail if another handle were open
    assert con.execute("select sum(square) from fct_squares").fetchone() == (285,)
    con.close()
    assert not (project / "target").exists() and not (project / "logs").exists()


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_the_parse_saved_in_one_home_serves_a_copy_of_it(tmp_path: Path) -> None:
    """dbt runs in the DuckDB file's folder and the profile names the file alone, so a home's
    saved parse still holds in another folder (a copied or moved home, the tests' copies of one
    published home): dbt parses only what changed, not the whole project again."""
    project = toy_project(tmp_path)
    first, second = tmp_path / "home-a" / "build", tmp_path / "home-b" / "build"
    assert run_dbt("parse", first / "warehouse.duckdb", first, project_dir=project).success
    saved = first / "target" / "partial_parse.msgpack"
    (second / "target").mkdir(parents=True)
    shutil.copyfile(saved, second / "target" / saved.name)
    log = tmp_path / "second.log"
    report = run_dbt(
        "parse", second / "warehouse.duckdb", second, project_dir=project, log_file=log
    )
    assert report.success, report.describe_failures()
    assert "Unable to do partial parsing" not in log.read_text(), log.read_text()


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_failing_test_is_named_with_its_failing_rows(tmp_path: Path) -> None:
    project = toy_project(tmp_path, failing_test=True)
    report = run_dbt("build", tmp_path / "toy.duckdb", tmp_path / "work", project_dir=project)
    assert not report.success
    [failed] = report.failed
    assert failed.name == "assert_no_big_squares" and failed.failures == 2
    assert "assert_no_big_squares: fail (2 failing rows)" in report.describe_failures()


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_broken_sql_reports_dbt_own_error(tmp_path: Path) -> None:
    project = toy_project(tmp_path, broken_sql=True)
    report = run_dbt("build", tmp_path / "toy.duckdb", tmp_path / "work", project_dir=project)
    assert not report.success
    assert "fct_squares" in report.describe_failures()
    assert "error" in report.describe_failures().lower()


def command_line(process: psutil.Process) -> str:
    """The process's command line; "" once it has exited (a zombie not yet reaped has none)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return ""


def test_terminate_running_stops_dbt_and_refuses_new_runs(tmp_path: Path) -> None:
    project = toy_project(tmp_path)
    # A model that runs for minutes, so the stop has something to interrupt.
    (project / "models" / "marts" / "fct_slow.sql").write_text(
        "select count(*) as n from range(100000000000) a"
    )
    outcome: list[BaseException | object] = []

    def build() -> None:
        try:
            outcome.append(
                run_dbt("build", tmp_path / "toy.duckdb", tmp_path / "work", project_dir=project)
            )
        except BaseException as error:  # noqa: BLE001 - the thread reports what it got
            outcome.append(error)

    worker = threading.Thread(target=build)
    worker.start()
    me = psutil.Process()
    deadline = time.monotonic() + 120
    while not any(WORKER_MODULE in command_line(p) for p in me.children(recursive=True)):
        assert time.monotonic() < deadline, "dbt never started"
        time.sleep(0.1)
    try:
        assert terminate_running() == 1
        worker.join(60)
        assert isinstance(outcome[0], DbtInterrupted)
        assert not [p for p in me.children(recursive=True) if "dbt" in command_line(p)]
        with pytest.raises(DbtInterrupted, match="not started"):
            run_dbt("build", tmp_path / "toy.duckdb", tmp_path / "work", project_dir=project)
    finally:
        allow_runs_again()


def dbt_processes() -> list[psutil.Process]:
    return [p for p in psutil.Process().children() if WORKER_MODULE in command_line(p)]


def toy_build(folder: Path, **options: bool) -> tuple[Path, Path, Path]:
    """(project, database, work folder) of a toy build in ``folder``."""
    return toy_project(folder, **options), folder / "toy.duckdb", folder / "work"


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_one_dbt_process_serves_a_builds_commands_and_lets_go_of_the_file_between_them(
    tmp_path: Path,
) -> None:
    project, database, work = toy_build(tmp_path)
    # Started from a thread that then ends, as a Prefect task's is: the process must outlive it.
    first: list = []
    with one_dbt_process():
        starter = threading.Thread(
            target=lambda: first.append(run_dbt("build", database, work, project_dir=project))
        )
        starter.start()
        starter.join()
        assert first[0].success, first[0].describe_failures()
        [kept] = dbt_processes()
        # Between commands another writer can open the file (the forecast step does).
        con = duckdb.connect(str(database))
        con.execute("create table extra as select 1 as n")
        con.close()
        time.sleep(0.5)  # a child killed by its starting thread's end would be gone by now
        again = run_dbt("build", database, work, "--select", "fct_squares", project_dir=project)
        assert again.success, again.describe_failures()
        assert [node.name for node in again.nodes if node.resource_type == "model"] == [
            "fct_squares"
        ]
        assert dbt_processes() == [kept], "the second command ran in the same process"
    assert not kept.is_running() or kept.status() == psutil.STATUS_ZOMBIE
    assert dbt_processes() == []


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_terminate_running_stops_a_kept_process_waiting_for_its_next_command(
    tmp_path: Path,
) -> None:
    project, database, work = toy_build(tmp_path)
    try:
        with one_dbt_process():
            assert run_dbt("parse", database, work, project_dir=project).success
            [kept] = dbt_processes()
            assert terminate_running() == 1
            assert kept.wait(30) is not None or not kept.is_running()
            with pytest.raises(DbtInterrupted, match="not started"):
                run_dbt("build", database, work, project_dir=project)
    finally:
        allow_runs_again()
    assert dbt_processes() == []


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_a_failed_command_leaves_the_kept_process_serving_the_next(tmp_path: Path) -> None:
    project, database, work = toy_build(tmp_path, failing_test=True)
    with one_dbt_process():
        failed = run_dbt("build", database, work, project_dir=project)
        assert not failed.success and [n.name for n in failed.failed] == ["assert_no_big_squares"]
        [kept] = dbt_processes()
        passed = run_dbt(
            "build", database, work, "--exclude", "assert_no_big_squares", project_dir=project
        )
        assert passed.success, passed.describe_failures()
        assert dbt_processes() == [kept]
    assert dbt_processes() == []


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_an_exception_while_dbt_works_stops_it_before_run_dbt_returns(tmp_path: Path) -> None:
    """Prefect's SIGTERM handler raises in the thread reading dbt's log: dbt must not go on
    building behind the unwinding refresh (nor keep it waiting for a long model)."""
    project = toy_project(tmp_path)
    # Runs for minutes, after stg_numbers (whose end raises below).
    (project / "models" / "marts" / "fct_slow.sql").write_text(
        "select count(*) as n from range(10000000000) a, range(100) b, {{ ref('stg_numbers') }}"
    )

    def stop_here(event) -> None:
        raise RuntimeError("stopped")

    with one_dbt_process():
        with pytest.raises(RuntimeError, match="stopped"):
            run_dbt(
                "build", tmp_path / "toy.duckdb", tmp_path / "work", project_dir=project,
                on_node=stop_here,
            )  # fmt: skip
        assert dbt_processes() == [], "dbt was left running"
