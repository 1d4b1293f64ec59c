"""The Numba test functions agree with their NumPy twins, SALib's versions and analytic indices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from SALib.test_functions import Ishigami, Sobol_G

from migsys.sweeps import testfunctions as tf

_unit = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 40), st.just(3)), elements=st.floats(-np.pi, np.pi))
)
def test_ishigami_matches_numpy_twin_and_salib(x: np.ndarray) -> None:
    np.testing.assert_allclose(tf.ishigami(x), tf.ishigami_numpy(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tf.ishigami(x), Ishigami.evaluate(x), rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 40), st.just(8)), elements=_unit))
def test_sobol_g_matches_numpy_twin_and_salib(x: np.ndarray) -> None:
    np.testing.assert_allclose(tf.sobol_g(x), tf.sobol_g_numpy(x), rtol=1e-12)
    np.testing.assert_allclose(
        tf.sobol_g(x), Sobol_G.evaluate(x, np.array(tf.SOBOL_G_A)), rtol=1e-12
    )


def test_analytic_indices_match_salib_formulas() -> None:
    a = np.array(tf.SOBOL_G_A)
    expected = tf.sobol_g_indices(a)
    np.testing.assert_allclose(expected["S1"], Sobol_G.sensitivity_index(a), rtol=1e-12)
    np.testing.assert_allclose(expected["ST"], Sobol_G.total_sensitivity_index(a), rtol=1e-12)
    ishigami = tf.ishigami_indices()
    # Published values (Saltelli et al. 2008, Ishigami a = 7, b = 0.1).
    np.testing.assert_allclose(ishigami["S1"], [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(ishigami["ST"], [0.5576, 0.4424, 0.2437], atol=1e-4)


def test_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match="ishigami: x must have 3 columns"):
        tf.ishigami(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="sobol_g: x must be 2-D"):
        tf.sobol_g(np.zeros(8))
