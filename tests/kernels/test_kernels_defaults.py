"""Parameter table: column order the kernels rely on, coherent ranges, cited sources."""

from __future__ import annotations

import numpy as np
import pytest

from migsys.kernels import depopulation, remittances
from migsys.kernels.defaults import (
    DEPOPULATION_PARAMETERS,
    REMITTANCE_PARAMETERS,
    Parameter,
    default_params,
    parameter_bounds,
    parameter_index,
    parameter_names,
)


@pytest.mark.parametrize(
    ("parameters", "module"),
    [(DEPOPULATION_PARAMETERS, depopulation), (REMITTANCE_PARAMETERS, remittances)],
)
def test_kernel_column_constants_follow_the_table(parameters, module) -> None:
    for column, name in enumerate(parameter_names(parameters)):
        assert getattr(module, name.upper()) == column, name


@pytest.mark.parametrize("parameters", [DEPOPULATION_PARAMETERS, REMITTANCE_PARAMETERS])
def test_table_is_complete_and_coherent(parameters) -> None:
    names = parameter_names(parameters)
    assert len(set(names)) == len(names)
    for parameter in parameters:
        assert parameter.source.strip() and parameter.description.strip() and parameter.unit
    bounds = parameter_bounds(parameters)
    defaults = default_params(parameters, 3)
    assert defaults.shape == (3, len(parameters))
    assert ((bounds[:, 0] <= defaults[0]) & (defaults[0] <= bounds[:, 1])).all()


def test_helpers_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        parameter_index(DEPOPULATION_PARAMETERS, "nope")
    with pytest.raises(ValueError, match="n must be >= 1"):
        default_params(DEPOPULATION_PARAMETERS, 0)
    with pytest.raises(ValueError, match="parameter 'x': need valid_low <= low"):
        Parameter("x", 5.0, 0.0, 1.0, "u", "s", "d")
    assert np.isfinite(parameter_bounds(REMITTANCE_PARAMETERS)).all()
