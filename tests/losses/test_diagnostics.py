"""Diagnostics: information identity and closed-form softmax-regression gradient."""

from __future__ import annotations

import jax
import numpy as np

from xent_jax.losses import (
    information_identity_error,
    reduce_loss,
    softmax_cross_entropy_with_integer_labels,
    softmax_regression_gradient,
)


def test_gradient_matches_autodiff_and_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5)).astype(np.float32)
    y = rng.integers(0, 4, size=12).astype(np.int32)
    w = rng.normal(size=(5, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)

    def mean_loss(w, b):
        return reduce_loss(softmax_cross_entropy_with_integer_labels(x @ w + b[None, :], y))

    gw, gb = jax.jit(jax.grad(mean_loss, argnums=(0, 1)))(w, b)
    cw, cb = softmax_regression_gradient(w, b, x, y)
    np.testing.assert_allclose(gw, cw, atol=1e-6)
    np.testing.assert_allclose(gb, cb, atol=1e-6)
    z = x.astype(np.float64) @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(cw, x.T @ (p - np.eye(4)[y]) / 12, atol=1e-6)


def test_identity_error_is_small():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(5), size=8)
    p[0, 2] = 0.0
    q = rng.dirichlet(np.ones(5), size=8)
    assert float(information_identity_error(p.astype(np.float32), q.astype(np.float32))) < 1e-5
