"""migsys: warehouse, projections and sensitivity sweeps for the Mexico–United States migratory system.

The subpackages keep the repository's top-level folders (``flows/``, ``kernels/``, ``warehouse/``,
``sweeps/``, ``projections/``, ``reports/``, ``bench/``) and are installed under this one
namespace (``migsys.warehouse``, ``migsys.kernels``, …) so that nothing generic lands in
site-packages.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from migsys.sweeps.api import Study

try:
    __version__ = metadata.version("migsys")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"


def connect(home: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the published warehouse.

    ``home`` is a MIGSYS_HOME folder (default: the ``MIGSYS_HOME`` environment variable, else
    ``./var``). The connection can only read: it is opened read-only, and never installs or loads
    a DuckDB extension. Raises ``FileNotFoundError`` naming the file when no warehouse has been
    published there yet (run ``migsys refresh``).

    >>> con = migsys.connect()                                         # doctest: +SKIP
    >>> con.sql("from main.fct_remittances_annual order by year").df()  # doctest: +SKIP
    """
    from migsys.warehouse.paths import MigsysPaths
    from migsys.warehouse.sql import open_read_only

    environ = dict(os.environ)
    if home is not None:
        environ["MIGSYS_HOME"] = os.fspath(home)
    return open_read_only(MigsysPaths.from_env(environ).warehouse)


def study(name: str, home: str | os.PathLike[str] | None = None) -> Study:
    """A finished study's scenarios, outcomes, sensitivity indices and bands as DataFrames.

    ``home`` defaults to ``MIGSYS_HOME`` (else ``./var``); see :mod:`migsys.sweeps.api`.

    >>> s = migsys.study("ishigami-sobol")                 # doctest: +SKIP
    >>> s.sensitivity.query("index == 'ST'")               # doctest: +SKIP
    """
    from migsys.sweeps.api import study as load_study

    return load_study(name, home)
