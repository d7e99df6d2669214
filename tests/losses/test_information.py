"""Entropy, cross-entropy, relative entropy and KL vs scipy; identities; zero probabilities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from xent_jax.losses import (
    convex_kl_divergence,
    cross_entropy,
    cross_entropy_from_log_probs,
    entropy,
    entropy_from_log_probs,
    generalized_kl_divergence,
    kl_divergence,
    kl_divergence_with_log_targets,
    relative_entropy,
    relative_entropy_from_log_probs,
)


@pytest.fixture(scope="module")
def dists():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6), size=4)
    q = rng.dirichlet(np.ones(6), size=4)
    p[0, [1, 4]] = 0.0
    p[0] /= p[0].sum()
    q[1, 2] = 0.0
    p[1, 2] = 0.0
    q[1] /= q[1].sum()
    p[1] /= p[1].sum()
    return p.astype(np.float32), q.astype(np.float32)


def test_match_scipy(variant, dists):
    p, q = dists
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    h = variant(entropy)(p)
    np.testing.assert_allclose(h, scipy.stats.entropy(p64, axis=-1), rtol=1e-6)
    kl = variant(relative_entropy)(p, q)
    np.testing.assert_allclose(kl, scipy.special.rel_entr(p64, q64).sum(-1), rtol=1e-5, atol=1e-6)
    ce = variant(cross_entropy)(p, q)
    np.testing.assert_allclose(ce, scipy.stats.entropy(p64, axis=-1) + kl, rtol=1e-5)
    lp, lq = jnp.log(p), jnp.log(q)
    np.testing.assert_allclose(variant(entropy_from_log_probs)(lp), h, rtol=1e-6)
    np.testing.assert_allclose(variant(cross_entropy_from_log_probs)(lp, lq), ce, rtol=1e-5)
    np.testing.assert_allclose(variant(relative_entropy_from_log_probs)(lp, lq), kl, atol=1e-6)


def test_kl_divergence_keeps_optax_order(variant, dists):
    p, q = dists
    ours = variant(kl_divergence)(jnp.log(q), p)
    np.testing.assert_allclose(ours, relative_entropy(p, q), atol=1e-6)
    finite = np.all(q > 0, axis=-1)
    np.testing.assert_allclose(
        ours[finite], optax.kl_divergence(jnp.log(q), p)[finite], rtol=1e-5, atol=1e-6
    )
    with_logs = variant(kl_divergence_with_log_targets)(jnp.log(q), jnp.log(p))
    np.testing.assert_allclose(with_logs, ours, atol=1e-6)
    # optax gives NaN for a zero target against a zero prediction; we give the exact value
    assert np.isnan(optax.kl_divergence(jnp.log(q[1:2]), p[1:2])).all()
    assert np.isfinite(ours[1])


def test_zero_probabilities_finite_gradients(dists):
    p, q = dists

    @jax.jit
    def grads(p, q):
        return (
            jax.grad(lambda p: entropy(p).sum())(p),
            jax.grad(lambda p, q: cross_entropy(p, q).sum(), argnums=(0, 1))(p, q),
            jax.grad(lambda p, q: relative_entropy(p, q).sum(), argnums=(0, 1))(p, q),
            jax.grad(lambda lq, p: kl_divergence(lq, p).sum(), argnums=(0, 1))(jnp.log(q), p),
            jax.grad(lambda lp: entropy_from_log_probs(lp).sum())(jnp.log(p)),
        )

    for g in jax.tree.leaves(grads(p, q)):
        assert np.isfinite(g).all()
    g_h = grads(p, q)[0]
    np.testing.assert_allclose(
        np.asarray(g_h)[p > 0], -(np.log(p[p > 0].astype(np.float64)) + 1), rtol=1e-5
    )
    assert np.all(np.asarray(g_h)[p == 0] == 0.0)


def test_positive_mass_on_zero_probability_is_inf():
    p = jnp.array([0.5, 0.5])
    q = jnp.array([1.0, 0.0])
    assert np.isinf(relative_entropy(p, q)) and np.isinf(cross_entropy(p, q))
    assert relative_entropy(q, p) == pytest.approx(np.log(2), rel=1e-6)


def test_where_and_axis():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(5), size=3).astype(np.float32)
    where = np.ones_like(p, bool)
    where[:, -1] = False
    ours = entropy(p, where=jnp.asarray(where))
    np.testing.assert_allclose(ours, scipy.special.entr(p[:, :-1].astype(np.float64)).sum(-1), 1e-6)
    np.testing.assert_allclose(entropy(p.T, axis=0), entropy(p), rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match=r"must broadcast together, got p \(3,\), q \(4,\)"):
        cross_entropy(jnp.ones(3), jnp.ones(4))
    with pytest.raises(TypeError, match="p must have a floating dtype"):
        entropy(jnp.ones(3, int))
    with pytest.raises(TypeError, match="where must be a boolean"):
        entropy(jnp.ones(3), where=jnp.ones(3))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_zero=st.integers(0, 3),
    concentration=st.sampled_from([0.05, 1.0, 10.0]),
)
def test_property_identity_and_gibbs(seed, n_zero, concentration):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(6, concentration), size=3)
    q = rng.dirichlet(np.full(6, concentration), size=3)
    p[:, :n_zero] = 0.0
    p /= p.sum(-1, keepdims=True)
    q = 0.5 * q + 0.5 * rng.dirichlet(np.ones(6), size=3)
    h, ce, kl = _jit_all(p.astype(np.float32), q.astype(np.float32))
    assert np.all(np.asarray(kl) >= -1e-6)
    np.testing.assert_allclose(ce, np.asarray(h) + np.asarray(kl), atol=1e-5)
    np.testing.assert_allclose(kl, scipy.special.rel_entr(p, q).sum(-1), atol=1e-5)


@jax.jit
def _jit_all(p, q):
    return entropy(p), cross_entropy(p, q), relative_entropy(p, q)


def test_generalized_kl_matches_reference_and_gradient(variant, dists):
    p, q = dists
    measure = p * 3.0  # unnormalised targets
    log_q = np.log(np.where(q > 0, q, 1e-30)).astype(np.float32)
    got = variant(generalized_kl_divergence)(log_q, measure)
    t, lq = measure.astype(np.float64), log_q.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = np.sum(np.where(t > 0, t * (np.log(t) - lq), 0.0) + np.exp(lq) - t, -1)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    g = jax.grad(lambda lq: generalized_kl_divergence(lq, measure).sum())(jnp.asarray(log_q))
    np.testing.assert_allclose(g, np.exp(lq) - t, atol=1e-5)
    with pytest.warns(DeprecationWarning, match="generalized_kl_divergence"):
        np.testing.assert_allclose(convex_kl_divergence(log_q, measure), got, rtol=1e-6)


def test_kl_with_log_targets_gradients_at_minus_inf():
    lq = jnp.log(jnp.array([0.2, 0.3, 0.5]))
    lt = jnp.array([-jnp.inf, jnp.log(0.5), jnp.log(0.5)])
    gq, gt = jax.grad(lambda a, b: kl_divergence_with_log_targets(a, b), argnums=(0, 1))(lq, lt)
    np.testing.assert_allclose(gq, [0.0, -0.5, -0.5], atol=1e-7)
    assert gt[0] == 0.0 and np.isfinite(gt).all()
    jv = jax.jvp(lambda b: kl_divergence_with_log_targets(lq, b), (lt,), (jnp.ones(3),))[1]
    assert np.isfinite(jv)
