"""Fenchel-Young losses built from a max function (optax's ``make_fenchel_young_loss``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from xent_jax.losses._checks import as_float_array, broadcast_arrays, compute_dtype

__all__ = ["make_fenchel_young_loss"]


def _dot_last(targets: jax.Array, scores: jax.Array) -> jax.Array:
    """``sum_k t_k s_k`` over the last axis with ``0 * (-inf) = 0`` (fast pass, exact fallback)."""
    fast = jnp.sum(targets * scores, axis=-1)

    def exact(targets, scores):
        zero = targets == 0
        return jnp.sum(jnp.where(zero, 0.0, targets * jnp.where(zero, 0.0, scores)), axis=-1)

    return lax.cond(jnp.all(~jnp.isnan(fast)), lambda t, s: fast, exact, targets, scores)


def make_fenchel_young_loss(max_fun: Callable[..., Any]) -> Callable[..., jax.Array]:
    r"""Creates the Fenchel-Young loss of a (regularised) max function.

    .. math::
      \ell(s, y) = \Omega^*(s) - \langle y, s \rangle

    where ``max_fun`` is :math:`\Omega^*` applied to the last axis (``logsumexp`` gives the
    softmax cross-entropy, a sparsemax-style max gives the sparsemax loss). As in optax, the loss
    takes ``(scores, targets, *args, **kwargs)`` with any number of leading dimensions, passes
    the extra arguments to ``max_fun`` and reduces the last axis. Scores are upcast to float32
    (at least) before ``max_fun`` sees them, and a zero target next to a ``-inf`` score
    contributes 0 to the inner product (optax: NaN).

    Args:
      max_fun: a function of a vector ``[n]`` returning a scalar.

    Returns:
      ``fenchel_young_loss(scores, targets, *args, **kwargs)`` returning ``[...]`` losses.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jax.scipy.special import logsumexp
      >>> from xent_jax.losses import make_fenchel_young_loss
      >>> fy = make_fenchel_young_loss(logsumexp)
      >>> print(f"{float(fy(jnp.array([1.0, 2.0, 3.0]), jnp.array([0.0, 0.0, 1.0]))):.4f}")
      0.4076

    References:
      Blondel et al., "Learning with Fenchel-Young Losses", JMLR 2020.
    """
    if not callable(max_fun):
        raise TypeError(f"max_fun must be callable, got {type(max_fun).__name__}")
    max_fun_last_dim = jnp.vectorize(max_fun, signature="(n)->()")

    def fenchel_young_loss(scores, targets, *args, **kwargs):
        scores = as_float_array(scores, "scores")
        targets = jnp.asarray(targets)
        dtype = compute_dtype(scores.dtype, targets.dtype)
        scores = scores.astype(dtype)
        max_value = max_fun_last_dim(scores, *args, **kwargs)
        _, (t, s) = broadcast_arrays({"targets": targets.astype(dtype), "scores": scores})
        return max_value - _dot_last(t, s)

    return fenchel_young_loss
