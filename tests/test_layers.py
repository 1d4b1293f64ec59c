"""The layers point one way: the kernels import nothing of the project, and no import cycle.

Read from the syntax tree of every module (nothing is imported): ``import`` statements wherever
they are (inside functions too), and strings that name a project module (``"migsys.sweeps.x"``,
``"migsys.x:function"``, as plugin references or Dask preloads do), since a cycle through a
string is a cycle that scans and IDEs cannot see.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The repository's folders and the package each is installed as (pyproject.toml).
PACKAGES = {
    "migsys": "migsys",
    "kernels": "migsys.kernels",
    "warehouse": "migsys.warehouse",
    "projections": "migsys.projections",
    "reports": "migsys.reports",
    "sweeps": "migsys.sweeps",
    "flows": "migsys.flows",
    "bench": "migsys.bench",
}
PROJECT_FOLDERS = "|".join(folder for folder in PACKAGES if folder != "migsys")
# A string naming a project module, with or without the package prefix, maybe ":function".
MODULE_STRING = re.compile(rf"(?:migsys\.)?(?:{PROJECT_FOLDERS})(?:\.\w+)+(?::\w+)?")


def _modules() -> dict[str, Path]:
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            parts = [p for p in path.relative_to(REPO_ROOT / folder).with_suffix("").parts]
            modules[".".join([package, *(p for p in parts if p != "__init__")])] = path
    return modules


MODULES = _modules()


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a tree (they describe, they do not reference)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _resolve(name: str) -> str:
    """The project module a dotted name refers to: itself, or the nearest enclosing module
    (``migsys.sweeps.x.function`` -> ``migsys.sweeps.x``)."""
    name = name if name.startswith("migsys") else f"migsys.{name}"
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def references(module: str) -> dict[str, str]:
    """Project modules ``module`` imports or names in a string: {module: how}."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    docstrings = _docstrings(tree)
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        names: list[tuple[str, str]] = []
        if isinstance(node, ast.Import):
            names = [(alias.name, f"import {alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names = [
                (f"{base}.{alias.name}", f"from {base} import {alias.name}") for alias in node.names
            ]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and MODULE_STRING.fullmatch(node.value)
        ):
            names = [(node.value.partition(":")[0], f"the string {node.value!r}")]
        for name, how in names:
            if name.startswith("migsys") or name.partition(".")[0] in PACKAGES:
                target = _resolve(name)
                if target and target != module and target != "migsys":
                    found.setdefault(target, f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {how}")
    return found


GRAPH = {module: references(module) for module in MODULES}


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.startswith("migsys.kernels")], ids=lambda m: m
)
def test_the_kernels_import_and_name_nothing_else_of_the_project(module: str) -> None:
    outside = {
        target: how
        for target, how in GRAPH[module].items()
        if not target.startswith("migsys.kernels")
    }
    assert not outside, "\n".join(outside.values())


def _cycles(graph: dict[str, dict[str, str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def test_no_import_cycle_including_through_strings() -> None:
    cycles = _cycles(GRAPH)
    explained = [
        "\n".join(f"  {GRAPH[a][b]}" for a in sorted(c) for b in sorted(c) if b in GRAPH[a])
        for c in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n\n".join(explained)


def test_the_scan_sees_imports_in_functions_and_strings() -> None:
    """The scan itself: a lazy import and a "module:function" string are references."""
    assert "migsys.kernels.depopulation" in GRAPH["migsys.sweeps.kernel_adapters"]
    assert "migsys.sweeps.worker_exit" in GRAPH["migsys.sweeps.evaluators"]  # a preload string
    graph = {"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}
    assert _cycles(graph) == [{"a", "b", "c"}]
