"""Reducing per-example losses: masked and weighted means with PyTorch's semantics.

The losses never reduce; :func:`reduce_loss` does, in one named place. Its ``"mean"`` divides the
summed losses by the summed *weights of the counted examples* (PyTorch's weighted mean for
``F.cross_entropy(weight=..., ignore_index=...)``), or by the number of counted examples when no
weights are given, and returns 0, not NaN, when nothing is counted. A counted NaN or inf loss (or
weight) propagates (NaN in, NaN out); only entries with ``where == False`` are dropped.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from xent_jax.losses._checks import (
    as_array,
    as_float_array,
    check_class_weights,
    check_integer,
    check_nonnegative,
    check_same_shape,
)

__all__ = ["reduce_loss", "target_weights"]

_REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(
    losses: jax.typing.ArrayLike,
    *,
    reduction: Literal["mean", "sum", "none"] = "mean",
    weights: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Reduces per-example losses: ``"mean"``, ``"sum"`` or ``"none"``.

    .. math::
      \text{mean} = \frac{\sum_{i:\,\mathrm{where}_i} \ell_i}{\sum_{i:\,\mathrm{where}_i} w_i}
      \quad(\text{0 when the denominator is 0}),\qquad
      \text{sum} = \sum_{i:\,\mathrm{where}_i} \ell_i

    ``weights`` are the weights the losses *already carry* (e.g. ``class_weights[labels]`` when
    the loss was called with ``class_weights``; see :func:`target_weights`), used only as the
    denominator of the mean, exactly as PyTorch does. For a weighted mean of unweighted losses,
    pass ``losses * w`` and ``weights=w``. Without weights each counted example weighs 1.

    Args:
      losses: per-example losses ``[...]``.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (masked losses, shape kept).
      weights: optional non-negative weights, same shape as ``losses`` (negative or NaN weights
        raise ``ValueError`` when concrete and fail the check in checked mode when traced).
      where: optional boolean mask, same shape; False examples are not counted (their loss, even
        NaN, is replaced by 0).

    Returns:
      A scalar for ``"mean"``/``"sum"``, ``losses.shape`` for ``"none"``; float32 (at least:
      bf16/f16 losses are summed in float32).

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import reduce_loss
      >>> print(reduce_loss(jnp.array([1.0, 3.0, 5.0]), where=jnp.array([True, True, False])))
      2.0
      >>> print(reduce_loss(jnp.zeros(2), where=jnp.array([False, False])))
      0.0
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    losses = as_float_array(losses, "losses")
    # sums in float32 at least: a float16 sum overflows at 65504, a bf16 one keeps 3 digits
    losses = losses.astype(jnp.promote_types(losses.dtype, jnp.float32))
    if where is not None:
        where = jnp.asarray(where)
        if where.dtype != jnp.bool_:
            raise TypeError(f"where must be a boolean mask, got dtype {where.dtype}")
        check_same_shape(losses, where, ("losses", "where"))
        losses = jnp.where(where, losses, 0.0)
    if reduction == "none":
        return losses
    total = jnp.sum(losses)
    if reduction == "sum":
        return total
    if weights is None:
        count = losses.size if where is None else jnp.sum(where)
        denominator = jnp.asarray(count, losses.dtype)
    else:
        weights = as_float_array(weights, "weights")
        check_same_shape(losses, weights, ("losses", "weights"))
        check_nonnegative(weights, "weights")
        weights = weights.astype(losses.dtype)
        if where is not None:
            weights = jnp.where(where, weights, 0.0)
        denominator = jnp.sum(weights)
    # Only a denominator of exactly 0 (nothing counted) gives 0; a NaN total or weight stays NaN.
    empty = denominator == 0
    return jnp.where(empty, 0.0, total / jnp.where(empty, 1.0, denominator))


def target_weights(
    labels: jax.typing.ArrayLike,
    *,
    class_weights: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    num_classes: int | None = None,
) -> jax.Array:
    """Per-example weights ``class_weights[labels]``, 0 where ``labels == ignore_index``.

    The denominator PyTorch uses for ``F.cross_entropy(..., reduction="mean")``.

    Args:
      labels: integer labels ``[...]``.
      class_weights: optional ``[num_classes]`` weights (all 1 when None).
      ignore_index: optional label value that is not counted.
      num_classes: needed only to check ``class_weights`` (defaults to its length).

    Returns:
      float32 weights with the shape of ``labels``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import target_weights
      >>> print(target_weights(jnp.array([0, 2, -100]), class_weights=jnp.array([1.0, 2.0, 3.0]),
      ...                      ignore_index=-100))
      [1. 3. 0.]
    """
    labels = as_array(labels, "labels")
    check_integer(labels, "labels")
    if class_weights is None:
        weights = jnp.ones(labels.shape, jnp.float32)
    else:
        w = jnp.asarray(class_weights)
        w = check_class_weights(w, w.shape[0] if num_classes is None and w.ndim else num_classes)
        weights = w[jnp.clip(labels, 0, w.shape[0] - 1)]
    if ignore_index is not None:
        weights = jnp.where(labels == ignore_index, 0.0, weights)
    return weights
