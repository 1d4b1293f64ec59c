"""The project's own modules, for tests that read its code (scans of the syntax tree)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def project_modules() -> list[Path]:
    """Every module of the installed packages (the top-level folders with an ``__init__.py``:
    flows, warehouse, sweeps, …) and the deploy scripts; the tests aside."""
    packages = [p.parent for p in REPO_ROOT.glob("*/__init__.py") if p.parent.name != "tests"]
    modules = [module for package in packages for module in package.rglob("*.py")]
    return sorted([*modules, *(REPO_ROOT / "deploy").glob("*.py")])
