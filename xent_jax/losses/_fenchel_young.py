"""Fenchel-Young losses built from a max function (optax's ``make_fenchel_young_loss``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from xent_jax.losses._checks import as_array, as_float_array, broadcast_arrays, compute_dtype

__all__ = ["make_fenchel_young_loss"]


@jax.jit
def _dot_value(targets: jax.Array, scores: jax.Array) -> jax.Array:
    """``sum_k t_k s_k`` over the last axis with ``0 * (-inf) = 0`` (fast pass, exact fallback).

    Computed in float32 (at least); the conversion happens inside the reduction."""
    dtype = compute_dtype(targets.dtype, scores.dtype)
    if scores.dtype != dtype:  # keep XLA from sharing (materialising) one float32 copy of the
        scores = lax.optimization_barrier(scores)  # scores with max_fun; free at run time
    fast = jnp.sum(targets.astype(dtype) * scores.astype(dtype), axis=-1)

    def exact(targets, scores):
        targets, scores = targets.astype(dtype), scores.astype(dtype)
        zero = targets == 0
        return jnp.sum(jnp.where(zero, 0.0, targets * jnp.where(zero, 0.0, scores)), axis=-1)

    return lax.cond(jnp.all(~jnp.isnan(fast)), lambda t, s: fast, exact, targets, scores)


@jax.custom_jvp
def _dot_last(targets: jax.Array, scores: jax.Array) -> jax.Array:
    return _dot_value(targets, scores)


@_dot_last.defjvp
def _dot_last_jvp(primals, tangents):
    """d <t, s> = <dt, s> + <t, ds>, with ``s`` capped at the largest float (a ``-inf`` score
    gives the target derivative ``-max float``, and a zero target tangent there gives 0)."""
    t, s = primals
    dt, ds = tangents
    out = _dot_value(t, s)
    dtype = out.dtype
    big = jnp.finfo(dtype).max
    s_capped = jnp.clip(s.astype(dtype), -big, big)
    tangent = jnp.sum(dt.astype(dtype) * s_capped, axis=-1)
    return out, tangent + jnp.sum(t.astype(dtype) * ds.astype(dtype), axis=-1)


def make_fenchel_young_loss(max_fun: Callable[..., Any]) -> Callable[..., jax.Array]:
    r"""Creates the Fenchel-Young loss of a (regularised) max function.

    .. math::
      \ell(s, y) = \Omega^*(s) - \langle y, s \rangle

    where ``max_fun`` is :math:`\Omega^*` applied to the last axis (``logsumexp`` gives the
    softmax cross-entropy, a sparsemax-style max gives the sparsemax loss). As in optax, the loss
    takes ``(scores, targets, *args, **kwargs)`` with any number of leading dimensions, passes
    the extra arguments to ``max_fun`` (optax's silently drops keyword arguments and rejects
    positional ones) and reduces the last axis. ``max_fun`` sees the scores in
    their own dtype, as in optax (upcast inside it for float32 arithmetic on bf16 scores; an
    upcast here would cost a float32 copy of the scores); the inner product is computed in
    float32 (at least), and a zero target next to a ``-inf`` score contributes 0 to it (optax:
    NaN).

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

    def fenchel_young_loss(scores, targets, *args, **kwargs):
        scores = as_float_array(scores, "scores")
        targets = as_array(targets, "targets")
        if not jnp.issubdtype(targets.dtype, jnp.floating):
            targets = targets.astype(compute_dtype(scores.dtype))

        # The extra arguments are bound before vectorising: ``jnp.vectorize`` drops keyword
        # arguments silently (optax's loss ignores them) and refuses extra positional ones.
        def max_last(s):
            return max_fun(s, *args, **kwargs)

        max_value = jnp.vectorize(max_last, signature="(n)->()")(scores)
        _, (t, s) = broadcast_arrays({"targets": targets, "scores": scores})
        return max_value - _dot_last(t, s)

    return fenchel_young_loss
