"""A cut or implausible source file is refused by `migsys refresh`, naming the file and the line,
and the published warehouse stays byte for byte (issue 17, items 1, 2 and a smaller one of 6).

Before: with the last 8 bytes of banxico/usdmxn_mensual.csv removed the refresh exited 0 with 0
rejects and published December 2024's rate as 2; a number cut in worldbank/gdp.csv (published
without a final line break) was published too, with or without --allow-shrink.
"""

from __future__ import annotations

import pytest
from fault_tools import sha256

from migsys.warehouse.paths import MigsysPaths

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def test_cut_and_pasted_files_are_refused_at_ingest_file_by_file_in_one_screen(
    published_copy: MigsysPaths, damaged_sources, refresh_cli
) -> None:
    """Two classes refused at ingest, in one refresh: a number cut on the last line (before:
    published, rc 0), and files pasted ten times over (before: 15k-126k console lines, one per
    duplicate key)."""
    pasted = ("banxico/remesas_mensuales.csv", "inegi/censo_2000.csv", "worldbank/population.csv")
    sources = damaged_sources(
        {
            "banxico/usdmxn_mensual.csv": lambda data: data[:-8],
            **{name: (lambda data: data * 10) for name in pasted},
        }
    )
    paths = published_copy.model_copy(update={"sources": sources})
    before = sha256(paths.warehouse)

    done = refresh_cli(paths, "--rebuild")

    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "refresh failed at step 'ingest'" in output
    assert (
        "banxico/usdmxn_mensual.csv line 409: file.truncated: the file ends inside line 409 "
        "('2024-12-01,2') without a line break" in output
    )
    for name in ("banxico/remesas_mensuales.csv", "worldbank/population.csv"):
        assert f"{name} line " in output and f"{name}: key.duplicate: … and " in output
    # INEGI's footnote ends its table: what follows was silently skipped as footnote text.
    assert "inegi/censo_2000.csv line 2488: file.after_end: a line of data after the footnote" in (
        output
    )
    assert len(output.splitlines()) < 120, f"{len(output.splitlines())} lines"
    assert "Traceback" not in output
    log = next(paths.logs.glob("refresh-*.log")).read_text()
    assert log.count("key.duplicate") > 10_000, "every reject is in the log"
    assert sha256(paths.warehouse) == before


def test_a_number_cut_where_the_file_has_no_final_line_break_fails_plausibility(
    published_copy: MigsysPaths, damaged_sources, refresh_cli
) -> None:
    """worldbank/gdp.csv ends without a line break as published, so the cut last line parses;
    the rows and latest period are unchanged, so the guard passes; the plausibility test on
    GDP fails the build with the row, and --allow-shrink does not relax it."""
    sources = damaged_sources({"worldbank/gdp.csv": lambda data: data[:-8]})
    paths = published_copy.model_copy(update={"sources": sources})
    before = sha256(paths.warehouse)

    done = refresh_cli(paths, "--allow-shrink")

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "refresh failed at step 'dbt build'" in output
    assert "test plausible_gdp_year_to_year" in output
    assert "country_code=ZWE, year=2023" in output
    assert "file_name=worldbank/gdp.csv, line_number=13980" in output
    assert sha256(paths.warehouse) == before
