"""The one standardisation against scikit-learn's StandardScaler."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from xent_jax.eval import standardize


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_matches_standard_scaler(dtype):
    rng = np.random.default_rng(0)
    tr = (rng.normal(size=(50, 4)) * [0.1, 1, 10, 100] + [5, -3, 0, 1e3]).astype(dtype)
    te = rng.normal(size=(7, 4)).astype(dtype)
    tr[:, 1] = 2.5  # a constant column: StandardScaler and we keep scale 1
    sc = StandardScaler().fit(tr.astype(np.float64))
    z_tr, z_te = standardize(tr, te)
    assert z_tr.dtype == dtype and z_te.dtype == dtype
    atol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(z_tr, sc.transform(tr.astype(np.float64)), atol=atol)
    np.testing.assert_allclose(z_te, sc.transform(te.astype(np.float64)), atol=atol)
    np.testing.assert_array_equal(z_tr[:, 1], 0.0)


def test_standardize_integer_input_and_errors():
    (z,) = standardize(np.array([[0, 1], [2, 1]]))
    assert z.dtype == np.float32 and z.tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="train must be"):
        standardize(np.zeros(3))
    with pytest.raises(ValueError, match=r"others\[0\]"):
        standardize(np.zeros((3, 2)), np.zeros((3, 3)))
