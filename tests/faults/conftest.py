"""Fault tests: each damages what an operator's machine holds (a source file, a sweep part, the
published warehouse, the disk, the home folder) and drives `migsys` as an operator would, in its
own process, then checks what it said and that nothing good was lost.

They read their results from the outside only (exit code, output, files on disk), so they stay
valid whatever the code under them becomes. Refreshes start from a private copy of the
session's published warehouse (``published_copy``) and check its sha256 where input was refused.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_tools import run_migsys


@pytest.fixture()
def damaged_sources(real_sources: Path, tmp_path: Path) -> Callable[..., Path]:
    """``damaged_sources({file: transform})``: a sources folder of symlinks to the real files,
    except each damaged one, a copy of the real bytes passed through its ``transform``."""

    def make(damage: dict[str, Callable[[bytes], bytes]]) -> Path:
        folder = tmp_path / "sources"
        for path in sorted(real_sources.rglob("*")):
            relative = path.relative_to(real_sources).as_posix()
            if not path.is_file():
                continue
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if relative in damage:
                target.write_bytes(damage[relative](path.read_bytes()))
            else:
                target.symlink_to(path)
        return folder

    return make


@pytest.fixture()
def refresh_cli(cli_env: dict[str, str], no_studies_config: Path, tmp_path: Path):
    """``refresh_cli(paths, *flags)``: `migsys refresh` on ``paths`` (home and sources), without
    standing studies, as a child process."""

    def run(paths, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        environment = {
            **cli_env,
            "MIGSYS_HOME": str(paths.home),
            "MIGSYS_SOURCES": str(paths.sources),
            **(env or {}),
        }
        return run_migsys(
            "refresh", "--config", str(no_studies_config), *flags, env=environment, cwd=tmp_path
        )

    return run
