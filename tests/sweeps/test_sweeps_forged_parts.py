"""Parts that prove where they come from (issue 17, item 3), through `migsys sweep run` in its
own process on the session's Dask cluster.

Before: a part whose outcomes were multiplied by 10, or a part of another study (another seed),
with its line dropped from chunks.jsonl, was adopted as intact: the study was "finished" and
``migsys.study()`` served the forged values. A study.json whose n_scenarios was edited was
"repaired" with exit 0 into a corrupt study (one part quarantined, never re-run).
Now each part names its study fingerprint and chunk in its metadata; a part without a manifest
line is adopted only if that fingerprint matches and a recomputed scenario agrees, else it is
quarantined (the run says so) and its chunk runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import migsys
from migsys.sweeps import store
from migsys.sweeps.engine import run_study, study_status
from migsys.sweeps.evaluators import InProcess
from migsys.sweeps.spec import load_spec

MIGSYS = Path(sys.executable).parent / "migsys"
SPEC = """
[study]
name = "proven"
kernel = "ishigami"
seed = {seed}
chunk_size = 64

[design]
method = "sobol"
n = 64

[parameters]
x1 = {{ low = -3.141592653589793, high = 3.141592653589793 }}
x2 = {{ low = -3.141592653589793, high = 3.141592653589793 }}
x3 = {{ low = -3.141592653589793, high = 3.141592653589793 }}
"""


def sweep(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MIGSYS_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    command = [str(MIGSYS), "sweep", *args]
    if args[0] == "run":
        command += ["--in-process", "--no-progress"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def hashes(study: Path) -> dict[str, str]:
    return {
        p.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((study / "parts").glob("*/part.parquet"))
    }


def drop_manifest_line(study: Path, start: int) -> None:
    manifest = study / store.MANIFEST_FILE
    lines = [
        line for line in manifest.read_text().splitlines() if json.loads(line)["start"] != start
    ]
    manifest.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 320-scenario study (seed 17) and, beside it, the same study with seed 18
    (run in this process: only the faults are driven through the CLI)."""
    root = tmp_path_factory.mktemp("proven")
    for seed in (17, 18):
        spec = root / f"seed{seed}.toml"
        spec.write_text(SPEC.format(seed=seed))
        run_study(
            load_spec(spec),
            root / f"home{seed}" / "sweeps",
            evaluator=InProcess(),
            progress=False,
        )
    return root


@pytest.fixture()
def study(finished: Path, tmp_path: Path) -> Path:
    """A private copy of the finished seed-17 study's home; returns the study folder."""
    shutil.copytree(finished / "home17", tmp_path / "home")
    return tmp_path / "home" / "sweeps" / "proven"


def rerun(study: Path, finished: Path) -> str:
    """`migsys sweep run` on the study's spec: it must finish whole, bitwise the original."""
    done = sweep(study.parents[1], "run", str(finished / "seed17.toml"))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert hashes(study) == hashes(finished / "home17" / "sweeps" / "proven")
    assert study_status(study.parent, "proven").state == "finished"
    return output


def test_a_part_with_forged_values_and_no_manifest_line_is_recomputed(
    study: Path, finished: Path
) -> None:
    part = study / "parts" / "chunk=000000000064" / "part.parquet"
    table = pq.read_table(part)  # its metadata (fingerprint, chunk) is kept as it was
    table = table.set_column(table.column_names.index("y"), "y", pc.multiply(table["y"], 10))
    pq.write_table(table, part)
    drop_manifest_line(study, 64)

    output = rerun(study, finished)

    assert "warning: quarantined parts/chunk=000000000064/part.parquet (scenarios 64..127): " in (
        output
    )
    assert "recomputed with the kernel gives y = " in output
    assert "proven: 1 of 5 chunks run" in output
    (kept,) = (study / "quarantine").iterdir()  # the forged part, set aside, not deleted
    assert np.allclose(pq.read_table(kept)["y"].to_numpy(), table["y"].to_numpy())
    served = migsys.study("proven", study.parents[1]).outcomes.set_index("scenario_id")["y"]
    assert np.allclose(served.loc[64:127].to_numpy(), table["y"].to_numpy() / 10, rtol=1e-12)


def test_a_part_of_another_study_is_refused_by_its_fingerprint(study: Path, finished: Path) -> None:
    chunk = "chunk=000000000128"
    other = finished / "home18" / "sweeps" / "proven" / "parts" / chunk / "part.parquet"
    shutil.copyfile(other, study / "parts" / chunk / "part.parquet")
    drop_manifest_line(study, 128)

    status = sweep(study.parents[1], "status", "proven")
    assert status.returncode == 3, status.stdout + status.stderr  # corrupt, not "interrupted"
    assert "was computed for study fingerprint" in status.stderr

    output = rerun(study, finished)
    assert f"quarantined parts/{chunk}/part.parquet (scenarios 128..191): not in the manifest" in (
        output
    )
    assert "(a part of another study, seed or version)" in output


def test_an_edited_scenario_count_is_restored_not_half_repaired(
    study: Path, finished: Path
) -> None:
    record = json.loads((study / "study.json").read_text()) | {"n_scenarios": 256}
    (study / "study.json").write_text(json.dumps(record))

    status = sweep(study.parents[1], "status", "proven")
    assert status.returncode == 3, status.stdout + status.stderr
    assert "study.json records 256 scenarios, its spec defines 320 (edited?)" in status.stderr

    output = rerun(study, finished)  # nothing quarantined, nothing lost
    assert "quarantined" not in output and "proven: 0 of 5 chunks run" in output
    assert json.loads((study / "study.json").read_text())["n_scenarios"] == 320
