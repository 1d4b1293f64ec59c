"""Helpers of the fault tests (fixtures are in this folder's conftest.py)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

MIGSYS = Path(sys.executable).parent / "migsys"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_migsys(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 900
) -> subprocess.CompletedProcess:
    """``migsys ARGS`` in a child process; stdout and stderr as text."""
    return subprocess.run(
        [str(MIGSYS), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
