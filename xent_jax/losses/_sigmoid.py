"""Sigmoid (binary and multi-label) cross-entropy from logits, PyTorch's ``pos_weight``, focal loss.

Computed in at least float32 with ``log_sigmoid`` (never ``log(1 - sigmoid(x))``), so logits of
any magnitude give finite losses and gradients; ``+-inf`` logits give 0 where the label agrees.
``sigmoid_binary_cross_entropy`` and ``sigmoid_focal_loss`` keep optax 0.2.8's signatures: labels
of any numeric dtype are cast (as optax casts them to the logits' dtype; here to the compute
dtype, at least float32) and broadcast against the logits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax.losses._checks import (
    as_array,
    as_float_array,
    broadcast_arrays,
    broadcast_where,
    check_broadcastable,
    check_finite,
    check_in_range,
    check_nonnegative,
    compute_dtype,
)

__all__ = [
    "multilabel_sigmoid_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
]


def _times_log(coef: jax.Array, log_value: jax.Array) -> jax.Array:
    """``coef * log_value`` with ``0 * -inf = 0`` and finite gradients for both arguments."""
    zero = coef == 0
    return jnp.where(zero, 0.0, coef * jnp.where(zero, 0.0, log_value))


def _prepare(logits, labels):
    """Checks, casts and broadcasts logits and labels; returns ``(x, y)`` in the compute dtype."""
    logits = as_float_array(logits, "logits")
    if labels is None:
        raise TypeError("labels must be an array, got None")
    labels = as_array(labels, "labels")
    if not (jnp.issubdtype(labels.dtype, jnp.number) or labels.dtype == jnp.bool_):
        raise TypeError(f"labels must be numeric, got dtype {labels.dtype}")
    if jnp.issubdtype(labels.dtype, jnp.complexfloating):
        raise TypeError(f"labels must be real, got dtype {labels.dtype}")
    _, (logits, labels) = broadcast_arrays({"logits": logits, "labels": labels})
    dtype = compute_dtype(logits.dtype, labels.dtype)
    x, y = logits.astype(dtype), labels.astype(dtype)
    return x, y


def _check_values(x: jax.Array, y: jax.Array, where: jax.Array | None = None) -> None:
    check_finite(x, "logits", where=where, allow_inf=True)
    check_in_range(y, "labels", 0.0, 1.0, where=where)


def _bce(x: jax.Array, y: jax.Array, pos: jax.Array) -> jax.Array:
    """``pos * softplus(-x) + (1 - y) * softplus(x)`` sharing ``log1p(exp(-|x|))``.

    One exponential and one ``log1p`` per entry (two ``log_sigmoid`` would take two of each);
    ``0 * inf = 0`` at infinite logits, with finite gradients there.
    """
    neg = 1.0 - y
    # |x| as max(x, -x): its derivative at 0 is 0 (jnp.abs has 1 there), so that together with
    # the 1/2 of max(+-x, 0) at the tie the gradient at x = 0 is sigmoid(0) - y, exactly.
    shared = jnp.log1p(jnp.exp(-jnp.maximum(x, -x)))
    return (
        _times_log(pos, jnp.maximum(-x, 0.0))
        + _times_log(neg, jnp.maximum(x, 0.0))
        + (pos + neg) * shared
    )


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
    against the logits from the trailing axis, so a ``[num_classes]`` vector weighs each class's
    positives (``c > 1`` raises recall, ``c < 1`` precision).

    Args:
      logits: floating ``[...]``.
      labels: targets in ``[0, 1]`` broadcastable with ``logits``; integer or boolean labels are
        cast (as in optax).
      pos_weight: optional non-negative positive-class weight broadcastable to the loss shape.

    Returns:
      Elementwise losses with the broadcast shape, float32 (float64 for float64 inputs).

    Checked mode (:func:`xent_jax.losses.checked`): raises for NaN logits, labels outside
    ``[0, 1]`` and negative or NaN ``pos_weight``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import sigmoid_binary_cross_entropy
      >>> jnp.set_printoptions(precision=4)
      >>> print(sigmoid_binary_cross_entropy(jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0])))
      [0.6931 2.1269]
      >>> print(sigmoid_binary_cross_entropy(jnp.array([0.0, 2.0]), jnp.array([1, 0])))
      [0.6931 2.1269]
    """
    x, y = _prepare(logits, labels)
    _check_values(x, y)
    pos = y
    if pos_weight is not None:
        pos_weight = as_float_array(pos_weight, "pos_weight")
        check_broadcastable(pos_weight, x.shape, "pos_weight", "logits")
        check_nonnegative(pos_weight, "pos_weight")
        pos = y * jnp.broadcast_to(pos_weight.astype(x.dtype), x.shape)
    return _bce(x, y, pos)


def sigmoid_focal_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    alpha: jax.typing.ArrayLike | None = None,
    gamma: jax.typing.ArrayLike = 2.0,
) -> jax.Array:
    r"""Sigmoid focal loss (Lin et al. 2017), optax's definition, for hard or soft labels.

    .. math::
      \ell = \alpha_t\,(1 - p_t)^\gamma\,\mathrm{BCE}(x, y),\qquad
      1 - p_t = y\,(1 - \sigma(x)) + (1 - y)\,\sigma(x),\qquad
      \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    (:math:`\alpha_t = 1` when ``alpha`` is None). :math:`\log(1 - p_t)` is formed in log space
    from ``log_sigmoid``, so the loss, its gradient and its Hessian stay finite for logits of any
    size and any :math:`\gamma > 0`, and :math:`(1 - p_t)^0 = 1`: with ``gamma=0`` the loss is
    exactly the (weighted) binary cross-entropy, also at ``+-inf`` logits (where optax returns
    NaN, as it does for the gradient at ``+-inf`` logits with ``gamma=2``).

    Args:
      logits: floating ``[...]``.
      labels: targets in ``[0, 1]`` broadcastable with ``logits`` (cast like optax).
      alpha: optional weight in ``[0, 1]`` of the positive class.
      gamma: focusing exponent, non-negative.

    Returns:
      Elementwise losses with the broadcast shape, float32 (float64 for float64 inputs).

    Checked mode: raises for NaN logits, labels outside ``[0, 1]``, a traced ``alpha`` outside
    ``[0, 1]`` and a negative traced ``gamma``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import sigmoid_focal_loss
      >>> jnp.set_printoptions(precision=4)
      >>> print(sigmoid_focal_loss(jnp.array([2.0, -1.0]), jnp.array([1.0, 1.0])))
      [0.0018 0.7019]

    References:
      Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """
    x, y = _prepare(logits, labels)
    _check_values(x, y)
    for value, name in ((gamma, "gamma"), (alpha, "alpha")):
        if value is not None and np.ndim(value) != 0:
            raise ValueError(f"{name} must be a scalar, got shape {tuple(np.shape(value))}")
    check_nonnegative(jnp.asarray(gamma, x.dtype), "gamma")
    if alpha is not None:
        alpha_arr = jnp.asarray(alpha, x.dtype)
        check_nonnegative(alpha_arr, "alpha")
        check_in_range(alpha_arr, "alpha", 0.0, 1.0)
    log_p = jax.nn.log_sigmoid(x)
    log_q = jax.nn.log_sigmoid(-x)
    ce = -(_times_log(y, log_p) + _times_log(1.0 - y, log_q))
    # log(1 - p_t) = logaddexp(log y + log(1 - p), log(1 - y) + log p), each term dropped when its
    # weight is 0 (hard labels), with every branch made safe for gradients.
    pos, neg = y > 0, y < 1
    a = jnp.where(pos, jnp.log(jnp.where(pos, y, 1.0)) + log_q, -jnp.inf)
    b = jnp.where(neg, jnp.log1p(-jnp.where(neg, y, 0.0)) + log_p, -jnp.inf)
    m = jnp.maximum(a, b)
    finite_m = jnp.isfinite(m)
    m_safe = jnp.where(finite_m, m, 0.0)
    s = jnp.exp(a - m_safe) + jnp.exp(b - m_safe)
    # s is 0 only when p_t = 1 exactly (an infinite logit agreeing with a hard label).
    log_one_minus_pt = jnp.where(s > 0, m_safe + jnp.log(jnp.where(s > 0, s, 1.0)), -jnp.inf)
    g = jnp.asarray(gamma, x.dtype)
    power = jnp.where(g == 0, 0.0, g * jnp.where(g == 0, 0.0, log_one_minus_pt))
    loss = ce * jnp.exp(power)
    if alpha is None:
        return loss
    a_ = jnp.asarray(alpha, x.dtype)
    return (a_ * y + (1.0 - a_) * (1.0 - y)) * loss


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
      labels: targets in ``[0, 1]`` broadcastable with ``logits`` (cast like optax).
      pos_weight: optional per-label positive weight broadcastable to the loss shape (usually
        ``[num_labels]``), PyTorch ``BCEWithLogitsLoss`` semantics.
      where: optional boolean mask broadcastable to the loss shape; masked labels contribute 0
        (even where they hold NaN).

    Returns:
      Per-example losses ``logits.shape[:-1]`` (of the broadcast shape).

    Checked mode: as :func:`sigmoid_binary_cross_entropy`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import multilabel_sigmoid_cross_entropy
      >>> x = jnp.array([[0.0, 2.0, -1.0]])
      >>> y = jnp.array([[1.0, 0.0, 0.0]])
      >>> jnp.set_printoptions(precision=4)
      >>> print(multilabel_sigmoid_cross_entropy(x, y))
      [3.1333]
    """
    x, y = _prepare(logits, labels)
    if x.ndim < 1:
        raise ValueError(f"logits must have a label axis (rank >= 1), got rank {x.ndim}")
    mask = broadcast_where(where, x.shape)
    if mask is not None:  # masked entries never reach the loss or its gradient (even NaN)
        x, y = jnp.where(mask, x, 0.0), jnp.where(mask, y, 0.0)
    _check_values(x, y)
    per_label = sigmoid_binary_cross_entropy(x, y, pos_weight=pos_weight)
    if mask is not None:
        per_label = jnp.where(mask, per_label, 0.0)
    return jnp.sum(per_label, axis=-1)
