"""Listwise ranking losses (optax's ``ranking_softmax_loss``)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from xent_jax.losses._checks import (
    as_array,
    as_float_array,
    broadcast_arrays,
    broadcast_where,
    check_in_range,
)
from xent_jax.losses._softmax import _soft_kernel

__all__ = ["ranking_softmax_loss"]


def _reduce(
    loss: jax.Array, where: jax.Array | None, reduce_fn: Callable[..., jax.Array] | None
) -> jax.Array:
    """optax's ``_safe_reduce`` semantics, with NaN kept: only an empty mean becomes 0."""
    if reduce_fn is None:
        return loss if where is None else jnp.where(where, loss, 0.0)
    if reduce_fn is jnp.mean:
        kept = loss if where is None else jnp.where(where, loss, 0.0)
        count = jnp.asarray(loss.size if where is None else jnp.sum(where), loss.dtype)
        empty = count == 0
        return jnp.where(empty, 0.0, jnp.sum(kept) / jnp.where(empty, 1.0, count))
    return reduce_fn(loss, where=where)


def ranking_softmax_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    where: jax.typing.ArrayLike | None = None,
    weights: jax.typing.ArrayLike | None = None,
    reduce_fn: Callable[..., jax.Array] | None = jnp.mean,
) -> jax.Array:
    r"""Listwise softmax cross-entropy of item scores against relevance labels.

    .. math::
      \ell(s, y) = -\sum_i w_i y_i \log \frac{e^{s_i}}{\sum_j e^{s_j}}

    over the last axis (the list), then reduced over lists with ``reduce_fn`` (optax's
    semantics: ``reduce_fn(losses, where=valid_lists)``; lists with no valid item are left out,
    and a mean over no list is 0). Computed with :func:`softmax_cross_entropy`'s stable form:
    exact for scores of any size, 0 for zero labels at ``-inf`` scores, masked items (even NaN)
    never reach the value or the gradient; a NaN in a valid item gives NaN (optax's mean hides
    nothing either).

    Args:
      logits: item scores ``[..., list_size]``.
      labels: relevance labels broadcastable with ``logits`` (cast to float, as in optax).
      where: optional boolean mask of valid items.
      weights: optional per-item weights, multiplying the labels.
      reduce_fn: ``jnp.mean`` (default), ``jnp.sum``, any function taking ``where=``, or None
        for per-list losses (0 for lists with no valid item).

    Returns:
      A scalar, or ``[...]`` per-list losses when ``reduce_fn`` is None.

    Checked mode (:func:`xent_jax.losses.checked`): raises for NaN or ``+inf`` valid scores and
    negative or NaN valid labels.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import ranking_softmax_loss
      >>> loss = ranking_softmax_loss(jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
      >>> print(f"{float(loss):.3f}")
      1.408

    References:
      Cao et al., "Learning to Rank: From Pairwise Approach to Listwise Approach", ICML 2007.
    """
    logits = as_float_array(logits, "logits")
    labels = as_array(labels, "labels")
    arrays = {"logits": logits, "labels": labels}
    if weights is not None:
        arrays["weights"] = jnp.asarray(weights)
    shape, values = broadcast_arrays(arrays)
    if len(shape) < 1:
        raise ValueError("logits must have a list axis (rank >= 1), got a scalar")
    dtype = jnp.promote_types(logits.dtype, jnp.float32)
    z = values[0]  # own dtype: converted inside the fused kernel (no float32 copy of bf16)
    t = values[1] if jnp.issubdtype(values[1].dtype, jnp.floating) else values[1].astype(dtype)
    if weights is not None:
        t = t.astype(dtype) * values[2].astype(dtype)
    mask = broadcast_where(where, shape)
    check_in_range(t, "labels", 0.0, None, where=mask)
    if shape[-1] == 0:
        loss = jnp.zeros(shape[:-1], dtype)
    else:
        loss = _soft_kernel(z, t, mask, 0.0)
    valid_lists = None if mask is None else jnp.any(mask, axis=-1)
    return _reduce(loss, valid_lists, reduce_fn)
