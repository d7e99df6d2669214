"""Binary and multi-label sigmoid cross-entropy vs BCEWithLogitsLoss closed forms and optax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from xent_jax.losses import (
    multilabel_sigmoid_cross_entropy,
    sigmoid_binary_cross_entropy,
    sigmoid_focal_loss,
)


def bce_reference(x, y, pos_weight=None):
    """PyTorch BCEWithLogitsLoss(reduction='none') in float64 numpy."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    c = 1.0 if pos_weight is None else np.asarray(pos_weight, np.float64)
    log_sig = -np.logaddexp(0.0, -x)
    log_one_minus = -np.logaddexp(0.0, x)
    return -(c * y * log_sig + (1 - y) * log_one_minus)


def bce_grad(x, y, pos_weight=None):
    x = np.asarray(x, np.float64)
    sig = 1 / (1 + np.exp(-x))
    c = 1.0 if pos_weight is None else np.asarray(pos_weight, np.float64)
    return -c * y * (1 - sig) + (1 - y) * sig


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(5, 4)) * 3).astype(np.float32)
    y = rng.uniform(size=(5, 4)).astype(np.float32)
    y[:, 0] = 1.0
    y[:, 1] = 0.0
    pw = rng.uniform(0.5, 3.0, size=4).astype(np.float32)
    return x, y, pw


@pytest.mark.parametrize("use_pw", [False, True])
def test_matches_bce_with_logits_reference_value_and_grad(variant, data, use_pw):
    x, y, pw = data
    pw = pw if use_pw else None
    fn = variant(lambda x, y: sigmoid_binary_cross_entropy(x, y, pos_weight=pw))
    loss = fn(x, y)
    assert loss.shape == x.shape and loss.dtype == jnp.float32
    np.testing.assert_allclose(loss, bce_reference(x, y, pw), rtol=1e-6, atol=1e-6)
    g = variant(jax.grad(lambda x: fn(x, y).sum()))(x)
    np.testing.assert_allclose(g, bce_grad(x, y, pw), atol=1e-6)
    if pw is None:
        np.testing.assert_allclose(loss, optax.sigmoid_binary_cross_entropy(x, y), rtol=1e-5)


def test_multilabel_sums_over_labels_with_where(variant, data):
    x, y, pw = data
    where = np.ones_like(x, bool)
    where[0, 2] = False
    fn = variant(
        lambda x, y: multilabel_sigmoid_cross_entropy(x, y, pos_weight=pw, where=jnp.asarray(where))
    )
    ref = np.where(where, bce_reference(x, y, pw), 0.0).sum(-1)
    np.testing.assert_allclose(fn(x, y), ref, rtol=1e-6)


def test_pos_weight_broadcasts_like_pytorch():
    x = jnp.zeros((2, 3, 4))
    y = jnp.ones((2, 3, 4))
    pw = jnp.array([1.0, 2.0, 3.0, 4.0])
    loss = sigmoid_binary_cross_entropy(x, y, pos_weight=pw)
    np.testing.assert_allclose(loss[1, 2], np.log(2) * np.array([1, 2, 3, 4]), rtol=1e-6)
    with pytest.raises(
        ValueError, match=r"pos_weight must broadcast .* \(2, 3, 4\), got shape \(3,\)"
    ):
        sigmoid_binary_cross_entropy(x, y, pos_weight=jnp.ones(3))


def test_extreme_and_infinite_logits_are_finite():
    x = jnp.array([1e4, -1e4, 1e4, -1e4, jnp.inf, -jnp.inf], jnp.float32)
    y = jnp.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])

    @jax.jit
    def value_and_grads(x, y):
        return (
            sigmoid_binary_cross_entropy(x, y),
            jax.grad(lambda x: sigmoid_binary_cross_entropy(x, y).sum())(x),
            jax.grad(lambda y: sigmoid_binary_cross_entropy(x, y).sum())(y),
        )

    loss, gx, gy = value_and_grads(x, y)
    np.testing.assert_allclose(loss, [0.0, 0.0, 1e4, 1e4, 0.0, 0.0], rtol=1e-6)
    assert np.isfinite(gx).all() and not np.isnan(gy).any()


def test_low_precision_returns_float32_and_input_dtype_grad():
    x = jnp.asarray(np.linspace(-20, 20, 64), jnp.bfloat16)
    y = jnp.asarray(np.linspace(0, 1, 64), jnp.bfloat16)
    loss = sigmoid_binary_cross_entropy(x, y)
    assert loss.dtype == jnp.float32
    ref = bce_reference(np.asarray(x, np.float32), np.asarray(y, np.float32))
    np.testing.assert_allclose(loss, ref, atol=1e-4)
    assert jax.grad(lambda x: sigmoid_binary_cross_entropy(x, y).sum())(x).dtype == jnp.bfloat16


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (
            lambda: sigmoid_binary_cross_entropy(jnp.zeros(3, int), jnp.zeros(3)),
            TypeError,
            "logits",
        ),
        (lambda: sigmoid_binary_cross_entropy(jnp.zeros(3), jnp.zeros(4)), ValueError, "labels"),
        (
            lambda: multilabel_sigmoid_cross_entropy(
                jnp.zeros((2, 3)), jnp.zeros((2, 3)), where=jnp.ones((2, 4), bool)
            ),
            ValueError,
            "where",
        ),  # noqa: E501
    ],
)
def test_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()


@settings(max_examples=30, deadline=None)
@given(
    x=st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=4, max_size=4),
    y=st.lists(st.floats(0, 1, width=32), min_size=4, max_size=4),
)
def test_property_nonnegative_finite_matches_reference(x, y):
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    loss, g = _jit_loss_grad(x, y)
    assert np.all(np.asarray(loss) >= 0) and np.isfinite(g).all()
    np.testing.assert_allclose(loss, bce_reference(x, y), rtol=1e-5, atol=1e-5)


@jax.jit
def _jit_loss_grad(x, y):
    return sigmoid_binary_cross_entropy(x, y), jax.grad(
        lambda x: sigmoid_binary_cross_entropy(x, y).sum()
    )(x)


def test_gradient_at_zero_logit_is_exact():
    """Regression: with |x| written as jnp.abs the one-pass form had gradient 0 at x = 0."""
    for y in (0.0, 0.3, 1.0):
        g = jax.grad(lambda x, y=y: sigmoid_binary_cross_entropy(x, y))(0.0)
        np.testing.assert_allclose(g, 0.5 - y, atol=1e-7)


def focal_reference(x, y, gamma, alpha=None):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    p = 1 / (1 + np.exp(-x))
    ce = bce_reference(x, y)
    w = (y * (1 - p) + (1 - y) * p) ** gamma
    out = ce * w
    return out if alpha is None else (alpha * y + (1 - alpha) * (1 - y)) * out


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_matches_reference_and_gradients(variant, data, gamma):
    x, y, _ = data
    fn = variant(lambda x, y: sigmoid_focal_loss(x, y, gamma=gamma, alpha=0.25))
    np.testing.assert_allclose(fn(x, y), focal_reference(x, y, gamma, 0.25), rtol=1e-5, atol=1e-7)
    check_grads(lambda x: fn(x, y), (jnp.asarray(x),), order=1, modes=["rev"], atol=1e-2, rtol=1e-2)
    if gamma == 0.0:
        np.testing.assert_allclose(
            sigmoid_focal_loss(x, y, gamma=0.0), sigmoid_binary_cross_entropy(x, y), rtol=1e-6
        )


def test_focal_extremes_finite_value_gradient_hessian():
    x = jnp.array([100.0, -100.0, 75.0, -75.0, jnp.inf, -jnp.inf])
    y = jnp.array([0.9, 0.1, 0.8, 0.2, 1.0, 0.0])
    for gamma in (0.0, 0.5, 2.0):
        f = lambda x, gamma=gamma: sigmoid_focal_loss(x, y, gamma=gamma).sum()  # noqa: E731
        finite = x[:4]
        assert np.isfinite(f(x)) and np.isfinite(jax.grad(f)(x)).all()
        h = jax.hessian(lambda v, f=f: f(jnp.concatenate([v, x[4:]])))(finite)
        assert np.isfinite(h).all()
