"""Refresh time by step (through the nightly flow), and latency of typical analyst queries.

The refresh publishes into a fresh temporary MIGSYS_HOME from MIGSYS_SOURCES (no standing
studies: they are benchmarked in bench/sweeps.py); the step times come from its run record.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from migsys.bench.common import metric, no_studies_config
from migsys.warehouse.paths import MigsysPaths
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
STEPS = ("ingest", "dbt build", "docs", "publish", "report")


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def collect(settings, repeats: int = 20) -> dict[str, dict]:
    from migsys.flows.config import NightlySettings
    from migsys.flows.nightly import run_nightly

    env_paths = settings.paths
    env_paths.bench.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=env_paths.bench) as tmp:
        paths = MigsysPaths(home=Path(tmp), sources=env_paths.sources, forecast_cache=None)
        start = time.perf_counter()
        result = run_nightly(
            NightlySettings.from_paths(paths, config_file=no_studies_config(paths))
        )
        total = time.perf_counter() - start
        latencies_ms: list[float] = []
        for _ in range(repeats):
            for query in ANALYST_QUERIES:
                began = time.perf_counter()
                run_query(paths.warehouse, query)
                latencies_ms.append((time.perf_counter() - began) * 1000)
    seconds = result.seconds
    metrics = {"refresh.seconds.total": metric(total, "s", None, False)}
    for step in STEPS:
        metrics[f"refresh.seconds.{step.replace(' ', '_')}"] = metric(
            seconds[step], "s", None, False
        )
    metrics["sql.latency_ms.p50"] = metric(_percentile(latencies_ms, 50), "ms", None, False)
    metrics["sql.latency_ms.p95"] = metric(_percentile(latencies_ms, 95), "ms", None, False)
    return metrics
