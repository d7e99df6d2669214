"""reduce_loss and target_weights: PyTorch weighted-mean semantics, empty batches, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax.losses import (
    reduce_loss,
    softmax_cross_entropy_with_integer_labels,
    target_weights,
)


def torch_mean_reference(z, y, *, eps, w, ignore):
    """PyTorch F.cross_entropy(weight=w, ignore_index=ignore, label_smoothing=eps), mean."""
    z = np.asarray(z, np.float64)
    logp = (
        z
        - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - z.max(-1, keepdims=True)
    )
    n, c = z.shape
    keep = y != ignore
    yy = np.where(keep, y, 0)
    nll = np.where(keep, -logp[np.arange(n), yy] * w[yy], 0.0)
    smooth = np.where(keep, -(logp * w).sum(-1), 0.0)
    denom = w[yy][keep].sum()
    return (1 - eps) * nll.sum() / denom + eps / c * smooth.sum() / denom


def test_pytorch_weighted_mean(variant):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(8, 5)).astype(np.float32)
    y = rng.integers(0, 5, size=8).astype(np.int32)
    y[[2, 5]] = -100
    w = rng.uniform(0.1, 2.0, size=5).astype(np.float32)

    def mean_loss(z, y):
        losses = softmax_cross_entropy_with_integer_labels(
            z, y, label_smoothing=0.1, class_weights=w, ignore_index=-100
        )
        weights = target_weights(y, class_weights=w, ignore_index=-100)
        return reduce_loss(losses, weights=weights)

    out = variant(mean_loss)(z, y)
    ref = torch_mean_reference(z, y, eps=0.1, w=w.astype(np.float64), ignore=-100)
    assert out == pytest.approx(ref, rel=1e-6)


def test_mean_sum_none_and_where(variant):
    losses = jnp.array([1.0, 2.0, jnp.nan, 4.0])
    where = jnp.array([True, True, False, True])
    assert variant(lambda x: reduce_loss(x, where=where))(losses) == pytest.approx(7 / 3)
    assert variant(lambda x: reduce_loss(x, reduction="sum", where=where))(losses) == 7.0
    np.testing.assert_array_equal(reduce_loss(losses, reduction="none", where=where), [1, 2, 0, 4])
    assert reduce_loss(jnp.array([1.0, 3.0])) == 2.0
    weights = jnp.array([1.0, 3.0, 1.0, 0.0])
    assert reduce_loss(losses, weights=weights, where=where) == pytest.approx(7 / 4)


def test_nothing_counted_gives_zero_and_zero_gradient():
    z = jnp.ones((3, 4))
    y = jnp.full((3,), -100)

    def mean_loss(z):
        losses = softmax_cross_entropy_with_integer_labels(z, y, ignore_index=-100)
        return reduce_loss(losses, weights=target_weights(y, ignore_index=-100))

    value, grad = jax.jit(jax.value_and_grad(mean_loss))(z)
    assert value == 0.0 and np.all(np.asarray(grad) == 0.0)
    assert reduce_loss(jnp.ones(2), where=jnp.zeros(2, bool)) == 0.0


def test_errors():
    with pytest.raises(ValueError, match=r"reduction must be one of .* got 'avg'"):
        reduce_loss(jnp.ones(3), reduction="avg")
    with pytest.raises(ValueError, match="weights must have the same shape as losses"):
        reduce_loss(jnp.ones(3), weights=jnp.ones(2))
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        target_weights(jnp.ones(3))
