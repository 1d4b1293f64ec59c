"""migsys: warehouse, projections and sensitivity sweeps for the Mexico–United States migratory system.

The subpackages keep the repository's top-level folders (``flows/``, ``kernels/``, ``warehouse/``,
``sweeps/``, ``projections/``, ``reports/``, ``bench/``) and are installed under this one
namespace (``migsys.warehouse``, ``migsys.kernels``, …) so that nothing generic lands in
site-packages.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("migsys")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
