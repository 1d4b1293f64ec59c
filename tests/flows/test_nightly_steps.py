"""The plain functions behind the nightly flow: config, study planning, fingerprints, summary,
deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from migsys.flows.config import (
    DEFAULT_NIGHTLY_CONFIG,
    SOURCE_FED_MARTS,
    NightlyConfigError,
    NightlySettings,
    load_nightly_config,
)
from migsys.flows.nightly import nightly_deployment
from migsys.flows.planning import (
    StudyOutcome,
    plan_standing_study,
    run_standing_study,
)
from migsys.flows.steps import run_summary, summary_markdown
from migsys.sweeps.spec import load_spec
from migsys.warehouse.dbt_runner import DbtNodeResult, DbtReport
from migsys.warehouse.paths import MigsysPaths

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ISHIGAMI_SPEC = """
[study]
name = "ishigami-nightly"
kernel = "ishigami"
seed = {seed}
chunk_size = 40

[design]
method = "sobol"
n = 16

[parameters]
x1 = {{ low = -3.14159, high = 3.14159 }}
x2 = {{ low = -3.14159, high = 3.14159 }}
x3 = {{ low = -3.14159, high = 3.14159 }}

[analysis]
bootstrap = 20
max_conf = 5.0
"""


def write_config(folder: Path, body: str) -> Path:
    path = folder / "nightly.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_repository_config_loads_and_its_studies_validate() -> None:
    config = load_nightly_config(DEFAULT_NIGHTLY_CONFIG)
    assert config.schedule.cron == "0 2 * * *"
    assert config.schedule.timezone == "America/Mexico_City"
    assert config.fetch.enabled is False, "make refresh must work offline by default"
    assert config.studies, "the nightly refresh has at least one standing study"
    for study in config.studies:
        spec = load_spec(study.spec)
        # Keep the nightly within a few minutes on 2 cores. The kernels run 8,192 scenarios in
        # under a second; what grows is the Sobol bootstrap (scenarios x resamples): 8,192 x 100
        # costs ~2 s. (Large enough to pass its precision check: test_report.py.)
        draws = spec.n_scenarios * spec.analysis.bootstrap
        assert draws <= 2_000_000, f"{spec.name}: {spec.n_scenarios} scenarios x {draws} draws"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[schedule]\ncron = '0 2 * *'\n", r"schedule\.cron: .*5 fields"),
        (
            "[schedule]\ntimezone = 'Mexico/Nowhere'\n",
            r"schedule\.timezone: .*not an IANA time zone",
        ),
        ("[fetch]\nenabled = true\nretrys = 2\n", r"fetch\.retrys: unknown key"),
        (
            "[[studies]]\nspec = 'missing.toml'\n",
            r"studies\[0\]\.spec: .*missing\.toml does not exist",
        ),
        ("[schedule\n", r"not valid TOML"),
        ("[publish_guard]\nmin_row_share = 1.5\n", r"publish_guard\.min_row_share: .*less than"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = write_config(tmp_path, body)
    with pytest.raises(NightlyConfigError, match=message) as raised:
        load_nightly_config(path)
    assert str(path) in str(raised.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NightlyConfigError, match=r"absent\.toml: cannot read nightly config"):
        load_nightly_config(tmp_path / "absent.toml")


def test_spec_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.toml").write_text(ISHIGAMI_SPEC.format(seed=1), encoding="utf-8")
    config = load_nightly_config(write_config(tmp_path, "[[studies]]\nspec = 'specs/a.toml'\n"))
    assert config.studies[0].spec == (tmp_path / "specs" / "a.toml").resolve()


@pytest.mark.slow  # seconds of real work (dbt, a program, a study): not in `make test-fast`
def test_standing_study_runs_then_skips_until_its_spec_changes(tmp_path: Path) -> None:
    spec_path = tmp_path / "ishigami.toml"
    spec_path.write_text(ISHIGAMI_SPEC.format(seed=1), encoding="utf-8")
    sweeps_root = tmp_path / "home" / "sweeps"
    warehouse = tmp_path / "home" / "warehouse.duckdb"  # analytic kernels read no data

    dead_run = tmp_path / "home" / "sweeps-staging" / "0123456789abcdef" / "ishigami-nightly"
    dead_run.mkdir(parents=True)  # what a killed run of an older spec leaves behind

    first = plan_standing_study(spec_path, sweeps_root, warehouse, rerun=False, workers=1)
    assert (first.action, first.reason) == ("run", "never run before")
    outcome = run_standing_study(first, sweeps_root, warehouse)
    assert not dead_run.exists()
    assert outcome.scenarios_run == 16 * 5
    assert (sweeps_root / "ishigami-nightly" / "analysis" / "sensitivity.parquet").is_file()
    assert not (tmp_path / "home" / "sweeps-staging").exists()

    second = plan_standing_study(spec_path, sweeps_root, warehouse, rerun=False, workers=1)
    assert second.action == "skip"
    assert "unchanged" in second.reason
    forced = plan_standing_study(spec_path, sweeps_root, warehouse, rerun=True, workers=1)
    assert (forced.action, forced.reason) == ("run", "forced with --rerun-studies")

    part = next((sweeps_root / "ishigami-nightly" / "parts").rglob("*.parquet"))
    original = part.read_bytes()
    part.write_bytes(original[: len(original) // 2])  # a truncated part
    damaged = plan_standing_study(spec_path, sweeps_root, warehouse, rerun=False, workers=1)
    assert damaged.action == "run" and "do not verify" in damaged.reason
    part.write_bytes(original)

    spec_path.write_text(ISHIGAMI_SPEC.format(seed=2), encoding="utf-8")
    changed = plan_standing_study(spec_path, sweeps_root, warehouse, rerun=False, workers=1)
    assert (changed.action, changed.reason) == ("run", "changed: spec")
    run_standing_study(changed, sweeps_root, warehouse)  # replaces the old results, no conflict
    again = plan_standing_study(spec_path, sweeps_root, warehouse, rerun=False, workers=1)
    assert again.action == "skip"


def test_summary_lists_sources_tests_guard_studies_and_timings(tmp_path: Path) -> None:
    import duckdb

    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute(
        "create schema raw; create table raw.source_files as select 'inegi_census' as source_id, "
        "'loaded' as status, 12345 as rows_loaded, 0 as rows_rejected, 'sources' as origin, "
        "'1990' as period_start, '2020' as period_end, null::varchar as release_date, "
        "null::timestamp as snapshot_created from range(5)"
    )
    con.close()
    dbt = DbtReport(
        command="build",
        success=True,
        seconds=3.0,
        nodes=[
            DbtNodeResult("model.migsys.fct_a", "model", "success", 1.0, None, None),
            DbtNodeResult("test.migsys.unique_a", "test", "pass", 0.1, None, 0),
            DbtNodeResult("test.migsys.not_null_a", "test", "fail", 0.1, None, 2),
        ],
    )
    from migsys.warehouse.guard import GuardCheck

    settings = NightlySettings.from_paths(
        MigsysPaths(home=tmp_path, sources=tmp_path / "src"), allow_shrink=True
    )
    summary = run_summary(
        "b1",
        settings,
        warehouse,
        dbt,
        [GuardCheck("rows of fct_a", "100", "90", "allowed")],
        [StudyOutcome("remit", "skip", "unchanged")],
        {"ingest": 1.25},
        True,
    )
    assert summary["allow_shrink"] is True
    assert summary["sources"] == [
        {"source": "inegi_census", "status": "loaded", "files": 5, "rows_loaded": 61725,
         "rows_rejected": 0, "origin": "sources", "period": "1990 to 2020",
         "release_date": "unknown"}
    ]  # fmt: skip
    text = summary_markdown(summary)
    assert "| inegi_census | loaded | 5 | 61,725 | 0 | sources | 1990 to 2020 |" in text
    assert "| test | 1 | 1 | 0 | 0 |" in text
    assert "| rows of fct_a | 100 | 90 | allowed |" in text
    assert "| remit | skip | unchanged | 0 | 0.0 |" in text
    assert "| ingest | 1.2 |" in text or "| ingest | 1.3 |" in text


def test_repository_config_lists_the_source_fed_marts() -> None:
    config = load_nightly_config(DEFAULT_NIGHTLY_CONFIG)
    assert config.publish_guard.source_fed_marts == SOURCE_FED_MARTS
    assert config.publish_guard.min_row_share == 0.95


def test_deployment_runs_nightly_in_mexico_city(tmp_path: Path) -> None:
    settings = NightlySettings.from_paths(MigsysPaths(home=tmp_path, sources=tmp_path / "src"))
    deployment = nightly_deployment(settings, cron="0 2 * * *", timezone="America/Mexico_City")
    [schedule] = deployment.schedules
    assert schedule.schedule.cron == "0 2 * * *"
    assert schedule.schedule.timezone == "America/Mexico_City"
    assert NightlySettings.model_validate(deployment.parameters["settings"]) == settings
    assert deployment.concurrency_limit == 1


def test_deployment_refuses_a_bad_schedule(tmp_path: Path) -> None:
    settings = NightlySettings.from_paths(MigsysPaths(home=tmp_path, sources=tmp_path))
    with pytest.raises(NightlyConfigError, match=r"invalid schedule: timezone: 'UTC\+25'"):
        nightly_deployment(settings, cron="0 2 * * *", timezone="UTC+25")


def test_a_step_becomes_its_prefect_task_once_with_the_declared_retries() -> None:
    from migsys.flows.pipeline import FETCH
    from migsys.flows.runner import Step, as_task

    fetch = FETCH.with_retries(2, [1.0, 5.0])
    task = as_task(fetch)
    assert as_task(FETCH.with_retries(2, (1.0, 5.0))) is task  # one task per declaration
    assert (task.name, task.retries, task.retry_delay_seconds) == ("fetch", 2, [1.0, 5.0])
    assert task.fn is FETCH.fn
    assert as_task(FETCH).retries == 0
    assert Step("s", print, 3, (2.0, 7.0)).delay_before(3) == 7.0  # the last delay repeats


def test_warehouse_fingerprint_follows_the_dbt_project_and_sources_not_dbt_output(
    tmp_path: Path,
) -> None:
    import duckdb

    from migsys.flows.steps import warehouse_inputs_fingerprint

    database = tmp_path / "build.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(
            "create schema raw; create table raw.source_files as select 'inegi' as source_id, "
            "'a.csv' as file_name, 'abc' as file_sha256, 'loaded' as status, 'file' as origin"
        )
    (tmp_path / "dbt_project" / "models").mkdir(parents=True)
    (tmp_path / "dbt_project" / "models" / "a.sql").write_text("select 1\n")
    before = warehouse_inputs_fingerprint(database, tmp_path / "dbt_project")
    (tmp_path / "dbt_project" / "target").mkdir()
    (tmp_path / "dbt_project" / "target" / "manifest.json").write_text("{}")
    assert warehouse_inputs_fingerprint(database, tmp_path / "dbt_project") == before
    (tmp_path / "dbt_project" / "models" / "a.sql").write_text("select 2\n")
    after = warehouse_inputs_fingerprint(database, tmp_path / "dbt_project")
    assert after != before
    with duckdb.connect(str(database)) as con:
        con.execute("update raw.source_files set file_sha256 = 'abd'")
    assert warehouse_inputs_fingerprint(database, tmp_path / "dbt_project") != after


def test_loaded_extras_are_content_not_row_order(tmp_path: Path) -> None:
    import duckdb

    from migsys.flows.steps import loaded_extras

    def database(name: str, rows: list[tuple[int, str]], dbt_output: int = 0) -> Path:
        path = tmp_path / name
        con = duckdb.connect(str(path))
        con.execute("create schema raw; create table raw.ignored as select 1 as x")
        con.execute(f"create table main.fct_from_dbt as select {dbt_output} as n")  # not an input
        con.execute("create table main.calibrations as select 0.5 as growth")
        con.execute("create schema sweeps; create table sweeps.results (i int, v varchar)")
        con.executemany("insert into sweeps.results values (?, ?)", rows)
        con.close()
        return path

    a = loaded_extras(database("a.duckdb", [(1, "x"), (2, "y")]))
    b = loaded_extras(database("b.duckdb", [(2, "y"), (1, "x")], dbt_output=7))
    c = loaded_extras(database("c.duckdb", [(1, "x"), (2, "z")]))
    d = loaded_extras(database("d.duckdb", [(1, "x"), (2, "y"), (2, "y")]))
    assert a == b
    assert a != c and a != d and c != d


def test_standing_study_waits_for_absent_inputs_instead_of_failing(
    paper_only_home, tmp_path
) -> None:
    """With no source data at all (paper's seeds only) the remittance study is skipped, with why."""
    from migsys.warehouse.paths import STUDIES_DIR

    spec = STUDIES_DIR / "remittances_nightly.toml"
    plan = plan_standing_study(spec, tmp_path / "sweeps", paper_only_home.warehouse, rerun=True)
    assert plan.action == "skip"
    assert "inputs absent" in plan.reason and "remittances" in plan.reason


def test_results_under_a_standing_study_old_name_are_pointed_out(tmp_path: Path) -> None:
    from migsys.flows.planning import folder_of_old_name

    assert folder_of_old_name(tmp_path, "remittances-nightly") is None
    (tmp_path / "remittances_nightly").mkdir()
    assert folder_of_old_name(tmp_path, "remittances-nightly") == tmp_path / "remittances_nightly"
    assert folder_of_old_name(tmp_path, "ishigami") is None
