"""Shared by the tests and the docstring examples (``--doctest-modules xent_jax``)."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _restore_numpy_print_options():
    """Docstring examples set print precision; it must not leak into the next example."""
    saved = np.get_printoptions()
    yield
    np.set_printoptions(**saved)
