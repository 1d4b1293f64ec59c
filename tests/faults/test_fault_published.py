"""A published warehouse damaged on disk is rebuilt from the sources, and the run says so
(issue 17, item 4).

Before: with 39 x 512 bytes flipped (25 of 48 tables unreadable), a plain `migsys refresh` with
unchanged inputs failed at `calibrate` with "Corrupt database file", left the damaged file
published and did not suggest --rebuild.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from fault_tools import sha256

from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.publish import published_damage, unreadable_tables

pytestmark = pytest.mark.real_data


def flip_blocks(path: Path, count: int = 39, size: int = 512) -> None:
    """Invert ``count`` blocks of ``size`` bytes spread over the file past its header."""
    data = bytearray(path.read_bytes())
    start, step = len(data) // 10, (len(data) * 9 // 10) // count
    for k in range(count):
        at = start + k * step
        data[at : at + size] = bytes(b ^ 0xFF for b in data[at : at + size])
    path.write_bytes(bytes(data))


def test_damage_is_found_by_the_publish_record_or_by_duckdb_itself(
    published_home: MigsysPaths, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(published_home.warehouse, home / "warehouse.duckdb")
    paths = MigsysPaths(home=home, sources=published_home.sources)
    assert published_damage(paths) is None  # no record: DuckDB reads every table whole
    flip_blocks(paths.warehouse)
    bad = unreadable_tables(paths.warehouse)
    assert bad, "39 flipped blocks went unnoticed"
    # Where the blocks land depends on the file's layout: in table data (those tables are
    # named), or in the catalog (the file does not open).
    if bad[0].startswith("(the file: "):
        assert published_damage(paths).startswith("DuckDB cannot open it (")
    else:
        assert f"DuckDB cannot read {len(bad)} of its tables" in published_damage(paths)

    shutil.copytree(published_home.state, home / "state")  # with the record written at publish
    assert "differs from the" in published_damage(paths)
    shutil.copyfile(published_home.warehouse, home / "warehouse.duckdb")
    assert published_damage(paths) is None


def test_a_file_duckdb_cannot_open_is_said_so(tmp_path: Path) -> None:
    paths = MigsysPaths(home=tmp_path, sources=tmp_path / "sources")
    paths.warehouse.write_bytes(b"\0" * 3 * 4096)  # headers and nothing else
    assert published_damage(paths).startswith("DuckDB cannot open it (")


@pytest.mark.slow
def test_a_damaged_published_warehouse_is_rebuilt_and_the_run_says_so(
    published_copy: MigsysPaths, refresh_cli
) -> None:
    flip_blocks(published_copy.warehouse)
    damaged = sha256(published_copy.warehouse)

    done = refresh_cli(published_copy)  # inputs unchanged: the file would have been reused

    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"the published warehouse {published_copy.warehouse} is damaged: its sha256" in output
    assert "rebuilding it from the sources" in output
    assert "✓ dbt build" in output and "✓ publish" in output
    assert sha256(published_copy.warehouse) != damaged
    assert published_damage(published_copy) is None
    assert unreadable_tables(published_copy.warehouse) == []
    record = json.loads((published_copy.state / "last_refresh.json").read_text())
    assert record["published_damage"].startswith("its sha256")
    con = duckdb.connect(str(published_copy.warehouse), read_only=True)
    (rows,) = con.execute("select count(*) from main.fct_remittances_monthly").fetchone()
    con.close()
    assert rows > 0
