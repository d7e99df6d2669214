"""Protein Transformer: shapes, padding-aware attention, pre-LN blocks, mean pooling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xent_jax.models.transformer import EncoderBlock, ProteinTransformer

V = 29


@pytest.fixture(scope="module")
def model():
    return ProteinTransformer(
        vocab_size=V, d_model=16, num_layers=2, num_heads=2, max_len=12, rngs=nnx.Rngs(0)
    )


@pytest.fixture(scope="module")
def apply(model):
    graphdef, state = nnx.split(model)

    @jax.jit
    def f(state, tokens):
        m = nnx.merge(graphdef, state)
        return m(tokens), m.embed(tokens)

    return lambda tokens: f(state, jnp.asarray(tokens))


def test_shapes(apply):
    logits, emb = apply(np.array([[2, 4, 5, 6, 3, 0, 0, 0]] * 3, np.int32))
    assert logits.shape == (3, 8, V) and emb.shape == (3, 16)
    assert np.isfinite(np.asarray(logits)).all()


def test_padding_does_not_change_real_positions(apply):
    """Extra padding keys are ignored: outputs at real positions and pooled embeddings agree."""
    short = np.array([[2, 4, 9, 7, 11, 3]], np.int32)
    padded = np.concatenate([short, np.zeros((1, 6), np.int32)], axis=1)
    a_logits, a_emb = apply(short)
    b_logits, b_emb = apply(padded)
    np.testing.assert_allclose(np.asarray(b_logits)[:, :6], np.asarray(a_logits), atol=1e-5)
    np.testing.assert_allclose(np.asarray(b_emb), np.asarray(a_emb), atol=1e-5)


def test_attention_uses_context(apply):
    """Changing a token changes the outputs at other (real) positions."""
    a = np.array([[2, 4, 9, 7, 11, 3]], np.int32)
    b = a.copy()
    b[0, 4] = 20
    la, _ = apply(a)
    lb, _ = apply(b)
    assert np.abs(np.asarray(la)[0, 1] - np.asarray(lb)[0, 1]).max() > 1e-4


def test_embed_is_mean_of_encoded_positions(model):
    tokens = jnp.array([[2, 4, 9, 3, 0, 0], [2, 5, 6, 7, 8, 3]])
    where = jnp.array([[0, 1, 1, 0, 0, 0], [0, 1, 1, 1, 1, 0]], bool)
    graphdef, state = nnx.split(model)

    @jax.jit
    def f(state, tokens, where):
        m = nnx.merge(graphdef, state)
        return m.encode(tokens), m.embed(tokens, where=where)

    h, emb = (np.asarray(x) for x in f(state, tokens, where))
    np.testing.assert_allclose(emb[0], h[0, 1:3].mean(0), atol=1e-5)
    np.testing.assert_allclose(emb[1], h[1, 1:5].mean(0), atol=1e-5)


def test_pre_layernorm_block_is_residual():
    """With zeroed output projections a pre-LN block is the identity (x + f(LN(x)))."""
    block = EncoderBlock(8, 2, 16, dropout_rate=0.0, rngs=nnx.Rngs(1))
    block.proj.kernel[...] = jnp.zeros_like(block.proj.kernel[...])
    block.proj.bias[...] = jnp.zeros_like(block.proj.bias[...])
    block.fc2.kernel[...] = jnp.zeros_like(block.fc2.kernel[...])
    block.fc2.bias[...] = jnp.zeros_like(block.fc2.bias[...])
    x = jax.random.normal(jax.random.key(0), (2, 5, 8)) * 10
    graphdef, state = nnx.split(block)
    y = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x, jnp.ones((2, 5), bool)))(state, x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(x))


def test_gradients_are_finite_with_padding(model):
    graphdef, state = nnx.split(model)
    tokens = jnp.array([[2, 4, 9, 3, 0, 0, 0, 0]])

    def loss(state):
        return nnx.merge(graphdef, state)(tokens).sum()

    grads = jax.jit(jax.grad(loss))(state)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grads))


def test_bad_inputs_raise(model):
    with pytest.raises(ValueError, match="batch, length"):
        model(jnp.array([2, 4, 3]))
    with pytest.raises(TypeError, match="integer"):
        model(jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="max_len=12"):
        model(jnp.ones((1, 13), jnp.int32))
    with pytest.raises(ValueError, match="num_heads"):
        ProteinTransformer(vocab_size=V, d_model=10, num_heads=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="where"):
        model.embed(jnp.ones((1, 3), jnp.int32), where=jnp.ones((1, 4), bool))
