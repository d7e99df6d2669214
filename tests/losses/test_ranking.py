"""Listwise softmax ranking loss: float64 reference, reductions, masks, weights, gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from xent_jax.losses import ranking_softmax_loss


def per_list64(s, y, where=None, w=None):
    s, y = np.asarray(s, np.float64), np.asarray(y, np.float64)
    where = np.ones(s.shape, bool) if where is None else where
    with np.errstate(divide="ignore", invalid="ignore"):  # fully masked lists
        return _per_list64(s, y, where, w)


def _per_list64(s, y, where, w):
    y = np.where(where, y if w is None else y * w, 0.0)
    zz = np.where(where, s, -np.inf)
    m = zz.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    lse = m + np.log(np.sum(np.where(where, np.exp(zz - m), 0.0), -1, keepdims=True))
    return np.sum(np.where(where, y * (lse - s), 0.0), -1)


@pytest.fixture(scope="module")
def lists():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(4, 6)).astype(np.float32) * 2
    y = rng.integers(0, 3, (4, 6)).astype(np.float32)
    where = rng.uniform(size=(4, 6)) > 0.3
    where[3] = False
    w = rng.uniform(0.5, 2.0, (4, 6)).astype(np.float32)
    return s, y, where, w


def test_reductions_match_reference(variant, lists):
    s, y, where, w = lists
    per = per_list64(s, y, where, w)
    valid = where.any(-1)
    none = variant(lambda s: ranking_softmax_loss(s, y, where=where, weights=w, reduce_fn=None))(s)
    np.testing.assert_allclose(none, np.where(valid, per, 0.0), rtol=1e-6)
    total = variant(
        lambda s: ranking_softmax_loss(s, y, where=where, weights=w, reduce_fn=jnp.sum)
    )(s)
    np.testing.assert_allclose(total, per[valid].sum(), rtol=1e-6)
    mean = variant(lambda s: ranking_softmax_loss(s, y, where=where, weights=w))(s)
    np.testing.assert_allclose(mean, per[valid].mean(), rtol=1e-6)


def test_gradient_and_all_masked(lists):
    s, y, where, _ = lists
    check_grads(
        lambda s: ranking_softmax_loss(s, y, where=where),
        (jnp.asarray(s),),
        order=2,
        modes=["rev"],
        atol=1e-2,
        rtol=1e-2,
    )
    none = np.zeros_like(where)
    assert float(ranking_softmax_loss(s, y, where=none)) == 0.0
    g = jax.grad(lambda s: ranking_softmax_loss(s, y, where=none))(jnp.asarray(s))
    assert np.all(np.asarray(g) == 0.0)


def test_masked_nan_ignored_and_extreme_scores(lists):
    s, y, where, _ = lists
    dirty = np.where(where, s, np.nan).astype(np.float32)
    np.testing.assert_allclose(
        ranking_softmax_loss(dirty, y, where=where),
        ranking_softmax_loss(s, y, where=where),
        rtol=1e-6,
    )
    big = np.array([0.0, -2.1e26, 3.4e37, 42.0], np.float32)
    np.testing.assert_allclose(
        ranking_softmax_loss(big, np.array([0.0, 1.0, 1.0, 0.0]), reduce_fn=jnp.sum),
        per_list64(big, np.array([0.0, 1.0, 1.0, 0.0])),
        rtol=1e-6,
    )
