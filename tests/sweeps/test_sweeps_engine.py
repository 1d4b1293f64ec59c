"""The engine: results independent of chunk size and interruptions; resumes only missing chunks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pytest

from migsys.sweeps import store
from migsys.sweeps.engine import StudyConflict, run_study, study_fingerprint, study_status

pytestmark = pytest.mark.filterwarnings("ignore:.*(Port|port).*:UserWarning")


def _results(directory: Path) -> dict[str, np.ndarray]:
    table = ds.dataset(directory / "parts", format="parquet", partitioning="hive").to_table()
    table = table.drop_columns(["chunk"]).sort_by("scenario_id")
    return {name: table.column(name).to_numpy() for name in table.column_names}


def test_chunk_size_does_not_change_results(
    make_spec, sweeps_root: Path, dask_scheduler: str
) -> None:
    small = run_study(
        make_spec(chunk_size=1000), sweeps_root / "a", scheduler=dask_scheduler, progress=False
    )
    prime = run_study(
        make_spec(chunk_size=7919), sweeps_root / "b", scheduler=dask_scheduler, progress=False
    )
    assert small.chunks_total == 11 and prime.chunks_total == 2
    assert small.fingerprint == prime.fingerprint
    first, second = _results(small.directory), _results(prime.directory)
    assert first.keys() == second.keys() == {"scenario_id", "x1", "x2", "x3", "y"}
    for name in first:
        assert np.array_equal(first[name], second[name]), name
    assert np.array_equal(first["scenario_id"], np.arange(2048 * 5))


def test_rerun_fills_only_missing_chunks(make_spec, sweeps_root: Path, dask_scheduler: str) -> None:
    spec = make_spec(chunk_size=1000)
    full = run_study(spec, sweeps_root / "full", scheduler=dask_scheduler, progress=False)
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
    (study.parts / "chunk=000000003000" / ".part.parquet.tmp-dead").write_bytes(b"half")
    # The manifest-less part is complete and adopted; exactly the two lost chunks run again
    # (with their recorded ranges, whatever the chunk size now).
    resumed = run_study(
        spec.model_copy(update={"chunk_size": 512}),
        sweeps_root / "full",
        scheduler=dask_scheduler,
        progress=False,
    )
    assert resumed.scenarios_run == 1000 + 240
    assert resumed.chunks_run == resumed.chunks_repaired == 2
    after = _results(full.directory)
    for name in reference:
        assert np.array_equal(reference[name], after[name]), name
    assert not list(study.parts.glob("*/.*tmp*"))
    again = run_study(spec, sweeps_root / "full", scheduler=dask_scheduler, progress=False)
    assert again.chunks_run == 0


def test_changed_spec_does_not_mix_with_old_results(
    make_spec, sweeps_root: Path, dask_scheduler: str
) -> None:
    run_study(make_spec(n=64), sweeps_root, scheduler=dask_scheduler, progress=False)
    with pytest.raises(
        StudyConflict,
        match=r"ishigami-test holds results of another version of this study \(changed: spec",
    ):
        run_study(make_spec(n=64, seed=12), sweeps_root, scheduler=dask_scheduler, progress=False)


def test_status_and_parquet_are_queryable(
    make_spec, sweeps_root: Path, dask_scheduler: str
) -> None:
    assert study_status(sweeps_root, "ishigami-test").state == "missing"
    spec = make_spec(n=64, chunk_size=100)
    run = run_study(spec, sweeps_root, scheduler=dask_scheduler, progress=False)
    status = study_status(sweeps_root, "ishigami-test")
    assert (status.state, status.scenarios_done, status.chunks_done) == ("finished", 320, 4)
    glob = str(run.directory / "parts" / "*" / "*.parquet")
    count, chunks = duckdb.sql(
        f"select count(*), count(distinct chunk) from read_parquet('{glob}', hive_partitioning = true)"
    ).fetchall()[0]
    assert (count, chunks) == (320, 4)
    record = json.loads((run.directory / "study.json").read_text())
    assert record["fingerprint"] == study_fingerprint(
        spec, record["fixed_parameters"], record["kernel_version"], record["data_fingerprint"]
    )
    assert record["kernel_version"] == "ishigami-v1"
