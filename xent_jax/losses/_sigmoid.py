"""Sigmoid (binary and multi-label) cross-entropy from logits, with PyTorch's ``pos_weight``.

Computed in at least float32 with ``log_sigmoid`` (never ``log(1 - sigmoid(x))``), so logits of
any magnitude give finite losses and gradients; ``+-inf`` logits give 0 where the label agrees.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from xent_jax.losses._checks import (
    as_float_array,
    check_broadcastable,
    check_same_shape,
    compute_dtype,
)

__all__ = ["multilabel_sigmoid_cross_entropy", "sigmoid_binary_cross_entropy"]


def _times_log(coef: jax.Array, log_value: jax.Array) -> jax.Array:
    """``coef * log_value`` with ``0 * -inf = 0`` and finite gradients for both arguments."""
    zero = coef == 0
    return jnp.where(zero, 0.0, coef * jnp.where(zero, 0.0, log_value))


def sigmoid_binary_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    pos_weight: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Elementwise binary cross-entropy on logits (PyTorch ``BCEWithLogitsLoss``, no reduction).

    .. math::
      \ell = -\left[c\, y \log \sigma(x) + (1 - y) \log(1 - \sigma(x))\right]

    ``pos_weight`` (:math:`c`) multiplies the positive term only; as in PyTorch it broadcasts
    against ``logits`` from the trailing axis, so a ``[num_classes]`` vector weighs each class's
    positives (``c > 1`` raises recall, ``c < 1`` precision).

    Args:
      logits: floating ``[...]``.
      labels: floating targets in ``[0, 1]``, same shape as ``logits``.
      pos_weight: optional positive-class weight broadcastable to ``logits.shape``.

    Returns:
      Elementwise losses ``logits.shape``, float32 (float64 for float64 inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import sigmoid_binary_cross_entropy
      >>> jnp.set_printoptions(precision=4)
      >>> print(sigmoid_binary_cross_entropy(jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0])))
      [0.6931 2.1269]
    """
    logits = as_float_array(logits, "logits")
    labels = as_float_array(labels, "labels")
    check_same_shape(logits, labels, ("logits", "labels"))
    dtype = compute_dtype(logits.dtype, labels.dtype)
    x = logits.astype(dtype)
    y = labels.astype(dtype)
    pos = y
    if pos_weight is not None:
        pos_weight = as_float_array(pos_weight, "pos_weight")
        check_broadcastable(pos_weight, logits.shape, "pos_weight", "logits")
        pos = y * jnp.broadcast_to(pos_weight.astype(dtype), logits.shape)
    return -(_times_log(pos, jax.nn.log_sigmoid(x)) + _times_log(1.0 - y, jax.nn.log_sigmoid(-x)))


def multilabel_sigmoid_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    pos_weight: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Multi-label cross-entropy: binary cross-entropy summed over the last (label) axis.

    .. math::
      \ell_i = \sum_{k:\,\mathrm{where}_{ik}} \mathrm{BCE}(x_{ik}, y_{ik}; c_k)

    Args:
      logits: floating ``[..., num_labels]``.
      labels: floating targets in ``[0, 1]``, same shape.
      pos_weight: optional per-label positive weight broadcastable to ``logits.shape`` (usually
        ``[num_labels]``), PyTorch ``BCEWithLogitsLoss`` semantics.
      where: optional boolean mask of the logits' shape; masked labels contribute 0.

    Returns:
      Per-example losses ``logits.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import multilabel_sigmoid_cross_entropy
      >>> x = jnp.array([[0.0, 2.0, -1.0]])
      >>> y = jnp.array([[1.0, 0.0, 0.0]])
      >>> jnp.set_printoptions(precision=4)
      >>> print(multilabel_sigmoid_cross_entropy(x, y))
      [3.1333]
    """
    logits = as_float_array(logits, "logits")
    if logits.ndim < 1:
        raise ValueError(f"logits must have a label axis (rank >= 1), got rank {logits.ndim}")
    per_label = sigmoid_binary_cross_entropy(logits, labels, pos_weight=pos_weight)
    if where is not None:
        where = jnp.asarray(where)
        if where.dtype != jnp.bool_:
            raise TypeError(f"where must be a boolean mask, got dtype {where.dtype}")
        check_same_shape(logits, where, ("logits", "where"))
        per_label = jnp.where(where, per_label, 0.0)
    return jnp.sum(per_label, axis=-1)
