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


def study(name: str, home=None):
    """A finished study's scenarios, outcomes, sensitivity indices and bands as DataFrames.

    ``home`` defaults to ``MIGSYS_HOME`` (else ``./var``); see :mod:`migsys.sweeps.api`.
    """
    from migsys.sweeps.api import study as load_study

    return load_study(name, home)
