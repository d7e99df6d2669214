"""CNN and MLP: shapes, parameter counts against closed forms, pooling reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xent_jax.models import CNN, MLP, adaptive_avg_pool


def _count(model) -> int:
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))


@pytest.mark.parametrize(
    "widths,pool,hidden,size",
    [((8, 16), 2, 0, 8), ((4, 8, 16), 1, 12, 28)],
)
def test_cnn_shapes_and_param_count(widths, pool, hidden, size):
    model = CNN(10, widths=widths, pool_size=pool, head_hidden=hidden, rngs=nnx.Rngs(0))
    chans = (1, *widths)
    expected = sum(9 * a * b + b for a, b in zip(chans, chans[1:], strict=False))
    feat = widths[-1] * pool**2
    expected += feat * hidden + hidden + hidden * 10 + 10 if hidden else feat * 10 + 10
    assert _count(model) == expected
    x = jax.random.uniform(jax.random.key(1), (3, size, size, 1))

    @nnx.jit
    def outputs(m, x):
        return m.features(x), m(x), m.features(x, block=0), m.head(m.features(x))

    f, logits, f0, via_head = outputs(model, x)
    assert f.shape == (3, feat) and logits.shape == (3, 10)
    assert f0.shape == (3, widths[0] * pool**2)
    np.testing.assert_allclose(logits, via_head, rtol=1e-6)


def test_cnn_bad_input():
    model = CNN(4, widths=(4,), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"\[N, H, W, 1\]"):
        model(jnp.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="widths"):
        CNN(4, widths=(), rngs=nnx.Rngs(0))


def test_adaptive_avg_pool_matches_numpy():
    x = np.random.default_rng(0).normal(size=(2, 7, 5, 3)).astype(np.float32)
    got = np.asarray(adaptive_avg_pool(jnp.asarray(x), 2))
    # bins: rows [0:4], [3:7]; cols [0:3], [2:5]
    ref = np.stack(
        [
            np.stack([x[:, r0:r1, c0:c1].mean((1, 2)) for c0, c1 in ((0, 3), (2, 5))], 1)
            for r0, r1 in ((0, 4), (3, 7))
        ],
        1,
    )
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_mlp_count_and_forward():
    mlp = MLP(6, (5, 4), 3, rngs=nnx.Rngs(1))
    assert _count(mlp) == 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    x = jax.random.normal(jax.random.key(0), (2, 6))
    layers = list(mlp.layers)
    ref = x
    for i, layer in enumerate(layers):
        ref = ref @ layer.kernel[...] + layer.bias[...][None]
        if i < len(layers) - 1:
            ref = jax.nn.relu(ref)
    np.testing.assert_allclose(mlp(x), ref, rtol=1e-5, atol=1e-6)
    assert mlp.features(x).shape == (2, 4)
    flat = MLP(4, (), 2, flatten=True, rngs=nnx.Rngs(0))
    assert flat(jnp.ones((3, 2, 2, 1))).shape == (3, 2)
    with pytest.raises(ValueError, match="end in 6"):
        mlp(jnp.ones((2, 5)))


@pytest.mark.parametrize(
    "args, match",
    [
        ((4, (8,), 0), "out_features must be a positive int, got 0"),
        ((None, (8,), 3), "in_features must be a positive int, got None"),
        ((4, (1.5,), 3), "hidden must be a sequence of positive ints"),
        ((4, 8, 3), "hidden must be a sequence of positive ints, got 8"),
    ],
)
def test_mlp_rejects_degenerate_sizes_by_name(args, match):
    with pytest.raises(ValueError, match=match):
        MLP(*args, rngs=nnx.Rngs(0))
