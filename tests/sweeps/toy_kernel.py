"""A toy kernel defined by a test: its module (this file and toy_kernel.csv) plus one registry
entry (``TOY``). Logistic growth of a stock towards a capacity, with a yearly series and scalars.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from migsys.kernels.defaults import read_parameter_table
from migsys.sweeps.outcomes import Output
from migsys.sweeps.registry import Kernel

PARAMETERS = read_parameter_table(Path(__file__).with_name("toy_kernel.csv"))


def evaluate(
    params: np.ndarray, inputs: Mapping[str, object], years: tuple[int, int] | None
) -> dict[str, np.ndarray]:
    """Stock of each scenario from base to horizon: s' = rate * s * (1 - s / capacity)."""
    assert years is not None
    rate, capacity, start = params[:, 0], params[:, 1], params[:, 2]
    n_years = years[1] - years[0] + 1
    stock = np.empty((params.shape[0], n_years))
    stock[:, 0] = start
    for t in range(1, n_years):
        previous = stock[:, t - 1]
        stock[:, t] = previous + rate * previous * (1.0 - previous / capacity)
    return {
        "stock": stock,
        "stock_horizon": stock[:, -1],
        "doubled": (stock[:, -1] >= 2.0 * start).astype(np.float64),
    }


TOY = Kernel(
    name="toy_logistic",
    description="logistic growth of a stock (test kernel)",
    parameters=PARAMETERS,
    outputs=(
        Output("stock_horizon", "scalar", "units", "stock at the horizon"),
        Output("doubled", "scalar", "1", "1 when the stock at least doubled"),
        Output("stock", "series", "units", "stock by year", "Toy|Stock", "Nowhere"),
    ),
    evaluate=evaluate,
    default_years=(2000, 2020),
    calibrations=("toy_logistic",),
    parameter_table=str(Path(__file__).with_name("toy_kernel.csv")),
)
