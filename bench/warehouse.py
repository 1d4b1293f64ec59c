"""Refresh time by phase, and latency of typical analyst queries on the published file."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from migsys.bench.common import metric
from migsys.warehouse.paths import MigsysPaths
from migsys.warehouse.refresh import RefreshConfig, run_refresh
from migsys.warehouse.sql import run_query

# What analysts ask most: one municipality's history, rankings, aggregates by degree and period.
ANALYST_QUERIES = (
    "select * from fct_intensity_degree_summary where index_year = 2000 order by intensity_degree",
    "select census_year, sum(population_total) from fct_municipal_population group by 1 order by 1",
    "select * from fct_municipal_population where cve_mun = '32056' order by census_year",
    "select period, count(*) filter (where is_depopulating) from fct_municipal_growth group by 1",
    "select * from fct_depopulation_by_degree order by period, intensity_degree_2000",
    "select year, remittances_usd, remittances_pct_gdp from fct_remittances_annual order by year",
    "select cve_ent, sum(remittances_usd) from fct_remittances_state_quarterly where year = 2015 "
    "group by 1 order by 2 desc limit 10",
    "select m.state_name, avg(i.pct_households_remittances) from fct_migration_intensity i "
    "join dim_municipality m using (cve_mun) where index_year = 2010 group by 1 order by 2 desc",
    "select * from fct_binational_asymmetry where year between 1994 and 2004 order by year",
    "select status, count(*) from fct_paper_claims_check group by 1",
)


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def collect(repeats: int = 20) -> dict[str, dict]:
    env_paths = MigsysPaths.from_env()
    with tempfile.TemporaryDirectory(
        dir=env_paths.home if env_paths.home.exists() else None
    ) as tmp:
        paths = MigsysPaths(home=Path(tmp), sources=env_paths.sources)
        result = run_refresh(RefreshConfig(paths=paths))
        latencies_ms: list[float] = []
        for _ in range(repeats):
            for query in ANALYST_QUERIES:
                start = time.perf_counter()
                run_query(paths.warehouse, query)
                latencies_ms.append((time.perf_counter() - start) * 1000)
    s = result.seconds
    return {
        "refresh.seconds.total": metric(s["total"], "s", None, False),
        "refresh.seconds.ingest": metric(s["ingest"], "s", None, False),
        "refresh.seconds.dbt_build": metric(s["dbt_build"], "s", None, False),
        "refresh.seconds.tests": metric(s["tests"], "s", None, False),
        "refresh.seconds.docs": metric(s["docs"], "s", None, False),
        "refresh.seconds.publish": metric(s["publish"], "s", None, False),
        "sql.latency_ms.p50": metric(_percentile(latencies_ms, 50), "ms", None, False),
        "sql.latency_ms.p95": metric(_percentile(latencies_ms, 95), "ms", None, False),
    }
