"""GAN generator/discriminator: shapes, output constraints, packing semantics, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xent_jax.models import Discriminator, Generator, sparsemax


def _sparsemax_reference(v):
    """Sort-based simplex projection (Martins & Astudillo 2016, Alg. 1) in numpy float64."""
    z = np.sort(v)[::-1]
    cssv = np.cumsum(z)
    k = np.arange(1, len(v) + 1)
    support = z - (cssv - 1) / k > 0
    kz = k[support][-1]
    tau = (cssv[kz - 1] - 1) / kz
    return np.maximum(v - tau, 0)


def test_sparsemax_matches_reference_and_has_zeros():
    x = np.random.default_rng(0).normal(size=(6, 9)).astype(np.float32) * 2
    got = np.asarray(sparsemax(jnp.asarray(x)))
    want = np.stack([_sparsemax_reference(r.astype(np.float64)) for r in x])
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
    assert (got == 0).any()


@pytest.mark.parametrize("output", ["identity", "softmax", "sqrt_softmax", "sparsemax"])
def test_generator_shapes_and_outputs(output):
    g = Generator(3, 5, hidden=(8, 8), output=output, rngs=nnx.Rngs(0))
    x = np.asarray(g(jax.random.normal(jax.random.key(1), (7, 3))))
    assert x.shape == (7, 5)
    if output == "sqrt_softmax":
        assert np.all(x >= 0)
        np.testing.assert_allclose((x**2).sum(-1), 1.0, atol=1e-5)
    elif output != "identity":
        assert np.all(x >= 0)
        np.testing.assert_allclose(x.sum(-1), 1.0, atol=1e-5)


def test_sqrt_softmax_gradient_is_finite_for_vanishing_probabilities():
    g = Generator(2, 3, hidden=(4,), output="sqrt_softmax", rngs=nnx.Rngs(0))
    nnx.update(g, {"head": {"bias": jnp.array([0.0, -200.0, 200.0])}})
    z = jax.random.normal(jax.random.key(0), (5, 2))

    def loss(model):
        return model(z).sum()

    grads = nnx.grad(loss)(g)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(grads))


def test_discriminator_packs_consecutive_samples():
    d = Discriminator(2, hidden=(8,), pack=3, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (6, 2))
    logits = d(x)
    assert logits.shape == (2,)
    # The first logit depends only on the first three samples.
    x2 = x.at[4].set(10.0)
    np.testing.assert_allclose(np.asarray(d(x2))[0], np.asarray(logits)[0], rtol=1e-6)
    assert not np.allclose(np.asarray(d(x2))[1], np.asarray(logits)[1])
    # A pack-1 copy of the same weights scores the flattened pack identically.
    flat = Discriminator(6, hidden=(8,), pack=1, rngs=nnx.Rngs(0))
    nnx.update(flat, nnx.state(d))
    np.testing.assert_allclose(np.asarray(flat(x.reshape(2, 6))), np.asarray(logits), rtol=1e-6)


def test_sqrt_input_transform_is_applied_before_the_layers():
    d = Discriminator(4, hidden=(8,), input_transform="sqrt", rngs=nnx.Rngs(0))
    plain = Discriminator(4, hidden=(8,), rngs=nnx.Rngs(0))
    x = jnp.array([[0.25, 0.0, 0.75, 0.0], [0.01, 0.09, 0.5, 0.4]])
    # sqrt(x + 1e-6) - 1e-3 differs from sqrt(x) by at most 1e-3.
    np.testing.assert_allclose(np.asarray(d(x)), np.asarray(plain(jnp.sqrt(x))), atol=5e-3)
    g = jax.grad(lambda v: d(v).sum())(x)
    assert np.all(np.isfinite(np.asarray(g)))


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="output"):
        Generator(2, 2, output="tanh", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="pack"):
        Discriminator(2, pack=0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="input_transform"):
        Discriminator(2, input_transform="log", rngs=nnx.Rngs(0))
    d = Discriminator(2, hidden=(4,), pack=2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="multiple of pack"):
        d(jnp.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"shape \[batch, 2\]"):
        d(jnp.zeros((4, 3)))
    g = Generator(2, 2, hidden=(4,), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="z must have shape"):
        g(jnp.zeros((4, 3)))
