"""Fenchel-Young losses: logsumexp gives softmax cross-entropy, gradient, conventions, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp

from xent_jax.losses import make_fenchel_young_loss, softmax_cross_entropy


def test_logsumexp_gives_softmax_cross_entropy_and_its_gradient(variant):
    rng = np.random.default_rng(0)
    s = rng.normal(size=(2, 3, 5)).astype(np.float32)
    t = rng.dirichlet(np.ones(5), size=(2, 3)).astype(np.float32)
    fy = make_fenchel_young_loss(logsumexp)
    np.testing.assert_allclose(variant(fy)(s, t), softmax_cross_entropy(s, t), rtol=1e-5)
    g = jax.grad(lambda s: fy(s, t).sum())(jnp.asarray(s))
    np.testing.assert_allclose(g, jax.nn.softmax(s) - t, atol=1e-6)
    gt = jax.grad(lambda t: fy(jnp.asarray(s), t).sum())(jnp.asarray(t))
    np.testing.assert_allclose(gt, -s, atol=1e-6)


def test_zero_target_at_minus_inf_and_extra_arguments():
    fy = make_fenchel_young_loss(lambda s, scale=1.0: logsumexp(s * scale) / scale)
    s = jnp.array([-jnp.inf, 0.0, 1.0])
    t = jnp.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(fy(s, t), np.logaddexp(0.0, 1.0) - 1.0, rtol=1e-6)
    np.testing.assert_allclose(fy(s, t, scale=2.0), np.logaddexp(0.0, 2.0) / 2 - 1.0, rtol=1e-6)
    g = jax.grad(lambda t: fy(s, t))(t)
    assert np.isfinite(g).all()
    jv = jax.jvp(lambda t: fy(s, t), (t,), (jnp.array([0.0, 1.0, -1.0]),))[1]
    assert np.isfinite(jv)


def test_bad_input():
    with pytest.raises(TypeError, match="max_fun must be callable"):
        make_fenchel_young_loss(3)
    with pytest.raises(TypeError, match="scores must have a floating dtype"):
        make_fenchel_young_loss(logsumexp)(jnp.zeros(3, int), jnp.zeros(3))
