"""Entropy, cross-entropy and relative entropy of discrete distributions, and optax's KL names.

In the mathematical order: ``cross_entropy(p, q)`` is :math:`H(p, q) = -\\sum p \\log q`,
``entropy(p)`` is :math:`H(p)` and ``relative_entropy(p, q)`` is :math:`KL(p \\| q)`, so that
``cross_entropy(p, q) == entropy(p) + relative_entropy(p, q)``. The ``*_from_log_probs``
variants take log-probabilities. ``kl_divergence(log_predictions, targets)`` keeps optax's argument
order and computes :math:`KL(\\text{targets} \\| \\text{predictions})`.

Convention: :math:`0 \\log 0 = 0` and :math:`0 \\log(0/q) = 0`. A term with :math:`p_k = 0`
contributes 0 to the value and 0 to every gradient (a finite subgradient, never NaN), even where
:math:`q_k = 0` or the log-probability is ``-inf``. A term with :math:`p_k > 0 = q_k` gives
``inf``. All functions reduce over ``axis`` (elements with ``where == False`` are left out) and
compute in at least float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from xent_jax.losses._checks import (
    as_float_array,
    canonical_axis,
    check_same_shape,
    compute_dtype,
)

__all__ = [
    "cross_entropy",
    "cross_entropy_from_log_probs",
    "entropy",
    "entropy_from_log_probs",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "relative_entropy",
    "relative_entropy_from_log_probs",
]


def _prepare(arrays: dict[str, jax.typing.ArrayLike], axis: int, where) -> tuple:
    names = list(arrays)
    values = [as_float_array(arrays[n], n) for n in names]
    for name, value in zip(names[1:], values[1:], strict=True):
        check_same_shape(values[0], value, (names[0], name))
    axis = canonical_axis(axis, values[0].ndim)
    dtype = compute_dtype(*[v.dtype for v in values])
    values = [v.astype(dtype) for v in values]
    if where is not None:
        where = jnp.asarray(where)
        if where.dtype != jnp.bool_:
            raise TypeError(f"where must be a boolean mask, got dtype {where.dtype}")
        check_same_shape(values[0], where, (names[0], "where"))
    return values, axis, where


def _xlogy_terms(p: jax.Array, log_q: jax.Array, where) -> jax.Array:
    """``p * log_q`` with 0 where ``p == 0`` (or masked), NaN-free gradients."""
    off = p == 0
    if where is not None:
        off = off | ~where
    return jnp.where(off, 0.0, p * jnp.where(off, 0.0, log_q))


def _safe_log(x: jax.Array, off: jax.Array) -> jax.Array:
    return jnp.log(jnp.where(off, 1.0, x))


def _off(p: jax.Array, where) -> jax.Array:
    return (p == 0) if where is None else (p == 0) | ~where


def cross_entropy(
    p: jax.typing.ArrayLike, q: jax.typing.ArrayLike, *, axis: int = -1, where=None
) -> jax.Array:
    r"""Cross-entropy :math:`H(p, q) = -\sum_k p_k \log q_k` of probability vectors.

    Args:
      p: probabilities ``[..., K]`` (the data distribution).
      q: probabilities, same shape (the model).
      axis: the distribution axis.
      where: optional boolean mask, same shape; masked terms are left out.

    Returns:
      ``[...]`` (``axis`` reduced).

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import cross_entropy
      >>> p, q = jnp.array([0.5, 0.5, 0.0]), jnp.array([0.25, 0.75, 0.0])
      >>> print(f"{float(cross_entropy(p, q)):.4f}")
      0.8370
    """
    (p, q), axis, where = _prepare({"p": p, "q": q}, axis, where)
    off = _off(p, where)
    return -jnp.sum(_xlogy_terms(p, _safe_log(q, off), where), axis=axis)


def entropy(p: jax.typing.ArrayLike, *, axis: int = -1, where=None) -> jax.Array:
    r"""Shannon entropy :math:`H(p) = -\sum_k p_k \log p_k` (nats), with :math:`0 \log 0 = 0`.

    Args:
      p: probabilities ``[..., K]``.
      axis: the distribution axis.
      where: optional boolean mask, same shape.

    Returns:
      ``[...]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import entropy
      >>> print(f"{float(entropy(jnp.array([0.5, 0.5, 0.0]))):.4f}")
      0.6931
    """
    (p,), axis, where = _prepare({"p": p}, axis, where)
    off = _off(p, where)
    return -jnp.sum(_xlogy_terms(p, _safe_log(p, off), where), axis=axis)


def relative_entropy(
    p: jax.typing.ArrayLike, q: jax.typing.ArrayLike, *, axis: int = -1, where=None
) -> jax.Array:
    r"""Relative entropy :math:`KL(p \| q) = \sum_k p_k (\log p_k - \log q_k) \ge 0`.

    Args:
      p: probabilities ``[..., K]`` (the reference distribution).
      q: probabilities, same shape.
      axis: the distribution axis.
      where: optional boolean mask, same shape.

    Returns:
      ``[...]``; ``inf`` where some :math:`p_k > 0 = q_k`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import relative_entropy
      >>> p, q = jnp.array([0.5, 0.5, 0.0]), jnp.array([0.25, 0.75, 0.0])
      >>> print(f"{float(relative_entropy(p, q)):.4f}")
      0.1438
    """
    (p, q), axis, where = _prepare({"p": p, "q": q}, axis, where)
    off = _off(p, where)
    log_ratio = _safe_log(p, off) - _safe_log(q, off)
    return jnp.sum(_xlogy_terms(p, log_ratio, where), axis=axis)


def cross_entropy_from_log_probs(
    log_p: jax.typing.ArrayLike, log_q: jax.typing.ArrayLike, *, axis: int = -1, where=None
) -> jax.Array:
    r""":math:`H(p, q)` from log-probabilities (``-inf`` allowed for zero probabilities).

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import cross_entropy_from_log_probs
      >>> lp = jnp.log(jnp.array([0.5, 0.5, 0.0]))
      >>> lq = jnp.log(jnp.array([0.25, 0.75, 0.0]))
      >>> print(f"{float(cross_entropy_from_log_probs(lp, lq)):.4f}")
      0.8370
    """
    (log_p, log_q), axis, where = _prepare({"log_p": log_p, "log_q": log_q}, axis, where)
    p = jnp.exp(log_p)
    off = _off(p, where)
    return -jnp.sum(_xlogy_terms(p, jnp.where(off, 0.0, log_q), where), axis=axis)


def entropy_from_log_probs(log_p: jax.typing.ArrayLike, *, axis: int = -1, where=None) -> jax.Array:
    r""":math:`H(p)` from log-probabilities (``-inf`` allowed).

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import entropy_from_log_probs
      >>> print(f"{float(entropy_from_log_probs(jnp.log(jnp.array([0.5, 0.5, 0.0])))):.4f}")
      0.6931
    """
    (log_p,), axis, where = _prepare({"log_p": log_p}, axis, where)
    p = jnp.exp(log_p)
    off = _off(p, where)
    return -jnp.sum(_xlogy_terms(p, jnp.where(off, 0.0, log_p), where), axis=axis)


def relative_entropy_from_log_probs(
    log_p: jax.typing.ArrayLike, log_q: jax.typing.ArrayLike, *, axis: int = -1, where=None
) -> jax.Array:
    r""":math:`KL(p \| q)` from log-probabilities (``-inf`` allowed).

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import relative_entropy_from_log_probs
      >>> lp = jnp.log(jnp.array([0.5, 0.5, 0.0]))
      >>> lq = jnp.log(jnp.array([0.25, 0.75, 0.0]))
      >>> print(f"{float(relative_entropy_from_log_probs(lp, lq)):.4f}")
      0.1438
    """
    (log_p, log_q), axis, where = _prepare({"log_p": log_p, "log_q": log_q}, axis, where)
    p = jnp.exp(log_p)
    off = _off(p, where)
    log_ratio = jnp.where(off, 0.0, log_p) - jnp.where(off, 0.0, log_q)
    return jnp.sum(_xlogy_terms(p, log_ratio, where), axis=axis)


def kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    axis: int = -1,
    where=None,
) -> jax.Array:
    r"""optax's ``kl_divergence``: :math:`KL(\text{targets} \| \text{predictions})`.

    .. warning::
      The argument order is optax's (and PyTorch ``KLDivLoss``'s): the *predictions* come first,
      as log-probabilities, and the divergence is measured **from the targets**:
      :math:`\sum_k t_k (\log t_k - \log \hat p_k)`. In the mathematical order this is
      ``relative_entropy(targets, exp(log_predictions))``. Unlike optax, a zero target next to a
      ``-inf`` log-prediction gives 0, not NaN.

    Args:
      log_predictions: log-probabilities ``[..., K]``.
      targets: probabilities, same shape.
      axis: the distribution axis.
      where: optional boolean mask, same shape.

    Returns:
      ``[...]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import kl_divergence
      >>> log_q = jnp.log(jnp.array([0.25, 0.75, 0.0]))
      >>> print(f"{float(kl_divergence(log_q, jnp.array([0.5, 0.5, 0.0]))):.4f}")
      0.1438
    """
    (log_q, t), axis, where = _prepare(
        {"log_predictions": log_predictions, "targets": targets}, axis, where
    )
    off = _off(t, where)
    log_ratio = _safe_log(t, off) - jnp.where(off, 0.0, log_q)
    return jnp.sum(_xlogy_terms(t, log_ratio, where), axis=axis)


def kl_divergence_with_log_targets(
    log_predictions: jax.typing.ArrayLike,
    log_targets: jax.typing.ArrayLike,
    *,
    axis: int = -1,
    where=None,
) -> jax.Array:
    r"""optax's ``kl_divergence_with_log_targets``: :math:`KL(\text{targets} \| \text{preds})`.

    .. warning::
      Same order as :func:`kl_divergence` (predictions first); both arguments are
      log-probabilities. Equals ``relative_entropy_from_log_probs(log_targets, log_predictions)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import kl_divergence_with_log_targets
      >>> log_q = jnp.log(jnp.array([0.25, 0.75, 0.0]))
      >>> log_t = jnp.log(jnp.array([0.5, 0.5, 0.0]))
      >>> print(f"{float(kl_divergence_with_log_targets(log_q, log_t)):.4f}")
      0.1438
    """
    return relative_entropy_from_log_probs(log_targets, log_predictions, axis=axis, where=where)
