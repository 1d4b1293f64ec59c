"""The wheel: one `migsys` package that works outside the checkout.

The wheel is built from a copy of the checkout, installed into a fresh virtual environment in a
temporary folder, and `migsys refresh` runs there from another folder. The new environment gets
the project environment's third-party packages through a path entry (so the test needs no
network), but not its editable install of migsys: everything migsys imports, and the dbt project
and studies it reads, come from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERIC_NAMES = {"flows", "kernels", "warehouse", "sweeps", "projections", "reports", "bench"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "migsys"
    shutil.copytree(
        REPO_ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "var", "data", "*.egg-info", "__pycache__", ".pytest_cache", "build"
        ),
    )
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    [built] = dist.glob("migsys-*.whl")
    return built


def test_wheel_holds_one_namespace_with_the_dbt_project_and_studies(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names if not name.startswith("migsys-")}
    assert top_level == {"migsys"}, f"generic top-level modules in the wheel: {top_level}"
    assert not GENERIC_NAMES & top_level
    for needed in (
        "migsys/cli/app.py",
        "migsys/reports/templates/report.html.j2",
        "migsys/flows/nightly.py",
        "migsys/warehouse/parsers/inegi.py",
        "migsys/dbt_project/dbt_project.yml",
        "migsys/dbt_project/profiles.yml",
        "migsys/dbt_project/models/marts/fct_intensity_degree_summary.sql",
        "migsys/dbt_project/seeds/paper/paper_claims.csv",
        "migsys/studies/nightly.toml",
    ):
        assert needed in names, f"{needed} missing from the wheel"
    assert not [n for n in names if "/target/" in n or n.endswith(".duckdb")]


@pytest.mark.slow
def test_installed_wheel_refreshes_outside_the_checkout(
    wheel: Path, real_sources: Path, tmp_path: Path, cli_env: dict[str, str], no_studies_config
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # Third-party packages from the project environment; its .pth files (the editable install
    # of migsys) are not processed for a plain path entry.
    (Path(site) / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    installed = Path(site) / "migsys"
    before = sorted(
        p.relative_to(installed) for p in installed.rglob("*") if "__pycache__" not in p.parts
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **cli_env,
        "MIGSYS_HOME": str(tmp_path / "home"),
        "MIGSYS_SOURCES": str(real_sources),
        "PATH": f"{venv / 'bin'}{os.pathsep}{cli_env.get('PATH', '')}",
    }
    where = subprocess.run(
        [str(python), "-c", "import migsys.flows.nightly as m; print(m.__file__)"],
        cwd=elsewhere, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(installed)), where
    result = subprocess.run(
        [str(venv / "bin" / "migsys"), "refresh", "--config", str(no_studies_config)],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    con = duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True)
    (municipalities,) = con.execute(
        "select sum(municipalities) from fct_intensity_degree_summary where index_year = 2000"
    ).fetchone()
    con.close()
    assert municipalities == 2443
    after = sorted(
        p.relative_to(installed) for p in installed.rglob("*") if "__pycache__" not in p.parts
    )
    assert after == before, "a refresh wrote into the installed package"
    assert not (elsewhere / "var").exists(), "MIGSYS_HOME was given: nothing lands in the cwd"
