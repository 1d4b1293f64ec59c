"""A self-checking sweep store: faults of a finished study found, refused and repaired.

Each fault of the issue is reproduced on a finished study: a part copied over another chunk's
part, a truncated part, an edited manifest ("finished 384/320"), stray entries, folders that are
not studies, two runs of one study at once. ``sweep status`` reports it with a non-zero exit,
``sweep analyze`` refuses the study, the warehouse load quarantines it with the reason, and
``sweep run`` repairs exactly what is bad, bitwise to the original results.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from migsys.cli.app import app
from migsys.sweeps import store
from migsys.sweeps.engine import study_status
from migsys.sweeps.warehouse import load_sweeps

SPEC = """
[study]
name = "stored"
kernel = "ishigami"
seed = 17
chunk_size = 64

[design]
method = "sobol"
n = 64

[parameters]
x1 = { low = -3.141592653589793, high = 3.141592653589793 }
x2 = { low = -3.141592653589793, high = 3.141592653589793 }
x3 = { low = -3.141592653589793, high = 3.141592653589793 }
"""
STATUS_CORRUPT, STATUS_INCOMPLETE = 3, 4


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Study:
    """A finished study in its own MIGSYS_HOME, run through the CLI on the test cluster."""

    def __init__(self, tmp_path: Path, monkeypatch) -> None:
        self.home = tmp_path / "home"
        monkeypatch.setenv("MIGSYS_HOME", str(self.home))
        self.spec = tmp_path / "stored.toml"
        self.spec.write_text(SPEC)
        self.runner = CliRunner()
        result = self.run()
        assert result.exit_code == 0, result.output
        self.dir = self.home / "sweeps" / "stored"
        self.original = self.part_hashes()
        assert len(self.original) == 5

    def cli(self, *args: str):
        return self.runner.invoke(app, ["sweep", *args])

    def run(self):
        return self.cli("run", str(self.spec), "--in-process", "--no-progress")

    def part(self, start: int) -> Path:
        return self.dir / "parts" / f"chunk={start:012d}" / "part.parquet"

    def part_hashes(self) -> dict[str, str]:
        return {p.parent.name: _sha(p) for p in sorted((self.dir / "parts").glob("*/part.parquet"))}

    def assert_refused_everywhere(self, *expected: str) -> None:
        status = self.cli("status", "stored")
        assert status.exit_code == STATUS_CORRUPT, status.output
        for text in expected:
            assert text in status.output, status.output
        analyze = self.cli("analyze", "stored")
        assert analyze.exit_code == 2 and "do not verify" in analyze.output, analyze.output
        loaded = load_sweeps(duckdb.connect(), self.home / "sweeps")
        assert loaded.loaded == [] and [q.name for q in loaded.quarantined] == ["stored"]
        assert expected[0] in loaded.quarantined[0].reason

    def assert_repaired(self, ran: int, repaired: int) -> None:
        result = self.run()
        assert result.exit_code == 0, result.output
        extra = f", {repaired} repaired" if repaired else ""
        assert f"stored: {ran} of 5 chunks run{extra}" in result.output, result.output
        assert self.part_hashes() == self.original  # bitwise the original results
        status = self.cli("status", "stored")
        assert status.exit_code == 0 and "finished" in status.output, status.output
        assert self.cli("analyze", "stored").exit_code == 0
        assert load_sweeps(duckdb.connect(), self.home / "sweeps").loaded == ["stored"]


@pytest.fixture()
def study(tmp_path: Path, monkeypatch) -> Study:
    return Study(tmp_path, monkeypatch)


def test_a_part_copied_over_another_chunk_is_found_and_rerun(study: Study) -> None:
    shutil.copy(study.part(64), study.part(128))
    study.assert_refused_everywhere(
        "parts/chunk=000000000128/part.parquet (scenarios 128..191): sha256 differs"
    )
    study.assert_repaired(ran=1, repaired=1)
    quarantined = list((study.dir / "quarantine").iterdir())
    assert len(quarantined) == 1 and _sha(quarantined[0]) == study.original["chunk=000000000064"]


def test_a_truncated_part_is_found_and_rerun(study: Study) -> None:
    data = study.part(192).read_bytes()
    study.part(192).write_bytes(data[: len(data) // 2])
    study.assert_refused_everywhere("chunk=000000000192/part.parquet (scenarios 192..255)")
    study.assert_repaired(ran=1, repaired=1)


def test_a_deleted_part_is_found_and_rerun(study: Study) -> None:
    study.part(0).unlink()
    study.assert_refused_everywhere("chunk=000000000000/part.parquet (scenarios 0..63): missing")
    study.assert_repaired(ran=1, repaired=1)


def test_an_edited_manifest_is_found_and_rewritten(study: Study) -> None:
    manifest = study.dir / "chunks.jsonl"
    lines = manifest.read_text().splitlines()
    forged = json.loads(lines[0]) | {"start": 32, "stop": 96}
    manifest.write_text("\n".join([*lines, json.dumps(forged)]) + "\n")
    # The old store reported "finished 384/320" here; now the manifest does not add up.
    study.assert_refused_everywhere("claims 384 scenarios of 320")
    assert study_status(study.home / "sweeps", "stored").scenarios_done == 320
    study.assert_repaired(ran=0, repaired=0)
    assert len(manifest.read_text().splitlines()) == 5


def test_stray_entries_in_parts_are_set_aside(study: Study) -> None:
    stray = study.dir / "parts" / "chunk=000000000064.bak"
    stray.mkdir()
    shutil.copy(study.part(64), stray / "part.parquet")
    study.assert_refused_everywhere("parts/chunk=000000000064.bak: stray entry in parts/")
    study.assert_repaired(ran=0, repaired=0)
    assert not stray.exists() and len(list((study.dir / "quarantine").iterdir())) == 1


def test_the_refresh_ignores_what_is_not_a_study_and_quarantines_bad_ones(
    study: Study, tmp_path: Path
) -> None:
    root = study.home / "sweeps"
    (root / "stray").mkdir()
    (root / "notes.txt").write_text("not a study")
    shutil.copytree(study.dir, root / "stored.bak")
    shutil.copytree(study.dir, root / f".stored.old-{os.getpid()}")
    shutil.copytree(study.dir, root / "stored-copy")
    half = root / "half"
    shutil.copytree(study.dir, half)
    record = json.loads((half / "study.json").read_text()) | {"name": "half", "state": "running"}
    (half / "study.json").write_text(json.dumps(record))
    shutil.rmtree(half / "parts" / "chunk=000000000000")
    con = duckdb.connect()
    loaded = load_sweeps(con, root)
    assert loaded.loaded == ["stored"]
    reasons = {q.name: q.reason for q in loaded.quarantined}
    assert set(reasons) == {"half", "stored-copy"}
    assert "names study 'stored', not the folder's 'stored-copy'" in reasons["stored-copy"]
    assert "missing" in reasons["half"]
    assert {p.name for p in loaded.ignored} == {
        "stray",
        "notes.txt",
        "stored.bak",
        f".stored.old-{os.getpid()}",
    }
    assert con.execute("select study from sweeps.studies").fetchall() == [("stored",)]
    assert con.execute(
        "select study from sweeps.quarantined_studies order by study"
    ).fetchall() == [("half",), ("stored-copy",)]


def test_two_runs_of_one_study_cannot_both_write(study: Study) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from migsys.sweeps import store\n"
            f"with store.study_lock(store.StudyDir(Path({str(study.dir)!r}))):\n"
            "    print('locked', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = study.run()
        assert result.exit_code == 2, result.output
        assert "another `migsys sweep run` is writing this study (pid" in result.output
        status = study_status(study.home / "sweeps", "stored")
        assert status.state == "running" and f"pid {holder.pid}" in status.lock_holder
    finally:
        holder.kill()
        holder.wait(timeout=30)
    deadline = time.monotonic() + 30
    while store.lock_holder(store.StudyDir(study.dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert study.run().exit_code == 0
    assert study.part_hashes() == study.original


def test_an_interrupted_study_is_incomplete_not_corrupt(study: Study) -> None:
    record = json.loads((study.dir / "study.json").read_text()) | {"state": "running"}
    (study.dir / "study.json").write_text(json.dumps(record))
    manifest = study.dir / "chunks.jsonl"
    # A client killed before recording two chunks (lines are in completion order, not by start).
    lines = [line for line in manifest.read_text().splitlines() if json.loads(line)["start"] < 192]
    manifest.write_text("\n".join(lines) + "\n")
    shutil.rmtree(study.part(256).parent)
    status = study.cli("status", "stored")
    assert status.exit_code == STATUS_INCOMPLETE, status.output
    assert "1 intact parts (64 scenarios) not in the manifest" in status.output
    study.assert_repaired(ran=1, repaired=0)  # the unrecorded part is adopted, one gap runs


def test_parts_without_a_study_record_are_set_aside_not_mixed(study: Study) -> None:
    (study.dir / "study.json").unlink()
    shutil.copytree(study.part(64).parent, study.dir / "parts" / "chunk=000000000050")
    result = study.run()
    assert result.exit_code == 0, result.output
    assert "stored: 5 of 5 chunks run" in result.output
    assert study.part_hashes() == study.original
    kept = {p.name.rsplit("-", 1)[-1] for p in (study.dir / "quarantine").iterdir()}
    assert kept == {"parts", "chunks.jsonl"}


def test_write_part_is_atomic_and_returns_the_digest_the_manifest_records(tmp_path: Path) -> None:
    """A part is written through a temporary sibling and a rename, encoded as measured (plain,
    required columns, statistics for scenario_id only), and its sha256 is that of the file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array(np.arange(5, 9, dtype=np.int64)), pa.array(np.linspace(0.0, 1.0, 4))]
    schema = pa.schema(
        [pa.field("scenario_id", pa.int64(), nullable=False), pa.field("y", pa.float64(), False)]
    )
    table = pa.Table.from_arrays(arrays, schema=schema)
    path = tmp_path / "parts" / "chunk=5" / store.PART_NAME
    path.parent.mkdir(parents=True)
    path.write_bytes(b"an older part")
    digest = store.write_part(path, table)
    assert digest == store.file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name for p in path.parent.iterdir()] == [store.PART_NAME]  # no temporary left
    assert pq.read_table(path).equals(table)
    row_group = pq.ParquetFile(path).metadata.row_group(0)
    assert row_group.column(0).compression == row_group.column(1).compression == "UNCOMPRESSED"
    assert row_group.column(0).statistics is not None and row_group.column(1).statistics is None
    record, problem = store.inspect_part(path, 5)
    assert problem == "" and record is not None and record.sha256 == digest
