"""Sparsemax losses: closed forms, the float64 sort-based projection, gradients, edges, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax.losses import checked, multiclass_sparsemax_loss, sparsemax_loss


def sparsemax64(z):
    z = np.asarray(z, np.float64)
    out = np.empty_like(z)
    for i, row in enumerate(z.reshape(-1, z.shape[-1])):
        u = np.sort(row)[::-1]
        css = np.cumsum(u)
        k = np.arange(1, row.size + 1)
        rho = np.max(k[1 + k * u > css])
        out.reshape(-1, z.shape[-1])[i] = np.maximum(row - (css[rho - 1] - 1) / rho, 0.0)
    return out


def multiclass_reference(z, y):
    p = sparsemax64(z)
    zy = np.take_along_axis(np.asarray(z, np.float64), y[..., None], -1)
    return np.sum(p * (z - zy), -1) + 0.5 * (1 - np.sum(p * p, -1))


def test_binary_closed_form_and_gradient(variant):
    x = np.array([-3.0, -1.0, -0.4, 0.0, 0.7, 1.0, 5.0], np.float32)
    for y in (0, 1):
        s = -x if y else x
        ref = np.where(s <= -1, 0.0, np.where(s >= 1, s, (s + 1) ** 2 / 4))
        labels = np.full(x.shape, y)
        np.testing.assert_allclose(variant(sparsemax_loss)(x, labels), ref, atol=1e-7)
        g = jax.grad(lambda x, labels=labels: sparsemax_loss(x, labels).sum())(jnp.asarray(x))
        dref = np.where(s <= -1, 0.0, np.where(s >= 1, 1.0, (s + 1) / 2)) * (-1 if y else 1)
        np.testing.assert_allclose(g, dref, atol=1e-7)
    inf = jnp.array([jnp.inf, -jnp.inf])
    g = jax.grad(lambda x: sparsemax_loss(x, jnp.array([1, 1])).sum())(inf)
    assert np.isfinite(g).all()


def test_multiclass_matches_sort_based_float64(variant):
    rng = np.random.default_rng(0)
    for scale in (0.1, 1.0, 10.0, 1e4):
        z = (rng.normal(size=(2, 5, 7)) * scale).astype(np.float32)  # leading dims (optax: 2-D)
        y = rng.integers(0, 7, (2, 5))
        np.testing.assert_allclose(
            variant(multiclass_sparsemax_loss)(z, y),
            multiclass_reference(z, y),
            rtol=1e-5,
            atol=1e-5 * scale,
        )


def test_multiclass_gradient_is_sparsemax_minus_onehot_and_ties():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 5)).astype(np.float32)
    z[0] = [1.0, 1.0, 1.0, 0.0, -2.0]  # ties
    y = rng.integers(0, 5, 6)
    g = jax.jit(jax.grad(lambda z: multiclass_sparsemax_loss(z, y).sum()))(z)
    np.testing.assert_allclose(g, sparsemax64(z) - np.eye(5)[y], atol=1e-6)
    h = jax.hessian(lambda z: multiclass_sparsemax_loss(z[None], y[:1]).sum())(jnp.asarray(z[1]))
    assert np.isfinite(h).all()


def test_minus_inf_scores_and_out_of_range_labels():
    z = jnp.array([[-jnp.inf, 0.2, 0.5, -jnp.inf], [0.0, 0.0, 0.0, 0.0]])
    y = jnp.array([2, 4])
    out = multiclass_sparsemax_loss(z, y)
    np.testing.assert_allclose(
        out[0], multiclass_reference(np.array([[0.2, 0.5]]), np.array([1]))[0], rtol=1e-6
    )
    assert np.isnan(out[1])
    g = jax.grad(lambda z: multiclass_sparsemax_loss(z[:1], y[:1]).sum())(z)
    assert np.all(np.asarray(g)[0, [0, 3]] == 0.0)
    with pytest.raises(Exception, match=r"labels out of range: labels\[1\] = 4"):
        checked(multiclass_sparsemax_loss)(z, y)


def test_bad_input():
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        multiclass_sparsemax_loss(jnp.zeros((2, 3)), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"labels must have the shape .* \(2,\), got \(3,\)"):
        multiclass_sparsemax_loss(jnp.zeros((2, 3)), jnp.zeros(3, int))
    with pytest.raises(TypeError, match="logits must have a floating dtype"):
        sparsemax_loss(jnp.zeros(3, int), jnp.zeros(3))
