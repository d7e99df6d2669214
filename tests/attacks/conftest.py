"""Tiny real-data models for the attack tests: a fitted linear model and a small MLP on digits."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits


class Digits:
    """48 sklearn digits as ``[48, 8, 8, 1]`` in [0, 1] with a least-squares linear read-out."""

    def __init__(self):
        d = load_digits()
        images = (d.images / 16.0).astype(np.float32)[..., None]
        train, test = slice(0, 1000), slice(1000, 1048)
        a = np.concatenate([d.data[train] / 16.0, np.ones((1000, 1))], axis=1)
        sol = np.linalg.lstsq(a, 8.0 * np.eye(10)[d.target[train]], rcond=None)[0]
        self.w = jnp.asarray(sol[:-1], jnp.float32)
        self.b = jnp.asarray(sol[-1], jnp.float32)
        self.x = jnp.asarray(images[test])
        self.y = jnp.asarray(d.target[test], jnp.int32)
        rng = np.random.default_rng(1)
        self.w1 = jnp.asarray(rng.normal(size=(64, 32)) / 8.0, jnp.float32)
        self.w2 = jnp.asarray(rng.normal(size=(32, 10)) / np.sqrt(32.0), jnp.float32)

    def linear(self, x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1) @ self.w + self.b[None, :]

    def mlp(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(x.reshape(x.shape[0], -1) @ self.w1) @ self.w2


@pytest.fixture(scope="session")
def digits() -> Digits:
    return Digits()
