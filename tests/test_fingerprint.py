"""The one fingerprint (``migsys.fingerprint``): code by its syntax tree, inputs by content.

Each guarantee on a small package written here: an edit of what runs changes the fingerprint,
wherever it is among the modules the root imports; a docstring, a comment or a layout edit does
not; neither does an edit of a module the root does not import; inputs count by content.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from migsys.fingerprint import code_modules, fingerprint

MODULES = {
    "__init__.py": '"""A package."""\n',
    "model.py": '''"""The model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import helpers

if TYPE_CHECKING:
    from .typing_only import Shape


def evaluate(x: float) -> float:
    """Twice the helper's value."""
    return 2 * helpers.scale(x)  # the factor of the paper


def lazily(x: float) -> float:
    from .lazy import offset

    return x + offset()
''',
    "helpers.py": '"""Helpers."""\n\nFACTOR = 3.0\n\n\ndef scale(x):\n    return FACTOR * x\n',
    "lazy.py": "def offset():\n    return 1.0\n",
    "typing_only.py": "Shape = tuple\n",
    "unrelated.py": "VALUE = 1\n",
    "tables/rates.csv": "name,value\na,1\n",
}


@pytest.fixture()
def package(tmp_path: Path, monkeypatch):
    """A fresh package on sys.path: (its folder, its model module)."""
    name = f"fp_{uuid.uuid4().hex[:8]}"
    root = tmp_path / name
    for relative, text in MODULES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    model = importlib.import_module(f"{name}.model")
    yield root, model
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_code_is_the_root_and_what_it_imports(package) -> None:
    root, model = package
    names = {name.removeprefix(f"{root.name}.") for name in code_modules(model)}
    # TYPE_CHECKING imports never run; the unrelated module is not imported.
    assert names == {"model", "helpers", "lazy"}
    assert code_modules(model.evaluate) == code_modules(model)  # a function stands for its module


@pytest.mark.parametrize(
    ("relative", "old", "new"),
    [
        ("model.py", "return 2 *", "return 3 *"),
        ("helpers.py", "FACTOR = 3.0", "FACTOR = 3.5"),  # imported
        ("lazy.py", "return 1.0", "return 1.5"),  # imported inside a function
        ("tables/rates.csv", "a,1", "a,2"),  # data the package ships
    ],
)
def test_an_edit_of_what_runs_changes_it(package, relative: str, old: str, new: str) -> None:
    root, model = package
    before = fingerprint(code=[model])
    _edit(root / relative, old, new)
    assert fingerprint(code=[model]) != before


@pytest.mark.parametrize(
    ("relative", "old", "new"),
    [
        ("model.py", '"""Twice the helper\'s value."""', '"""Twice the value (edited)."""'),
        ("model.py", '"""The model."""', '"""The model, documented at length."""'),
        ("model.py", "# the factor of the paper", "# another comment"),
        ("helpers.py", "def scale(x):\n    return", "def scale(x):\n\n    return"),
        ("unrelated.py", "VALUE = 1", "VALUE = 2"),  # not imported
        ("typing_only.py", "Shape = tuple", "Shape = list"),  # only for type checkers
    ],
)
def test_docstrings_comments_layout_and_other_modules_do_not(
    package, relative: str, old: str, new: str
) -> None:
    root, model = package
    before = fingerprint(code=[model])
    _edit(root / relative, old, new)
    assert fingerprint(code=[model]) == before


@dataclass(frozen=True)
class Units:
    population: np.ndarray
    label: str


def test_inputs_count_by_content(tmp_path: Path) -> None:
    frame = pd.DataFrame({"year": [2000, 2010], "value": [1.0, 2.0]})
    base = [b"raw", "text", 3, 2.5, None, np.arange(4.0), frame, Units(np.ones(3), "a")]
    same = [b"raw", "text", 3, 2.5, None, np.arange(4.0), frame.copy(), Units(np.ones(3), "a")]
    assert fingerprint(inputs=base) == fingerprint(inputs=same)
    changed = [
        [b"raw!", *base[1:]],
        [*base[:5], np.arange(4.0) + 1e-12, *base[6:]],
        [*base[:6], frame.assign(value=[1.0, 2.5]), base[7]],
        [*base[:7], Units(np.ones(3), "b")],
        [*base[:3], 2.5000001, *base[4:]],
    ]
    for other in changed:
        assert fingerprint(inputs=other) != fingerprint(inputs=base)
    # Kinds and splits are told apart.
    assert fingerprint(inputs=[["ab"]]) != fingerprint(inputs=[["a", "b"]])
    assert fingerprint(inputs=[1]) != fingerprint(inputs=["1"])
    assert fingerprint(inputs=[{"a": 1, "b": 2}]) == fingerprint(inputs=[{"b": 2, "a": 1}])
    with pytest.raises(TypeError, match="cannot hash the content of a object"):
        fingerprint(inputs=[object()])


def test_a_folder_counts_by_its_files_not_by_tool_output(tmp_path: Path) -> None:
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "models" / "a.sql").write_text("select 1")
    before = fingerprint(inputs=[project])
    for ignored in ("target", "logs", "dbt_packages", "__pycache__"):
        (project / ignored).mkdir()
        (project / ignored / "out.json").write_text("{}")
    assert fingerprint(inputs=[project]) == before
    (project / "models" / "a.sql").write_text("select 2")
    assert fingerprint(inputs=[project]) != before
    (project / "models" / "a.sql").rename(project / "models" / "b.sql")
    assert fingerprint(inputs=[project]) != before


def test_code_and_inputs_combine(package) -> None:
    _, model = package
    assert fingerprint(code=[model], inputs=[1]) != fingerprint(code=[model], inputs=[2])
    assert fingerprint(code=[model], inputs=[1]) != fingerprint(inputs=[1])
    assert len(fingerprint(code=[model])) == 24


def test_the_spurious_ast_error_of_python_3_11_is_tried_again(monkeypatch) -> None:
    """CPython 3.11 can fail a parse with "AST constructor recursion depth mismatch" when another
    thread builds a syntax tree at the same time; a second parse of the same source succeeds."""
    import ast

    from migsys import fingerprint as module

    real_parse = ast.parse
    failures = {"left": 1}

    def flaky_parse(source, filename="<unknown>", *args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise SystemError("AST constructor recursion depth mismatch (before=153, after=173)")
        return real_parse(source, filename, *args, **kwargs)

    monkeypatch.setattr(module.ast, "parse", flaky_parse)
    assert isinstance(module._parse(b"x = 1\n"), ast.Module)
    assert failures["left"] == 0

    def broken_parse(source, filename="<unknown>", *args, **kwargs):
        raise SystemError("another error")

    monkeypatch.setattr(module.ast, "parse", broken_parse)
    with pytest.raises(SystemError, match="another error"):
        module._parse(b"x = 1\n")


def test_an_installed_project_fingerprints_as_its_checkout(package, monkeypatch) -> None:
    """Installed from the wheel, the project's root package folder holds its other packages
    (``dbt_project``, ``studies``: folders without ``__init__.py``); they are not data of the
    root package, so the fingerprint of an installation is that of the checkout (the forecasts
    computed in one are reused by the other)."""
    from migsys import fingerprint as module

    root, model = package
    data_package = root / "dbt_project"
    data_package.mkdir()
    (data_package / "model.sql").write_text("select 1\n")
    monkeypatch.setattr(module, "PROJECT", root.name)  # the toy package plays the project's root
    before = fingerprint(code=[model])
    _edit(data_package / "model.sql", "select 1", "select 2")
    _edit(root / "tables" / "rates.csv", "a,1", "a,2")  # a folder of the root: not its data
    assert fingerprint(code=[model]) == before
    (root / "notes.txt").write_text("a file of the root package itself counts")
    assert fingerprint(code=[model]) != before
