"""Entropy, cross-entropy and relative entropy of discrete distributions, and optax's KL names.

In the mathematical order: ``cross_entropy(p, q)`` is :math:`H(p, q) = -\\sum p \\log q`,
``entropy(p)`` is :math:`H(p)` and ``relative_entropy(p, q)`` is :math:`KL(p \\| q)`, so that
``cross_entropy(p, q) == entropy(p) + relative_entropy(p, q)``. The ``*_from_log_probs``
variants take log-probabilities. ``kl_divergence(log_predictions, targets)``,
``kl_divergence_with_log_targets`` and ``generalized_kl_divergence`` keep optax 0.2.8's
signatures (``axis`` an int, a tuple or None, positional-or-keyword; a broadcasting ``where``) and
compute :math:`KL(\\text{targets} \\| \\text{predictions})`.

Convention: :math:`0 \\log 0 = 0` and :math:`0 \\log(0/q) = 0`. A term with :math:`p_k = 0`
contributes 0 to the value and 0 to every gradient (a finite subgradient, never NaN), even where
:math:`q_k = 0` or the log-probability is ``-inf``. A term with :math:`p_k > 0 = q_k` gives
``inf``. All functions reduce over ``axis`` (elements with ``where == False`` are left out) and
compute in at least float32.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp

from xent_jax.losses._checks import (
    as_float_array,
    broadcast_arrays,
    broadcast_where,
    canonical_axes,
    check_finite,
    check_in_range,
    compute_dtype,
)

Axis = int | tuple[int, ...] | None

__all__ = [
    "cross_entropy",
    "cross_entropy_from_log_probs",
    "entropy",
    "convex_kl_divergence",
    "entropy_from_log_probs",
    "generalized_kl_divergence",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "relative_entropy",
    "relative_entropy_from_log_probs",
]


def _prepare(arrays: dict[str, jax.typing.ArrayLike], axis, where, cast: bool = True) -> tuple:
    """Checks dtypes, broadcasts the arrays and ``where`` (numpy rules), canonicalises ``axis``.

    Returns:
      ``(values, axes, where)``: the arrays in the compute dtype, ``axis`` as a tuple of axes
      (None means all), and ``where`` as a boolean array of the common shape or None.
    """
    values = {n: as_float_array(v, n) for n, v in arrays.items()}
    shape, arrays_b = broadcast_arrays(values)
    axes = canonical_axes(axis, len(shape))
    if cast:
        dtype = compute_dtype(*[v.dtype for v in arrays_b])
        arrays_b = [v.astype(dtype) for v in arrays_b]
    where = broadcast_where(where, shape)
    return arrays_b, axes, where


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
    p: jax.typing.ArrayLike, q: jax.typing.ArrayLike, *, axis: Axis = -1, where=None
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


def entropy(p: jax.typing.ArrayLike, *, axis: Axis = -1, where=None) -> jax.Array:
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
    p: jax.typing.ArrayLike, q: jax.typing.ArrayLike, *, axis: Axis = -1, where=None
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
    log_p: jax.typing.ArrayLike, log_q: jax.typing.ArrayLike, *, axis: Axis = -1, where=None
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


def entropy_from_log_probs(
    log_p: jax.typing.ArrayLike, *, axis: Axis = -1, where=None
) -> jax.Array:
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
    log_p: jax.typing.ArrayLike, log_q: jax.typing.ArrayLike, *, axis: Axis = -1, where=None
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


def _check_kl_inputs(log_q: jax.Array, t: jax.Array, where, name: str = "targets") -> None:
    check_finite(log_q, "log_predictions", where=where, allow_neg_inf=True)
    check_in_range(t, name, 0.0, None, where=where)


def kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""optax's ``kl_divergence``: :math:`KL(\text{targets} \| \text{predictions})`.

    .. math::
      \sum_k t_k (\log t_k - \log \hat p_k),\qquad 0 \log 0 = 0

    .. warning::
      The argument order is optax's (and PyTorch ``KLDivLoss``'s): the *predictions* come first,
      as log-probabilities, and the divergence is measured **from the targets**. In the
      mathematical order this is ``relative_entropy(targets, exp(log_predictions))``. Unlike
      optax, a zero target next to a ``-inf`` log-prediction gives 0 (optax: NaN), with finite
      gradients.

    Args:
      log_predictions: log-probabilities ``[..., K]`` (``-inf`` allowed).
      targets: probabilities broadcastable with ``log_predictions``.
      axis: the distribution axis, a tuple of axes or None (all).
      where: optional boolean mask broadcastable to the inputs; masked terms are left out (a
        NaN there is ignored).

    Returns:
      The broadcast shape without ``axis``, float32 (float64 for float64 inputs).

    Checked mode: raises for negative or NaN targets and NaN or ``+inf`` log-predictions.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import kl_divergence
      >>> log_q = jnp.log(jnp.array([0.25, 0.75, 0.0]))
      >>> print(f"{float(kl_divergence(log_q, jnp.array([0.5, 0.5, 0.0]))):.4f}")
      0.1438

    References:
      Kullback and Leibler, "On Information and Sufficiency", 1951.
    """
    (log_q, t), axes, where = _prepare(
        {"log_predictions": log_predictions, "targets": targets}, axis, where
    )
    _check_kl_inputs(log_q, t, where)
    off = _off(t, where)
    log_ratio = _safe_log(t, off) - jnp.where(off, 0.0, log_q)
    return jnp.sum(_xlogy_terms(t, log_ratio, where), axis=axes)


def kl_divergence_with_log_targets(
    log_predictions: jax.typing.ArrayLike,
    log_targets: jax.typing.ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""optax's ``kl_divergence_with_log_targets``: :math:`KL(\text{targets} \| \text{preds})`.

    .. math::
      \sum_k e^{\log t_k} (\log t_k - \log \hat p_k)

    Same order as :func:`kl_divergence` (predictions first); both arguments are
    log-probabilities. A ``-inf`` log-target contributes 0 (optax: NaN, from ``0 * inf``).

    Args:
      log_predictions: log-probabilities ``[..., K]``.
      log_targets: log-probabilities broadcastable with ``log_predictions``.
      axis: the distribution axis, a tuple of axes or None (all).
      where: optional boolean mask broadcastable to the inputs.

    Returns:
      The broadcast shape without ``axis``.

    Checked mode: raises for NaN or ``+inf`` log-predictions or log-targets.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import kl_divergence_with_log_targets
      >>> log_q = jnp.log(jnp.array([0.25, 0.75, 0.0]))
      >>> log_t = jnp.log(jnp.array([0.5, 0.5, 0.0]))
      >>> print(f"{float(kl_divergence_with_log_targets(log_q, log_t)):.4f}")
      0.1438
    """
    (log_q, log_t), axes, where = _prepare(
        {"log_predictions": log_predictions, "log_targets": log_targets}, axis, where, cast=False
    )
    check_finite(log_q, "log_predictions", where=where, allow_neg_inf=True)
    check_finite(log_t, "log_targets", where=where, allow_neg_inf=True)
    if where is not None:  # masked terms: target mass 0, so they contribute 0 (even NaN there)
        log_t = jnp.where(where, log_t, -jnp.inf)
        log_q = jnp.where(where, log_q, 0.0)
    return _kl_log(log_q, log_t, axes)


def _kl_log_exact(log_q: jax.Array, log_t: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    dtype = compute_dtype(log_q.dtype, log_t.dtype)
    log_q, log_t = log_q.astype(dtype), log_t.astype(dtype)
    t = jnp.exp(log_t)
    off = t == 0
    log_ratio = jnp.where(off, 0.0, log_t) - jnp.where(off, 0.0, log_q)
    return jnp.sum(_xlogy_terms(t, log_ratio, None), axis=axes)


@functools.partial(jax.jit, static_argnums=(2,))
def _kl_log_value(log_q: jax.Array, log_t: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """optax's arithmetic in one fused pass; a NaN result (``0 * inf`` at a ``-inf`` log-target,
    or a NaN input) sends the batch to the exact path."""
    dtype = compute_dtype(log_q.dtype, log_t.dtype)
    lt = log_t.astype(dtype)
    fast = jnp.sum(jnp.exp(lt) * (lt - log_q.astype(dtype)), axis=axes)
    return jax.lax.cond(
        jnp.all(~jnp.isnan(fast)),
        lambda q, t: fast,
        lambda q, t: _kl_log_exact(q, t, axes),
        log_q,
        log_t,
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _kl_log(log_q: jax.Array, log_t: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    return _kl_log_value(log_q, log_t, axes)


@_kl_log.defjvp
def _kl_log_jvp(axes, primals, tangents):
    """d KL = sum_k -t_k d(log q_k) + t_k (log t_k - log q_k + 1) d(log t_k), 0 where t_k = 0."""
    log_q, log_t = primals
    d_q, d_t = tangents
    out = _kl_log_value(log_q, log_t, axes)
    dtype = out.dtype
    lq, lt = log_q.astype(dtype), log_t.astype(dtype)
    t = jnp.exp(lt)
    tangent = jnp.sum(-t * d_q.astype(dtype), axis=axes)
    off = t == 0
    coef_t = jnp.where(off, 0.0, t * (jnp.where(off, 0.0, lt - lq) + 1.0))
    return out, tangent + jnp.sum(coef_t * d_t.astype(dtype), axis=axes)


def generalized_kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Generalized KL divergence of unnormalised measures (optax's ``generalized_kl_divergence``).

    .. math::
      \sum_k \left(t_k \log t_k - t_k \log \hat p_k + \hat p_k - t_k\right),
      \qquad \hat p_k = e^{\log \hat p_k},\; 0 \log 0 = 0

    the Bregman divergence of :math:`x \log x - x`; it equals :func:`kl_divergence` when both
    measures are normalised. A zero target next to a ``-inf`` log-prediction contributes 0
    (optax: NaN).

    Args:
      log_predictions: log of the predicted (possibly unnormalised) measure ``[..., K]``.
      targets: non-negative target measure broadcastable with ``log_predictions``.
      axis: the axis, a tuple of axes or None (all).
      where: optional boolean mask broadcastable to the inputs.

    Returns:
      The broadcast shape without ``axis``.

    Checked mode: as :func:`kl_divergence`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import generalized_kl_divergence
      >>> log_q = jnp.log(jnp.array([0.5, 1.0]))
      >>> print(f"{float(generalized_kl_divergence(log_q, jnp.array([1.0, 1.0]))):.4f}")
      0.1931

    References:
      Boyd and Vandenberghe, "Convex Optimization", 2004, p. 90.
    """
    (log_q, t), axes, where = _prepare(
        {"log_predictions": log_predictions, "targets": targets}, axis, where
    )
    _check_kl_inputs(log_q, t, where)
    off = _off(t, where)
    log_ratio = _safe_log(t, off) - jnp.where(off, 0.0, log_q)
    terms = _xlogy_terms(t, log_ratio, where) + jnp.exp(log_q) - t
    if where is not None:
        terms = jnp.where(where, terms, 0.0)
    return jnp.sum(terms, axis=axes)


def _deprecated(fn, replacement: str):
    message = f"The function {fn.__name__} is deprecated. Please use {replacement} instead."

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        warnings.warn(message, category=DeprecationWarning, stacklevel=2)
        return fn(*args, **kwargs)

    return wrapper


def _convex_kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Deprecated alias of :func:`generalized_kl_divergence` (warns, as in optax 0.2.8).

    Examples:
      >>> import warnings, jax.numpy as jnp
      >>> from xent_jax.losses import convex_kl_divergence
      >>> with warnings.catch_warnings(record=True) as caught:
      ...     warnings.simplefilter("always")
      ...     value = convex_kl_divergence(jnp.log(jnp.array([0.5, 1.0])), jnp.array([1.0, 1.0]))
      >>> print(f"{float(value):.4f}", caught[0].category.__name__)
      0.1931 DeprecationWarning
    """
    return generalized_kl_divergence(log_predictions, targets, axis=axis, where=where)


_convex_kl_divergence.__name__ = "convex_kl_divergence"
_convex_kl_divergence.__qualname__ = "convex_kl_divergence"
convex_kl_divergence = _deprecated(_convex_kl_divergence, "generalized_kl_divergence")
