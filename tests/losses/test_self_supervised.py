"""NT-Xent: float64 reference, gradients (also at a zero embedding), scale invariance, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from xent_jax.losses import ntxent


def ntxent64(e, labels, temperature):
    e = np.asarray(e, np.float64)
    u = e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), np.sqrt(np.finfo(np.float32).eps))
    sim = u @ u.T / temperature
    terms = []
    for i in range(len(labels)):
        neg = sim[i, labels != labels[i]]
        for j in range(len(labels)):
            if i != j and labels[i] == labels[j]:
                terms.append(-sim[i, j] + np.log(np.exp(sim[i, j]) + np.exp(neg).sum()))
    return np.mean(terms) if terms else 0.0


@pytest.mark.parametrize("temperature", [0.07, 0.5, 2.0])
def test_matches_reference(variant, temperature):
    rng = np.random.default_rng(0)
    e = rng.normal(size=(6, 3)).astype(np.float32)
    labels = np.array([0, 0, 1, 1, 2, 2])
    got = variant(lambda e: ntxent(e, labels, temperature))(e)
    np.testing.assert_allclose(got, ntxent64(e, labels, temperature), rtol=2e-5)


def test_gradients_numerically_and_at_a_zero_embedding():
    rng = np.random.default_rng(1)
    e = jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)
    labels = jnp.array([0, 0, 1, 1])
    check_grads(
        lambda e: ntxent(e, labels, 0.5), (e,), order=1, modes=["rev"], atol=1e-2, rtol=1e-2
    )
    g = jax.grad(lambda e: ntxent(e, labels))(e.at[0].set(0.0))
    assert np.isfinite(g).all()


def test_scale_invariant_and_low_precision():
    rng = np.random.default_rng(2)
    e = rng.normal(size=(4, 3)).astype(np.float32)
    labels = np.array([0, 1, 0, 1])
    ref = ntxent(e, labels)
    for s in (1e3, 1e20):  # (below sqrt(eps) the norms are clipped, as in optax)
        np.testing.assert_allclose(ntxent(e * s, labels), ref, rtol=1e-5)
    low = jnp.asarray(e, jnp.bfloat16)
    got = ntxent(low, labels)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(
        got, ntxent64(np.asarray(low.astype(jnp.float32)), labels, 0.07), rtol=1e-4
    )


def test_bad_input():
    with pytest.raises(ValueError, match="same leading dimension"):
        ntxent(jnp.zeros((4, 2)), jnp.zeros(3, int))
    with pytest.raises(ValueError, match=r"embeddings must have shape \[batch, features\]"):
        ntxent(jnp.zeros(4), jnp.zeros(4, int))
    with pytest.raises(TypeError, match="embeddings must have a floating dtype"):
        ntxent(jnp.zeros((4, 2), int), jnp.zeros(4, int))
