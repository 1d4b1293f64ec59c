"""migsys: warehouse, projections and sensitivity sweeps for the Mexico–United States migratory system.

The subpackages keep the repository's top-level folders (``flows/``, ``kernels/``, ``warehouse/``,
``sweeps/``, ``projections/``, ``reports/``, ``bench/``) and are installed under this one
namespace (``migsys.warehouse``, ``migsys.kernels``, …) so that nothing generic lands in
site-packages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from migsys.sweeps.api import Study


def __getattr__(name: str) -> str:
    """``migsys.__version__``, read from the installed metadata when first asked for (importing
    ``importlib.metadata`` costs every command, ``migsys -h`` included, ~50 ms)."""
    if name != "__version__":
        raise AttributeError(f"module 'migsys' has no attribute {name!r}")
    from importlib import metadata

    try:
        return metadata.version("migsys")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def find_home(path: str | os.PathLike[str] | None = None) -> Path:
    """The MIGSYS_HOME the Python API reads: ``path`` if given, else ``MIGSYS_HOME``, else the
    ``var`` folder holding a warehouse in the working directory or a folder above it (a notebook
    in ``docs/`` finds its repository's), else the checkout migsys runs from, else ``./var``."""
    from migsys.warehouse.paths import notebook_home

    environ = dict(os.environ)
    if path is not None:
        environ["MIGSYS_HOME"] = os.fspath(path)
    return notebook_home(environ, Path.cwd())


def connect(home: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the published warehouse, and to nothing else.

    ``home`` is a MIGSYS_HOME folder (default: see :func:`migsys.find_home`, which also finds the
    repository's ``var`` from a notebook in ``docs/``). The connection can only read the
    warehouse: it is opened read-only, it cannot reach any other file or URL (no ``COPY … TO``,
    no ``read_csv`` of other files, no extension install), and its settings are locked
    (``SET``/``PRAGMA`` of a setting fail). Raises ``FileNotFoundError`` naming the file when no
    warehouse has been published there yet (run ``migsys refresh``).

    >>> con = migsys.connect()                                         # doctest: +SKIP
    >>> con.sql("from main.fct_remittances_annual order by year").df()  # doctest: +SKIP
    """
    from migsys.warehouse.sql import open_read_only

    return open_read_only(find_home(home) / "warehouse.duckdb", locked=True)


def study(name: str, home: str | os.PathLike[str] | None = None) -> Study:
    """A finished study's scenarios, outcomes, sensitivity indices and bands as DataFrames.

    ``home`` defaults as for :func:`migsys.connect`; see :mod:`migsys.sweeps.api`.

    >>> s = migsys.study("remittances-nightly")            # doctest: +SKIP
    >>> s.sensitivity.query("index == 'ST'")               # doctest: +SKIP
    """
    from migsys.sweeps.api import study as load_study

    return load_study(name, find_home(home))
