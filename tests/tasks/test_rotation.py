"""Rotation task: agrees with np.rot90, four rotations are the identity, labels match."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax.tasks import random_rotation_batch, rotate, rotation_batch


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(5, 6, 6, 2)).astype(np.float32)


def test_rotate_matches_numpy_per_image_k(images, variant):
    k = np.array([0, 1, 2, 3, 5], np.int32)  # 5 == 1 mod 4
    got = variant(rotate)(images, k)
    ref = np.stack([np.rot90(img, kk, axes=(0, 1)) for img, kk in zip(images, k, strict=True)])
    np.testing.assert_array_equal(np.asarray(got), ref)
    for kk in range(4):  # scalar k, including a traced one
        np.testing.assert_array_equal(
            np.asarray(variant(rotate)(images, jnp.int32(kk))), np.rot90(images, kk, axes=(1, 2))
        )


def test_four_rotations_are_identity_and_vmappable(images):
    x = jnp.asarray(images)
    out = x
    for _ in range(4):
        out = rotate(out, jnp.ones(5, jnp.int32))
    np.testing.assert_array_equal(np.asarray(out), images)
    # vmapped over a leading axis of k values: k-th slice is rotated by k
    ks = jnp.arange(4, dtype=jnp.int32)
    stacked = jax.vmap(lambda k: rotate(x, k))(ks)
    for k in range(4):
        np.testing.assert_array_equal(np.asarray(stacked[k]), np.rot90(images, k, axes=(1, 2)))


def test_rotation_batch_labels(images):
    x, y = jax.jit(rotation_batch)(images)
    assert x.shape == (20, 6, 6, 2) and y.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(y), np.repeat(np.arange(4), 5))
    np.testing.assert_array_equal(
        np.asarray(x), np.asarray(rotate(jnp.tile(images, (4, 1, 1, 1)), y))
    )
    xr, k = random_rotation_batch(images, jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(xr), np.asarray(rotate(images, k)))
    assert set(np.asarray(k).tolist()) <= {0, 1, 2, 3}


def test_bad_input(images):
    with pytest.raises(ValueError, match="square"):
        rotate(np.zeros((1, 4, 5, 1)), 1)
    with pytest.raises(ValueError, match="NHWC"):
        rotation_batch(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="integer"):
        rotate(images, 1.0)
    with pytest.raises(ValueError, match=r"\[N\]"):
        rotate(images, jnp.zeros(3, jnp.int32))
