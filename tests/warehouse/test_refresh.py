"""The whole refresh: real files, the embedded default, and failures that must publish nothing."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.refresh import RefreshConfig, RefreshFailed, run_refresh

MARTS = (
    "dim_municipality",
    "fct_municipal_population",
    "fct_municipal_growth",
    "fct_migration_intensity",
    "fct_intensity_degree_summary",
    "fct_depopulation_by_degree",
    "fct_remittances_monthly",
    "fct_remittances_annual",
    "fct_remittances_state_quarterly",
    "fct_migrant_stock",
    "fct_binational_asymmetry",
    "fct_paper_claims_check",
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _query(paths: MigsysPaths, sql: str) -> list[tuple]:
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_real_refresh_publishes_every_mart_with_rows(published_home: MigsysPaths) -> None:
    for mart in MARTS:
        (count,) = _query(published_home, f"select count(*) from main.{mart}")[0]
        assert count > 0, f"{mart} is empty after a refresh on the real files"
    assert (published_home.docs / "index.html").stat().st_size > 100_000
    assert list(published_home.builds.iterdir()) == []


def test_real_refresh_reproduces_table_1_exactly(published_home: MigsysPaths) -> None:
    rows = _query(
        published_home,
        "select intensity_degree, municipalities, population, households "
        "from fct_intensity_degree_summary where index_year = 2000",
    )
    got = {degree: (m, p, h) for degree, m, p, h in rows}
    # Table 1 of the paper (Conapo 2000), typed here independently of the dbt seed.
    assert got == {
        "very_high": (162, 2_201_710, 498_466),
        "high": (330, 6_331_134, 1_389_695),
        "medium": (392, 11_664_651, 2_652_262),
        "low": (593, 37_765_096, 8_873_610),
        "very_low": (873, 38_887_234, 9_098_931),
        "null": (93, 633_587, 126_844),
    }


def test_real_refresh_national_totals_match_inegi(published_home: MigsysPaths) -> None:
    rows = dict(
        _query(
            published_home,
            "select census_year, sum(population_total) from fct_municipal_population group by 1",
        )
    )
    assert rows[2000] == 97_483_412
    assert rows[2005] == 103_263_388
    assert rows[2010] == 112_336_538


def test_paper_only_build_publishes_the_paper_alone(paper_only_home: MigsysPaths) -> None:
    embedded_home = paper_only_home  # no source files and no snapshot: the seeds alone
    assert embedded_home.warehouse.is_file()
    absent = {
        r[0]
        for r in _query(
            embedded_home, "select source_id from raw.source_files where status = 'absent'"
        )
    }
    assert {"inegi_census", "conapo_iim_2000", "banxico_remittances_monthly"} <= absent
    (n_claims,) = _query(embedded_home, "select count(*) from fct_paper_claims_check")[0]
    assert n_claims >= 30
    (n_table1,) = _query(embedded_home, "select count(*) from seeds.paper_table_1_intensity_2000")[
        0
    ]
    assert n_table1 >= 6


def _copy_sources(real_sources: Path, tmp_path: Path) -> Path:
    sources = tmp_path / "sources"
    shutil.copytree(real_sources, sources)
    for path in sources.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return sources


@pytest.mark.slow
def test_bad_row_fails_ingest_and_keeps_the_published_warehouse(
    published_home: MigsysPaths, real_sources: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(published_home.home, home)
    sources = _copy_sources(real_sources, tmp_path)
    census = sources / "inegi" / "censo_2005.csv"
    lines = census.read_bytes().split(b"\r\n")
    target = next(i for i, line in enumerate(lines) if line.startswith(b'" 01 002 "'))
    lines[target] = lines[target].replace(b'"40,547"', b'"-40,547"')
    census.write_bytes(b"\r\n".join(lines))
    paths = MigsysPaths(home=home, sources=sources)
    before = _sha(paths.warehouse)

    with pytest.raises(RefreshFailed) as failure:
        run_refresh(RefreshConfig(paths=paths))

    assert failure.value.step == "ingest"
    assert "inegi/censo_2005.csv" in failure.value.reason
    assert f"line {target + 1}" in failure.value.reason
    assert _sha(paths.warehouse) == before


@pytest.mark.slow
def test_failing_dbt_test_publishes_nothing(
    embedded_home: MigsysPaths, tmp_path: Path, monkeypatch
) -> None:
    home = tmp_path / "home"
    shutil.copytree(embedded_home.home, home)
    paths = MigsysPaths(home=home, sources=embedded_home.sources)
    before = _sha(paths.warehouse)
    # A singular test that always finds a failing row, added through dbt's test-paths.
    import migsys.warehouse.refresh as refresh_module

    failing = tmp_path / "failing_test.sql"
    failing.write_text("select 1 as always_fails")
    real_run_dbt = refresh_module.run_dbt

    def run_dbt_with_failing_test(command, database, work_dir, *extra):
        if command == "build":
            tests_dir = Path(refresh_module.__file__).parent.parent / "dbt_project" / "tests"
            target = tests_dir / "zz_forced_failure_for_test.sql"
            shutil.copyfile(failing, target)
            try:
                return real_run_dbt(command, database, work_dir, *extra)
            finally:
                target.unlink()
        return real_run_dbt(command, database, work_dir, *extra)

    monkeypatch.setattr(refresh_module, "run_dbt", run_dbt_with_failing_test)
    with pytest.raises(RefreshFailed) as failure:
        run_refresh(RefreshConfig(paths=paths))
    assert failure.value.step == "dbt build"
    assert "zz_forced_failure_for_test" in failure.value.reason
    assert _sha(paths.warehouse) == before
