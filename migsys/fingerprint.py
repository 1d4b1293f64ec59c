"""Did this change? One answer for the whole project: :func:`fingerprint`.

A fingerprint is the sha256 (24 hex digits) of two things:

- **code**: the Python modules that compute a result, found from the roots given (modules or
  functions) by following their ``import`` statements, transitively, inside the roots' own
  top-level package and ``migsys``. Each module counts by its syntax tree with docstrings
  removed, so a comment, a docstring or a reformatting changes nothing, while any edit of what
  runs (a constant, a condition, a default) does. Imports are followed wherever they are written
  (inside functions too: a lazy import is still code that runs), except under
  ``if TYPE_CHECKING:``. The data files a package ships beside its modules (``kernels/parameters``,
  ``warehouse/embedded``: any file in the package folder that is not Python, outside
  sub-packages and caches) count with their bytes; the ``migsys`` folder's own sub-folders do not
  (installed, they are the project's other packages: :func:`_is_project_root`).
- **inputs**: the content of what that code reads: bytes, text, numbers, files and folders
  (names and bytes), NumPy arrays, pandas frames, dataclasses, and lists or mappings of these.

No version constant to bump, no git: the refresh's steps, the forecasts, the studies and the
calibrations all say "same code, same inputs" with this one function. It imports nothing of the
project, so every layer may use it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

__all__ = ["code_modules", "fingerprint"]

PROJECT = "migsys"
LENGTH = 24  # hex digits kept
# Folders never part of a package's data: caches and what tools write into a project.
IGNORED_PARTS = frozenset({"__pycache__", "target", "logs", "dbt_packages"})

CodeRoot = ModuleType | Callable


def fingerprint(*, code: Iterable[CodeRoot] = (), inputs: Iterable[object] = ()) -> str:
    """Hash of the code reachable from ``code`` (see the module docstring) and of ``inputs``."""
    digest = hashlib.sha256()
    modules = code_modules(*code)
    for name in modules:
        spec = _find_spec(name)
        assert spec is not None and spec.origin is not None
        digest.update(f"module {name}\n".encode())
        digest.update(_module_digest(Path(spec.origin).read_bytes()))
    for folder in _package_folders(modules):
        for path in _data_files(folder, into_folders=not _is_project_root(folder)):
            digest.update(f"data {path.relative_to(folder).as_posix()}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    for value in inputs:
        _feed(digest, value)
    return digest.hexdigest()[:LENGTH]


def code_modules(*roots: CodeRoot) -> tuple[str, ...]:
    """Names of the modules whose code a fingerprint of ``roots`` covers, sorted."""
    pending = [_module_name(root) for root in roots]
    packages = {PROJECT, *(name.partition(".")[0] for name in pending)}
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        spec = _find_spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            raise ValueError(f"{name}: no Python source to fingerprint")
        seen.add(name)
        tree = _parse(Path(spec.origin).read_bytes(), spec.origin)
        is_package = spec.submodule_search_locations is not None
        for imported in _imported_modules(tree, name, is_package):
            if imported.partition(".")[0] in packages and imported not in seen:
                pending.append(imported)
    return tuple(sorted(seen))


def _module_name(root: CodeRoot) -> str:
    if isinstance(root, ModuleType):
        return root.__name__
    module = getattr(root, "__module__", None)
    if not module:
        raise TypeError(f"{root!r}: give a module or a function defined in one")
    return module


# --- finding modules without importing them -------------------------------------------------


def _find_spec(name: str) -> ModuleSpec | None:
    """Where module ``name`` is, asked of the import system's finders as ``import`` would, but
    without running any package's ``__init__`` (finding ``a.b.c`` needs only where ``a.b`` is)."""
    parent, _, _ = name.rpartition(".")
    path = None
    if parent:
        parent_spec = _find_spec(parent)
        if parent_spec is None or parent_spec.submodule_search_locations is None:
            return None
        path = list(parent_spec.submodule_search_locations)
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        spec = find(name, path, None)
        if spec is not None:
            return spec
    return None


def _is_module(name: str) -> bool:
    spec = _find_spec(name)
    return spec is not None and bool(spec.origin) and spec.origin.endswith(".py")


def _imported_modules(tree: ast.Module, name: str, is_package: bool) -> Iterator[str]:
    """Modules an ``import`` of this tree names (``from a import b`` names ``a.b`` when ``b``
    is a module, else ``a``), relative imports resolved, ``if TYPE_CHECKING:`` blocks skipped."""
    package = name if is_package else name.rpartition(".")[0]
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found_base = False
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if alias.name != "*" and _is_module(candidate):
                    yield candidate
                else:
                    found_base = True
            if found_base:
                yield base


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` (never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
            else:
                stack.append(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


# --- what counts of a module ----------------------------------------------------------------

_SPURIOUS_AST_ERROR = "AST constructor recursion depth mismatch"


def _parse(source: bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``, tried again when CPython 3.11 raises its spurious SystemError: it keeps one
    recursion counter for every thread's AST construction, so a parse in another thread (Dask,
    Prefect) can make ours fail though the source is fine (python/cpython#106905)."""
    for _ in range(2):
        try:
            return ast.parse(source, filename)
        except SystemError as error:
            if _SPURIOUS_AST_ERROR not in str(error):
                raise
    return ast.parse(source, filename)  # a third time, whatever it raises


@functools.lru_cache(maxsize=1024)
def _module_digest(source: bytes) -> bytes:
    """Digest of a module's syntax tree without docstrings (comments are not in the tree)."""
    tree = _parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and _is_docstring(body[0]):
                node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).digest()


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _package_folders(modules: Iterable[str]) -> list[Path]:
    """The folders of the packages the modules belong to (a top-level module outside any
    package has none: its folder is a search path, not a package)."""
    folders = set()
    for name in modules:
        spec = _find_spec(name)
        assert spec is not None and spec.origin is not None
        if "." in name or spec.submodule_search_locations is not None:
            folders.add(Path(spec.origin).parent)
    return sorted(folders)


def _is_project_root(folder: Path) -> bool:
    """Whether ``folder`` is the ``migsys`` package's own folder. Installed from the wheel, it
    holds every other package of the project (``dbt_project`` and ``studies`` among them, which
    have no ``__init__.py``); those count as themselves where the code imports or reads them, not
    as data of ``migsys``, so a fingerprint is the same in a checkout and in an installation."""
    spec = _find_spec(PROJECT)
    return spec is not None and spec.origin is not None and Path(spec.origin).parent == folder


def _data_files(folder: Path, *, into_folders: bool = True) -> list[Path]:
    """Files of a package folder that are not Python, outside sub-packages, caches and hidden
    entries (and outside every sub-folder unless ``into_folders``), in name order."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in IGNORED_PARTS:
            continue
        if path.is_dir():
            if into_folders and not (path / "__init__.py").exists():
                found.extend(_data_files(path))
        elif path.suffix not in (".py", ".pyc"):
            found.append(path)
    return found


# --- what counts of an input ----------------------------------------------------------------


def _feed(digest, value: object) -> None:  # noqa: C901, PLR0912 (one branch per kind of value)
    """Add ``value``'s content to ``digest``, tagged with its kind so that no two differ only
    in how they were split (``["ab"]`` and ``["a", "b"]`` hash apart)."""
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    if value is None or isinstance(value, bool | int | str):
        digest.update(f"{type(value).__name__}:{json.dumps(value)};".encode())
    elif isinstance(value, float):
        text = repr(value) if math.isfinite(value) else str(value)
        digest.update(f"float:{text};".encode())
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        digest.update(f"bytes:{len(data)}:".encode() + data)
    elif isinstance(value, Path):
        _feed_path(digest, value)
    elif pandas is not None and isinstance(value, pandas.DataFrame):
        digest.update(f"frame:{json.dumps([str(c) for c in value.columns])}:".encode())
        digest.update(json.dumps([str(t) for t in value.dtypes]).encode())
        if len(value):
            hashed = pandas.util.hash_pandas_object(value, index=False).to_numpy()
            digest.update(hashed.tobytes())
    elif numpy is not None and isinstance(value, numpy.ndarray):
        array = numpy.ascontiguousarray(value)
        digest.update(f"array:{array.dtype.str}:{array.shape}:".encode())
        digest.update(array.tobytes())
    elif numpy is not None and isinstance(value, numpy.generic):
        _feed(digest, value.item())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        digest.update(f"dataclass:{type(value).__qualname__}:".encode())
        for field in dataclasses.fields(value):
            digest.update(f"{field.name}=".encode())
            _feed(digest, getattr(value, field.name))
    elif isinstance(value, Mapping):
        digest.update(f"mapping:{len(value)}:".encode())
        for key in sorted(value, key=str):
            _feed(digest, str(key))
            _feed(digest, value[key])
    elif isinstance(value, list | tuple):
        digest.update(f"sequence:{len(value)}:".encode())
        for item in value:
            _feed(digest, item)
    else:
        raise TypeError(f"fingerprint: cannot hash the content of a {type(value).__name__}")


def _feed_path(digest, path: Path) -> None:
    """A file by its bytes, a folder by its files' names and bytes (caches left out)."""
    if path.is_file():
        digest.update(b"file:" + hashlib.sha256(path.read_bytes()).digest())
    elif path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not IGNORED_PARTS & set(p.relative_to(path).parts)
        )
        digest.update(f"folder:{len(files)}:".encode())
        for file in files:
            digest.update(f"{file.relative_to(path).as_posix()}:".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    else:
        digest.update(b"missing;")
