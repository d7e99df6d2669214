"""smooth_labels: closed form over axes and masks, dtype kept, alpha checked."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax.losses import checked, smooth_labels


def test_closed_forms(variant):
    y = np.eye(4, dtype=np.float32)[[1, 3]]
    np.testing.assert_allclose(
        variant(lambda y: smooth_labels(y, 0.2))(y), 0.8 * y + 0.05, rtol=1e-6
    )
    y3 = y.reshape(1, 2, 4)
    np.testing.assert_allclose(smooth_labels(y3, 0.2, axis=(1, 2)), 0.8 * y3 + 0.2 / 8, rtol=1e-6)
    np.testing.assert_allclose(smooth_labels(y3, 0.2, axis=None), 0.8 * y3 + 0.2 / 8, rtol=1e-6)
    where = np.array([[True, True, False, True]] * 2)
    got = smooth_labels(y, 0.3, where=where)
    expected = np.where(where, 0.7 * y + 0.1, 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(got).sum(-1), 1.0, rtol=1e-6)


def test_dtype_kept_and_alpha_checked():
    y = jnp.asarray(np.eye(3)[[0, 2]], jnp.bfloat16)
    out = smooth_labels(y, 0.1)
    assert out.dtype == jnp.bfloat16
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        smooth_labels(y, 1.5)
    with pytest.raises(Exception, match="alpha out of range"):
        checked(jax.jit(smooth_labels))(y, -0.5)
    with pytest.raises(TypeError, match="labels must have a floating dtype"):
        smooth_labels(jnp.zeros(3, int), 0.1)
