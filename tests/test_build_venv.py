"""`make venv`'s installer choice (issue 18, finding 8: the first run spent ~4 min in pip).

``deploy/build_venv.sh`` runs as a real process against stand-ins for Python and uv that record
how they were called, so no package is downloaded: with uv it installs the lock with uv, each
step printed with its time; when uv fails it falls back to pip with the same constraints. The
time of a real build is measured by hand (the note of issue 18), not here.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "deploy" / "build_venv.sh"


def _stand_in(path: Path, record: Path, exit_code: str = "0") -> None:
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$(basename "$0") $*" >> {record}\n'
        f'[ "$1" = "--version" ] && {{ echo "stand-in 1.0"; exit 0; }}\n'
        f"exit {exit_code}\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _build(tmp_path: Path, uv_exit: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    record = tmp_path / "calls.txt"
    _stand_in(venv / "bin" / "python", record)  # an existing environment's interpreter
    tools = tmp_path / "tools"
    tools.mkdir()
    _stand_in(tools / "uv", record, uv_exit)
    done = subprocess.run(
        ["bash", str(SCRIPT), str(venv)],
        cwd=REPO,
        env={**os.environ, "PATH": f"{tools}{os.pathsep}/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, record.read_text().splitlines()


def test_uv_installs_the_locked_set(tmp_path: Path) -> None:
    done, calls = _build(tmp_path, uv_exit="0")
    assert done.returncode == 0, done.stdout + done.stderr
    venv = tmp_path / "venv"
    # with the packages' bytecode: nothing writes it later where PYTHONDONTWRITEBYTECODE is set
    assert (
        f"uv pip install --python {venv}/bin/python --compile-bytecode "
        "-c requirements.lock -e .[dev]"
    ) in calls
    assert not [call for call in calls if "pip install" in call and call.startswith("python")]
    assert "packages (uv, requirements.lock)" in done.stdout
    assert "Environment ready in" in done.stdout


def test_pip_takes_over_when_uv_fails(tmp_path: Path) -> None:
    done, calls = _build(tmp_path, uv_exit="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "uv failed: pip instead (slower)" in done.stdout
    assert "python -m pip install -c requirements.lock -e .[dev]" in calls
