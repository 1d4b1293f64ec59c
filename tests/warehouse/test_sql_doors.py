"""The last SQL doors (issue 17, items 5 and 6), driven through real processes.

* ``migsys sql`` refuses functions that write, log, configure or run SQL text, table functions
  not known to read, and file-writing arguments: ``enable_logging(storage_path=…)`` appended to
  any CSV, a source file included, and aborted the process on another existing file.
* ``migsys.connect()`` gives the warehouse and nothing else: no ``COPY … TO``, no settings, no
  extension install, no other file.
* A file the SQL command writes on request is never inside ``MIGSYS_HOME`` or the sources folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.sql import (
    READ_TABLE_FUNCTIONS,
    SIDE_EFFECT_FUNCTIONS,
    WriteRefused,
    check_read_only,
    table_function_names,
)

MIGSYS = Path(sys.executable).parent / "migsys"
SOURCE_ROWS = b"periodo,valor\n2024-11-01,5010.2\n2024-12-01,5312.8\n"


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("create table fct_remittances_annual as select 2024 as year, 64.7 as usd_bn")
    con.close()
    return home


@pytest.fixture()
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    (folder / "banxico").mkdir(parents=True)
    (folder / "banxico" / "remesas_mensuales.csv").write_bytes(SOURCE_ROWS)
    (folder / "banxico" / "notes.parquet").write_bytes(b"PAR1 not really")
    return folder


def _env(cli_env: dict[str, str], home: Path, sources: Path) -> dict[str, str]:
    return {**cli_env, "MIGSYS_HOME": str(home), "MIGSYS_SOURCES": str(sources)}


def _snapshot(*folders: Path) -> dict[str, bytes]:
    return {
        str(path): path.read_bytes()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_enable_logging_into_a_source_file_is_refused(
    cli_env: dict[str, str], home: Path, sources: Path
) -> None:
    """The issue's command, then every kind of door typed at the prompt of one process."""
    env = _env(cli_env, home, sources)
    before = _snapshot(home, sources)
    csv_target = sources / "banxico" / "remesas_mensuales.csv"
    done = subprocess.run(
        [
            str(MIGSYS),
            "sql",
            f"from enable_logging(storage='file', storage_path='{csv_target}'); select 1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "a call of enable_logging(), which writes, logs, configures" in done.stderr
    assert "Traceback" not in done.stderr
    doors = [
        f"from enable_logging(storage='file', storage_path='{sources}/banxico/notes.parquet');",
        f"select * from \"enable_logging\"(storage_path := '{csv_target}');",
        "select write_log('x');",
        "from checkpoint();",
        "from force_checkpoint();",
        "from truncate_duckdb_logs();",
        "from query('select 1');",
        "summarize from enable_profiling();",
        "explain from disable_logging();",
        "select 1; copy fct_remittances_annual to 'x.csv';",
    ]
    prompt = subprocess.run(
        [str(MIGSYS), "sql"],
        env=env,
        input="\n".join([*doors, "select year from fct_remittances_annual;", ".quit"]) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert prompt.returncode == 0, prompt.stderr
    assert prompt.stderr.count(": refused. Rule:") == len(doors), prompt.stderr
    assert "Traceback" not in prompt.stderr
    assert "2024" in prompt.stdout  # the prompt kept working after every refusal
    assert _snapshot(home, sources) == before


def test_every_table_function_that_does_not_only_read_is_refused() -> None:
    """The class, not the instance: each table function of this DuckDB that is not on the
    read list is refused by name, and so is each side-effect function."""
    con = duckdb.connect()
    unlisted = sorted(
        name
        for name in table_function_names()
        if name not in READ_TABLE_FUNCTIONS and not name.startswith("duckdb_")
    )
    assert "enable_logging" in unlisted and "arrow_scan" in unlisted
    for name in [*unlisted, *sorted(SIDE_EFFECT_FUNCTIONS)]:
        with pytest.raises(WriteRefused, match=rf"a call of (the table function )?{name}\(\)"):
            check_read_only(con, f"select * from {name}()")
    # Reads stay reads: table functions that read, and a column that shares an argument's name.
    for query in (
        "select * from range(3)",
        "select * from generate_series(1, 3) as g(storage)",
        "select storage from (select 1 as storage) where (storage = 1)",
        "select * from duckdb_settings()",
        "select unnest([1, 2])",
        "with t(a) as (select 1) from t",
    ):
        check_read_only(con, query)
    with pytest.raises(WriteRefused, match="storage_path =, an argument that writes a file"):
        check_read_only(con, "from read_csv('x.csv', storage_path = 'y')")


CONNECT_PROBE = textwrap.dedent(
    """
    import json, sys
    import migsys

    con = migsys.connect()
    outcome = {"rows": con.sql("select count(*) from fct_remittances_annual").fetchall()[0][0]}
    attempts = {
        "copy": "copy fct_remittances_annual to '{out}/copied.csv'",
        "set": "set autoinstall_known_extensions = true",
        "set_threads": "set threads = 1",
        "pragma": "pragma enable_profiling",
        "install": "install httpfs",
        "read_other_file": "select * from read_csv('{source}')",
        "enable_logging": "from enable_logging(storage='file', storage_path='{source}')",
        "attach": "attach '{out}/other.duckdb' as other",
    }
    for name, statement in attempts.items():
        try:
            con.execute(statement).fetchall()
            outcome[name] = "ran"
        except Exception as error:
            outcome[name] = type(error).__name__ + ": " + str(error).splitlines()[0]
    print(json.dumps(outcome))
    """
)


def test_migsys_connect_reads_the_warehouse_and_nothing_else(
    cli_env: dict[str, str], home: Path, sources: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = _snapshot(home, sources)
    script = CONNECT_PROBE.replace("{out}", str(out)).replace(
        "{source}", str(sources / "banxico" / "remesas_mensuales.csv")
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(cli_env, home, sources),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome.pop("rows") == 1
    assert all(result != "ran" for result in outcome.values()), outcome
    assert "file system operations are disabled" in outcome["copy"]
    assert "configuration has been locked" in outcome["set"]
    assert list(out.iterdir()) == []
    assert _snapshot(home, sources) == before


@pytest.mark.parametrize("where", ["home", "sources", "home_via_link"])
def test_output_inside_home_or_sources_is_refused(
    cli_env: dict[str, str], home: Path, sources: Path, tmp_path: Path, where: str
) -> None:
    link = tmp_path / "link"
    link.symlink_to(home)
    target = {
        "home": home / "warehouse.duckdb.csv",
        "sources": sources / "banxico" / "remesas_mensuales.csv",
        "home_via_link": link / "state.csv",
    }[where]
    before = _snapshot(home, sources)
    done = subprocess.run(
        [str(MIGSYS), "sql", "from fct_remittances_annual", "--output", str(target), "-f", "csv"],
        env=_env(cli_env, home, sources),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "files asked for by `migsys sql` are never written there" in done.stderr
    assert _snapshot(home, sources) == before
