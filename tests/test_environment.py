"""The environment is read by the entry points alone and written by no module of migsys.

``migsys.settings.MigsysSettings`` is what an entry point reads; everything below takes it (or
its paths and limits) as arguments. Processes migsys starts get their environment as an ``env=``
mapping; the ``migsys`` program completes its own by starting again (``cli/launcher.py``).
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migsys.cli.app import app
from migsys.cli.launcher import PROCESS_ENVIRONMENT, program_environment
from migsys.settings import MigsysSettings, SettingsError

REPO_ROOT = Path(__file__).resolve().parent.parent

_WRITING_METHODS = {"setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__"}
_WRITING_FUNCTIONS = {"putenv", "unsetenv"}


def environ_writes(source: str) -> list[tuple[int, str]]:
    """Where ``source`` writes the process environment: ``(line, what)`` for each assignment to
    or deletion of an ``os.environ`` item, writing method call, ``os.putenv``/``os.unsetenv``,
    and each binding of ``os.environ`` itself to a name (writes through the name are invisible
    to a scan, so the binding counts as one)."""
    tree = ast.parse(source)
    os_names, environ_names, function_names = {"os"}, set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name == "environ":
                    environ_names.add(alias.asname or alias.name)
                elif alias.name in _WRITING_FUNCTIONS:
                    function_names.add(alias.asname or alias.name)

    def is_environ(node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            return isinstance(node.value, ast.Name) and node.value.id in os_names
        return isinstance(node, ast.Name) and node.id in environ_names

    def holds_environ(node: ast.AST | None) -> bool:  # the value itself, not a copy of it
        if isinstance(node, ast.IfExp):
            return holds_environ(node.body) or holds_environ(node.orelse)
        if isinstance(node, ast.BoolOp):
            return any(holds_environ(value) for value in node.values)
        return node is not None and is_environ(node)

    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Subscript) and is_environ(part.value):
                        verb = "del" if isinstance(node, ast.Delete) else "assignment to"
                        found.append((node.lineno, f"{verb} os.environ[...]"))
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and holds_environ(
            node.value
        ):
            found.append((node.lineno, "os.environ bound to a name"))
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and is_environ(func.value):
                if func.attr in _WRITING_METHODS:
                    found.append((node.lineno, f"os.environ.{func.attr}()"))
            elif (
                isinstance(func, ast.Attribute)
                and func.attr in _WRITING_FUNCTIONS
                and isinstance(func.value, ast.Name)
                and func.value.id in os_names
            ):
                found.append((node.lineno, f"os.{func.attr}()"))
            elif isinstance(func, ast.Name) and func.id in function_names:
                found.append((node.lineno, f"{func.id}()"))
    return sorted(found)


def _modules() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO_ROOT / name for name in listed if not name.startswith("tests/")]


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("import os\nos.environ['A'] = '1'", "assignment to os.environ[...]"),
        ("import os\nos.environ['A'] += '1'", "assignment to os.environ[...]"),
        ("import os\ndel os.environ['A']", "del os.environ[...]"),
        ("import os\nos.environ.setdefault('A', '1')", "os.environ.setdefault()"),
        ("import os\nos.environ.update(A='1')", "os.environ.update()"),
        ("import os\nos.environ.pop('A', None)", "os.environ.pop()"),
        ("import os as o\no.putenv('A', '1')", "os.putenv()"),
        ("import os\nos.unsetenv('A')", "os.unsetenv()"),
        ("from os import putenv\nputenv('A', '1')", "putenv()"),
        ("from os import environ as e\ne['A'] = '1'", "assignment to os.environ[...]"),
        ("import os\nenv = os.environ if x is None else x", "os.environ bound to a name"),
    ],
)
def test_the_scan_finds_each_way_of_writing_the_environment(source: str, what: str) -> None:
    assert environ_writes(source) == [(2, what)]


def test_the_scan_lets_reads_and_copies_pass() -> None:
    source = (
        "import os\n"
        "a = os.environ.get('A')\n"
        "b = dict(os.environ)\n"
        "c = {**os.environ, 'B': '1'}\n"
        "d = os.environ['A']\n"
        "e = {k: v for k, v in os.environ.items()}\n"
        "f = {}\n"
        "f['A'] = '1'\n"
        "f.setdefault('B', '2')\n"
    )
    assert environ_writes(source) == []


def test_no_module_writes_the_environment() -> None:
    modules = _modules()
    assert len(modules) > 50 and any(p.name == "settings.py" for p in modules)
    writes = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {what}"
        for path in modules
        for line, what in environ_writes(path.read_text(encoding="utf-8"))
    ]
    assert writes == [], "\n".join(writes)


def test_settings_read_the_environment_they_are_given(tmp_path: Path) -> None:
    environ = {
        "MIGSYS_HOME": str(tmp_path / "home"),
        "MIGSYS_SOURCES": str(tmp_path / "sources"),
        "MIGSYS_FORECAST_CACHE": str(tmp_path / "cache"),
        "MIGSYS_MAX_SCENARIOS": "20_000",
        "MIGSYS_PREFECT_URL": "http://127.0.0.1:9/api",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PATH": "/usr/bin",
    }
    settings = MigsysSettings.from_env(environ)
    assert settings.paths.home == tmp_path / "home"
    assert settings.paths.sources == tmp_path / "sources"
    assert settings.paths.sources_from == "environment"
    assert settings.paths.forecasts == tmp_path / "cache"
    assert settings.max_scenarios == 20_000
    assert settings.prefect_server_url == "http://127.0.0.1:9/api"
    assert settings.prefect_api_url is None
    assert settings.prefect_home == tmp_path / "prefect"
    assert settings.search_path == "/usr/bin"
    bare = MigsysSettings.from_env({"MIGSYS_HOME": str(tmp_path / "home")})
    assert bare.max_scenarios is None and bare.paths.forecasts == tmp_path / "home" / "forecasts"


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5"])
def test_a_bad_scenario_limit_is_refused_naming_the_variable(value: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=rf"MIGSYS_MAX_SCENARIOS='{value}': must be a positive"):
        MigsysSettings.from_env({"MIGSYS_HOME": str(tmp_path), "MIGSYS_MAX_SCENARIOS": value})


def test_sweep_run_takes_its_scenario_limit_from_the_environment(tmp_path: Path) -> None:
    spec = REPO_ROOT / "studies" / "ishigami_sobol.toml"
    env = {"MIGSYS_HOME": str(tmp_path / "home"), "MIGSYS_MAX_SCENARIOS": "10"}
    refused = CliRunner().invoke(app, ["sweep", "run", str(spec)], env=env)
    assert refused.exit_code == 2, refused.output
    assert "exceed the limit of 10 (MIGSYS_MAX_SCENARIOS" in refused.output
    bad = CliRunner().invoke(
        app, ["sweep", "run", str(spec)], env={**env, "MIGSYS_MAX_SCENARIOS": "x"}
    )
    assert bad.exit_code == 2 and "MIGSYS_MAX_SCENARIOS='x'" in bad.output


def test_the_program_completes_its_environment_and_keeps_the_operators_values() -> None:
    assert program_environment(dict(PROCESS_ENVIRONMENT)) is None  # nothing missing: no restart
    completed = program_environment({"PATH": "/bin", "DO_NOT_TRACK": "0"})
    assert completed == {**PROCESS_ENVIRONMENT, "PATH": "/bin", "DO_NOT_TRACK": "0"}
    assert PROCESS_ENVIRONMENT["DO_NOT_TRACK"] == "1"
