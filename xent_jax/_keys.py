"""The one rule for PRNG keys across xent_jax (the engine, the attacks, the evaluators, the stats).

Library functions take ``key``: a typed key (``jax.random.key(seed)``), a legacy raw key
(``jax.random.PRNGKey(seed)``, ``uint32[2]``) or a plain Python/NumPy integer seed, which means
exactly ``jax.random.key(seed)``. Everything else (``None``, floats, bools, strings, arrays of
another shape) is refused with a ``TypeError`` naming the argument.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["as_key", "is_key"]


def is_key(value: Any) -> bool:
    """Whether ``value`` is a typed PRNG key array (any shape)."""
    return isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key)


def as_key(key: Any, name: str = "key", *, batched: bool = False) -> jax.Array:
    """Returns ``key`` as a typed PRNG key, applying the integer-seed rule.

    Args:
      key: a typed key, a raw ``uint32[2]`` key, or an integer seed (``jax.random.key(seed)``).
      name: the argument's name, used in error messages.
      batched: also accept a 1-D array of typed keys ``[n]`` (e.g. one key per seed).

    Returns:
      a typed key array: scalar, or ``[n]`` when ``batched`` and a batch was given.

    Raises:
      TypeError: for ``None``, booleans, floats, strings or arrays that are not keys.
      ValueError: for a negative integer seed or a key batch of the wrong rank.

    Examples:
      >>> import jax
      >>> as_key(0) == jax.random.key(0)
      Array(True, dtype=bool)
      >>> as_key(None)
      Traceback (most recent call last):
      ...
      TypeError: key must be a PRNG key (jax.random.key(seed)) or an int seed, got None
    """
    if key is None or isinstance(key, bool | np.bool_):
        raise TypeError(
            f"{name} must be a PRNG key (jax.random.key(seed)) or an int seed, got {key!r}"
        )
    if isinstance(key, numbers.Integral):
        seed = int(key)
        if seed < 0:
            raise ValueError(f"{name}: an int seed must be >= 0, got {seed}")
        return jax.random.key(seed)
    if is_key(key):
        if key.ndim == 0 or (batched and key.ndim == 1):
            return key
        expected = "a scalar key or a [n] batch of keys" if batched else "a scalar key"
        raise ValueError(f"{name} must be {expected}, got a key array of shape {key.shape}")
    if isinstance(key, jax.Array | np.ndarray) and key.dtype == np.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(jnp.asarray(key))
    got = type(key).__name__
    if hasattr(key, "dtype") and hasattr(key, "shape"):
        got = f"an array of dtype {key.dtype} and shape {tuple(key.shape)}"
    raise TypeError(f"{name} must be a PRNG key (jax.random.key(seed)) or an int seed, got {got}")
