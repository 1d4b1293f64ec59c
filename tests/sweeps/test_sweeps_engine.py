"""The engine: results independent of chunk size and interruptions; resumes only missing chunks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pytest

from migsys.sweeps import registry, store
from migsys.sweeps.engine import (
    StudyConflict,
    run_study,
    study_code,
    study_fingerprint,
    study_status,
)
from migsys.sweeps.evaluators import (
    ExistingScheduler,
    InProcess,
    LocalProcesses,
    Slurm,
    evaluator_for,
)
from migsys.warehouse import files


def _results(directory: Path) -> dict[str, np.ndarray]:
    table = ds.dataset(directory / "parts", format="parquet", partitioning="hive").to_table()
    table = table.drop_columns(["chunk"]).sort_by("scenario_id")
    return {name: table.column(name).to_numpy() for name in table.column_names}


def test_chunk_size_does_not_change_results(make_spec, sweeps_root: Path) -> None:
    small = run_study(
        make_spec(chunk_size=1000), sweeps_root / "a", evaluator=InProcess(), progress=False
    )
    prime = run_study(
        make_spec(chunk_size=7919), sweeps_root / "b", evaluator=InProcess(), progress=False
    )
    assert small.chunks_total == 11 and prime.chunks_total == 2
    assert small.fingerprint == prime.fingerprint
    first, second = _results(small.directory), _results(prime.directory)
    assert first.keys() == second.keys() == {"scenario_id", "x1", "x2", "x3", "y"}
    for name in first:
        assert np.array_equal(first[name], second[name]), name
    assert np.array_equal(first["scenario_id"], np.arange(2048 * 5))


def test_rerun_fills_only_missing_chunks(make_spec, sweeps_root: Path) -> None:
    spec = make_spec(chunk_size=1000)
    full = run_study(spec, sweeps_root / "full", evaluator=InProcess(), progress=False)
    reference = _results(full.directory)
    # Simulate an interruption: two parts lost, one chunk written but never recorded.
    study = store.StudyDir(full.directory)
    shutil.rmtree(study.part(3000).parent)
    shutil.rmtree(study.part(10000).parent)
    lines = study.manifest.read_text().splitlines()
    study.manifest.write_text(
        "\n".join(line for line in lines if json.loads(line)["start"] != 5000) + "\n"
    )
    (study.parts / "chunk=000000003000").mkdir()
    files.staged_path(study.part(3000)).write_bytes(b"half")  # a worker killed mid-write
    # The manifest-less part is complete and adopted; exactly the two lost chunks run again
    # (with their recorded ranges, whatever the chunk size now).
    resumed = run_study(
        spec.model_copy(update={"chunk_size": 512}),
        sweeps_root / "full",
        evaluator=InProcess(),
        progress=False,
    )
    assert resumed.scenarios_run == 1000 + 240
    assert resumed.chunks_run == resumed.chunks_repaired == 2
    after = _results(full.directory)
    for name in reference:
        assert np.array_equal(reference[name], after[name]), name
    assert not [p for p in study.parts.glob("*/*") if files.is_staged(p)]
    again = run_study(spec, sweeps_root / "full", evaluator=InProcess(), progress=False)
    assert again.chunks_run == 0


def test_changed_spec_does_not_mix_with_old_results(make_spec, sweeps_root: Path) -> None:
    run_study(make_spec(n=64), sweeps_root, evaluator=InProcess(), progress=False)
    with pytest.raises(
        StudyConflict,
        match=r"ishigami-test holds results of another version of this study \(changed: spec",
    ):
        run_study(make_spec(n=64, seed=12), sweeps_root, evaluator=InProcess(), progress=False)


def test_status_and_parquet_are_queryable(make_spec, sweeps_root: Path) -> None:
    assert study_status(sweeps_root, "ishigami-test").state == "missing"
    spec = make_spec(n=64, chunk_size=100)
    run = run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    status = study_status(sweeps_root, "ishigami-test")
    assert (status.state, status.scenarios_done, status.chunks_done) == ("finished", 320, 4)
    glob = str(run.directory / "parts" / "*" / "*.parquet")
    count, chunks = duckdb.sql(
        f"select count(*), count(distinct chunk) from read_parquet('{glob}', hive_partitioning = true)"
    ).fetchall()[0]
    assert (count, chunks) == (320, 4)
    record = json.loads((run.directory / "study.json").read_text())
    assert record["fingerprint"] == study_fingerprint(
        spec, record["fixed_parameters"], record["code_version"], record["data_fingerprint"]
    )
    assert record["code_version"] == study_code(registry.get("ishigami"))


def test_evaluator_for_follows_the_cli_options() -> None:
    assert evaluator_for() == LocalProcesses(None)
    assert evaluator_for(workers=3) == LocalProcesses(3)
    assert evaluator_for(scheduler="tcp://10.0.0.1:8786") == ExistingScheduler(
        "tcp://10.0.0.1:8786"
    )
    assert evaluator_for(workers=4, slurm=True) == Slurm(workers=4)
    assert evaluator_for(workers=6, slurm=Slurm(queue="long")) == Slurm(workers=6, queue="long")
    assert evaluator_for(in_process=True) == InProcess()
    with pytest.raises(ValueError, match="give one of --scheduler, --slurm, not several"):
        evaluator_for(scheduler="tcp://10.0.0.1:8786", slurm=True)
    with pytest.raises(ValueError, match="--workers: chunks run in this process"):
        evaluator_for(workers=2, in_process=True)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LocalProcesses(0), r"workers: must be a whole number >= 1, got 0"),
        (lambda: ExistingScheduler("10.0.0.1:8786"), r"scheduler: expected an address like"),
        (lambda: Slurm(cores=2.5), r"slurm cores: must be a whole number >= 1, got 2.5"),
        (lambda: Slurm(memory="lots"), r"slurm memory: expected an amount like 2GiB"),
    ],
)
def test_evaluators_reject_bad_options(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# dask-jobqueue is imported before `dask.config.set` in these tests: imported inside the block,
# the defaults it adds on import (the whole `jobqueue` section) would go when the block ends.
def _slurm_job_script(evaluator: Slurm) -> str:
    """The batch script ``sbatch`` would get (rendered by dask-jobqueue, no Slurm needed)."""
    from dask_jobqueue import SLURMCluster

    with SLURMCluster(**evaluator.cluster_options()) as cluster:
        return cluster.job_script()


def test_slurm_job_takes_dask_jobqueue_configuration() -> None:
    import dask
    import dask_jobqueue  # noqa: F401  (its configuration defaults, loaded on import)

    configured = {
        "jobqueue.slurm.queue": "long",
        "jobqueue.slurm.account": "migration-lab",
        "jobqueue.slurm.walltime": "02:30:00",
        "jobqueue.slurm.cores": 4,
        "jobqueue.slurm.memory": "8GiB",
        "jobqueue.slurm.job-script-prologue": ["source /opt/migsys/.venv/bin/activate"],
        "jobqueue.slurm.scheduler-options": {"dashboard_address": None},
    }
    with dask.config.set(configured):
        script = _slurm_job_script(Slurm())
        overridden = _slurm_job_script(
            Slurm(queue="short", cores=2, memory="3GiB", job_script_prologue=("module load x",))
        )
    for line in (
        "#SBATCH -p long",
        "#SBATCH -A migration-lab",
        "#SBATCH -t 02:30:00",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8G",
        "source /opt/migsys/.venv/bin/activate",
        "--nworkers 4",  # one single-threaded worker per core
        "--nthreads 1",
        "export MALLOC_MMAP_THRESHOLD_=33554432",
    ):
        assert line in script, (line, script)
    for line in ("#SBATCH -p short", "#SBATCH -A migration-lab", "--nworkers 2", "--mem=3G"):
        assert line in overridden, (line, overridden)
    assert "module load x" in overridden and "activate" not in overridden


def test_slurm_without_configuration_falls_back_to_one_core_and_2_gib() -> None:
    import dask
    import dask_jobqueue  # noqa: F401  (its configuration defaults, loaded on import)

    with dask.config.set({"jobqueue.slurm.cores": None, "jobqueue.slurm.memory": None}):
        options = Slurm().cluster_options()
    assert (options["cores"], options["processes"], options["memory"]) == (1, 1, "2GiB")


@pytest.mark.filterwarnings("ignore:.*(Port|port).*:UserWarning")
def test_local_processes_give_the_in_process_results_quietly(
    make_spec, sweeps_root: Path, caplog, capfd
) -> None:
    """A study on local Dask worker processes gives bitwise the results of the same study run
    in this process. Even when the caller shows INFO records (as Prefect's console handler
    does), it logs no Dask INFO line, from this process or its workers, and it leaves this
    process's environment as it was (the workers get theirs as a mapping)."""
    import logging
    import os

    environ = dict(os.environ)
    caplog.set_level(logging.INFO)
    for name in ("distributed", "dask"):
        caplog.set_level(logging.INFO, logger=name)
    spec = make_spec(n=64, chunk_size=64)
    run = run_study(spec, sweeps_root / "dask", workers=2, progress=False)
    assert run.chunks_run == 5
    assert dict(os.environ) == environ
    here = run_study(spec, sweeps_root / "here", evaluator=InProcess(), progress=False)
    first, second = _results(run.directory), _results(here.directory)
    assert first.keys() == second.keys()
    for name in first:
        assert np.array_equal(first[name], second[name]), name
    dask_info = [
        record
        for record in caplog.records
        if record.name.split(".")[0] in ("distributed", "dask") and record.levelno < logging.WARNING
    ]
    assert not dask_info, [record.getMessage() for record in dask_info]
    captured = capfd.readouterr()
    assert "INFO" not in captured.err and "INFO" not in captured.out, captured.err
    assert logging.getLogger("distributed").level == logging.INFO  # restored after the study


def test_run_in_memory_gives_a_stored_study_s_numbers_and_writes_nothing(
    make_spec, sweeps_root: Path, tmp_path: Path, monkeypatch
) -> None:
    """``migsys.sweeps.run(spec)``: SALib's three lines, no cluster, no store."""
    from migsys import sweeps

    spec = make_spec(n=64, chunk_size=100)
    stored = run_study(spec, sweeps_root, evaluator=InProcess(), progress=False)
    monkeypatch.chdir(tmp_path)
    before = sorted(p for p in tmp_path.rglob("*"))
    frame = sweeps.run(spec)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written
    assert list(frame.columns) == ["scenario_id", "x1", "x2", "x3", "y"]
    reference = _results(stored.directory)
    for name in frame.columns:
        assert np.array_equal(frame[name].to_numpy(), reference[name]), name
    as_dict = {
        "study": {"name": "ishigami-test", "kernel": "ishigami", "seed": 11, "chunk_size": 7},
        "design": {"method": "sobol", "n": 64},
        "parameters": {f"x{i}": {"low": -np.pi, "high": np.pi} for i in (1, 2, 3)},
    }
    assert sweeps.run(as_dict).equals(frame)  # whatever the chunking
