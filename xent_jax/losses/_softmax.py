"""Softmax cross-entropies: soft labels, integer labels, optax's "safe" variant and PolyLoss.

Signatures are optax 0.2.8's (same names, order, kinds and defaults; ``axis`` an int, a tuple of
axes or, for soft labels, None; ``where`` of the logits' shape or of the batch shape, broadcast
as in optax; labels that broadcast); our options come after, keyword-only. All return one value
per example (the class axes are reduced, nothing else is) and compute in at least float32:
bfloat16/float16 logits are upcast, the loss comes back in float32 and the gradient with respect
to the logits in the input dtype.

Masking. A logit equal to ``-inf`` or excluded by ``where`` is a class that does not exist for that
example: the loss equals the loss computed on the remaining classes alone, its gradient there is
exactly 0, and value, ``grad``, ``jvp`` and ``jax.hessian`` stay free of NaN (optax's
``softmax_cross_entropy`` returns NaN for a 0 label on a ``-inf`` logit and its
``safe_softmax_cross_entropy`` a NaN ``jvp``). Label mass on a removed class gives ``inf``. A row
with no class left gives loss 0 and gradient 0 (for soft labels: a row masked out by ``where``,
or one whose labels are 0 where its logits are ``-inf``). NaN or ``+inf`` logits that are not
masked give a NaN (or ``inf``) loss, never 0.

Precision. ``-log softmax(z)_k`` is evaluated as ``(max - z_k) + log sum exp(z - max)``, a
difference of two logits plus a term in ``[0, log K]``, so large logits keep full relative
precision; soft-label and smoothing sums are accumulated at half scale, so logits near the float32
maximum overflow only when the true loss does (optax returns ``inf`` for logits ``[3e38, -3e38]``
with labels ``[0.9, 0.1]``; the loss is 3e37).

Out-of-range integer labels (policy). A label outside ``[0, num_classes)`` that is not equal to
``ignore_index`` gives a **NaN loss and a NaN gradient** for that example, eagerly and under
``jax.jit`` alike, never a finite wrong value (a plain gather would silently clamp the index).
To raise instead, with the offending index, use checked mode::

    from xent_jax.losses import checked
    checked(softmax_cross_entropy_with_integer_labels)(logits, labels)  # raises JaxRuntimeError
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.custom_derivatives import SymbolicZero

from xent_jax.losses._checks import (
    as_array,
    as_float_array,
    broadcast_arrays,
    broadcast_where,
    canonical_axes,
    check_class_weights,
    check_finite,
    check_in_range,
    check_integer,
    check_label_smoothing,
    check_labels_in_range,
    compute_dtype,
    flatten_axes,
)

__all__ = [
    "poly_loss_cross_entropy",
    "safe_softmax_cross_entropy",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
]


def _is_zero(value: Any) -> bool:
    """True for a concrete Python/numpy zero (a static "option off")."""
    return isinstance(value, int | float | np.integer | np.floating) and float(value) == 0.0


def _normalizer(z: jax.Array, mask: jax.Array | None, dtype: Any):
    """Masked log-sum-exp over the last axis, split as ``shift + log_sum``, in ``dtype``.

    ``z`` keeps its own dtype (a bf16 array is converted inside the one reduction that reads it,
    so XLA fuses the conversion instead of writing a float32 copy); the maximum of bf16 values is
    exact in bf16. ``shift`` is a stop-gradient row maximum (0 when it is not finite, so a NaN or
    ``+inf`` logit reaches the sum and the loss), which makes the gradient the softmax.

    Returns:
      ``(z, shift, log_sum, empty)``: ``z`` (own dtype) with masked entries set to ``-inf``;
      ``shift``, ``log_sum`` and ``empty`` (True for a row with no class left) have shape
      ``[..., 1]``. ``log_sum`` is 0 on an empty row (safe for gradients).
    """
    if mask is not None:
        z = jnp.where(mask, z, -jnp.inf)
    m = jnp.max(z, axis=-1, keepdims=True).astype(dtype)
    shift = lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))
    total = jnp.sum(jnp.exp(z.astype(dtype) - shift), axis=-1, keepdims=True)
    # total == 0 only when every class is removed; a NaN total is not empty (NaN in, NaN out).
    empty = total == 0
    return z, shift, jnp.log(jnp.where(empty, 1.0, total)), empty


def _check_classes(shape: tuple[int, ...], name: str = "logits") -> None:
    if shape[-1] == 0:
        raise ValueError(f"{name} must have at least one class along the class axis, got 0")


def _fmax(dtype: Any) -> float:
    return float(jnp.finfo(dtype).max)


def _soft_exact(z: jax.Array, t: jax.Array, poly: jax.Array | None) -> jax.Array:
    """Soft-label cross-entropy (plus ``poly * sum t (1 - p)``), exact in every edge case.

    The slow path: ``-inf`` logits with a 0 label contribute 0, with a positive label ``inf``
    (also on a row whose logits are all ``-inf``: 0 without label mass, ``inf`` with); sums are
    accumulated at half scale so that they overflow only when the loss does. Masked entries must
    already be ``z = -inf, t = 0``.
    """
    dtype = compute_dtype(z.dtype, t.dtype)
    z, shift, log_sum, empty = _normalizer(z, None, dtype)
    z, t = z.astype(dtype), t.astype(dtype)
    valid = z != -jnp.inf  # NaN counts as valid: it must reach the loss
    z_safe = jnp.where(valid, z, 0.0)
    # Half-scale terms: 0.5 * (shift - z_k) cannot overflow, and scaling by 1/2 is exact, so the
    # result equals the full-scale sum (same roundings) without overflowing where it is finite.
    half = (0.5 * shift - 0.5 * z_safe) + 0.5 * log_sum
    # A -inf logit (class absent) with positive label mass is an infinite loss; a 0 label there
    # is 0; a NaN label is NaN.
    absent = jnp.where(t == 0, 0.0, jnp.where(t > 0, jnp.inf, jnp.nan))
    loss = 2.0 * jnp.sum(jnp.where(valid, t * half, absent), axis=-1, keepdims=True)
    if poly is not None:
        one_minus_p = jnp.where(valid, -jnp.expm1((z_safe - shift) - log_sum), 1.0)
        loss = loss + poly.astype(dtype) * jnp.sum(t * one_minus_p, axis=-1, keepdims=True)
    del empty  # an empty row is all "absent" terms: 0 without label mass, inf with
    return loss[..., 0]


def _row_stats(z: jax.Array, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """``(m, sum exp(z - m))`` over the last axis (shape ``[...]``) in ``dtype``.

    ``m`` is a stop-gradient row maximum clamped to be finite from below (an all ``-inf`` row
    gives a sum of 0, not NaN). Only arithmetic, no select, so XLA:CPU fuses each pass into one
    kernel, as it does for optax.
    """
    m = lax.stop_gradient(jnp.maximum(jnp.max(z, axis=-1).astype(dtype), -_fmax(dtype)))
    return m, jnp.sum(jnp.exp(z.astype(dtype) - m[..., None]), axis=-1)


def _shifted(z: jax.Array, m: jax.Array, dtype: Any) -> jax.Array:
    """``z - m`` in ``dtype``, with ``m`` broadcast over the last axis."""
    return z.astype(dtype) - m[..., None]


@jax.jit
def _soft_value(
    z: jax.Array, t: jax.Array, poly: jax.Array | None, m: jax.Array, total: jax.Array
) -> jax.Array:
    """Fast path (optax's arithmetic in three reading passes) unless a loss is NaN or inf.

    ``(m, total)`` are :func:`_row_stats` of ``z``. The fast value is exact whenever it is
    finite; a NaN or ``inf`` fast value (a ``-inf`` logit, a NaN, an overflow, an empty row)
    sends the batch to :func:`_soft_exact`.

    The row statistics (and ``z``) reach the label pass through an optimisation barrier: each
    pass then broadcasts its own copy of the row vector (and converts its own bf16 ``z``) inside
    its fused kernel, where a shared broadcast or conversion would be written out as a full
    ``[..., K]`` float32 array first (XLA:CPU's reduction fusions each take their own; the shared
    one costs a write and two reads of the logits' size, about 1.7x the time of the whole loss).
    """
    dtype = compute_dtype(z.dtype, t.dtype)
    # z goes through the barrier too: a bf16/f16 z converted once for both passes would be
    # written out as a float32 copy; each pass converts its own (free at run time).
    z, m, log_total = lax.optimization_barrier((z, m, jnp.log(total)))
    log_p = _shifted(z, m, dtype) - log_total[..., None]
    tt = t.astype(dtype)
    if poly is None:
        fast = -jnp.sum(tt * log_p, axis=-1)
    else:
        fast = jnp.sum(tt * (poly.astype(dtype) * -jnp.expm1(log_p) - log_p), axis=-1)
    return lax.cond(jnp.all(jnp.isfinite(fast)), lambda z, t, poly: fast, _soft_exact, z, t, poly)


@jax.jit
def _soft_tangent(z, t, poly, m, total, dz, dt, dpoly):
    """The JVP of :func:`_soft_value` (see ``_soft_jvp``); ``None`` tangents are zeros."""
    dtype = compute_dtype(z.dtype, t.dtype)
    label_sum = jnp.sum(t.astype(dtype), axis=-1, keepdims=True)
    # as in _soft_value; t too, so that the label sum and the gradient convert their own bf16 t
    z, t, m, total, label_sum = lax.optimization_barrier((z, t, m, total, label_sum))
    shifted = _shifted(z, m, dtype)
    total = total[..., None]
    tt = t.astype(dtype)
    nonempty = jnp.sign(total)  # 0 on an empty row, 1 otherwise (NaN stays NaN)
    safe_total = jnp.maximum(total, 1.0)  # a non-empty row has total >= 1
    p = jnp.exp(shifted) * (1.0 / safe_total)
    eps = None if poly is None else poly.astype(dtype)
    tangent = 0.0
    if dz is not None:
        if eps is None:  # as few operations per entry as optax's autodiff: sub, exp, mul, sub
            row = label_sum / safe_total
            coef = jnp.exp(shifted) * row - tt
        else:  # one row sum: T + eps * sum(t p)
            row = jnp.sum(tt * (1.0 + eps * p), axis=-1, keepdims=True)
            coef = row * p - tt * (nonempty + eps * p)
        tangent = tangent + jnp.sum(dz.astype(dtype) * coef, axis=-1)
    if dt is not None:
        # -log p, capped at the largest float where it is +inf (a label on a -inf logit)
        coef = jnp.minimum(jnp.log(safe_total) - shifted, _fmax(dtype)) * nonempty
        if eps is not None:
            coef = coef + eps * (1.0 - p) * nonempty
        tangent = tangent + jnp.sum(dt.astype(dtype) * coef, axis=-1)
    if dpoly is not None:
        tangent = tangent + dpoly.astype(dtype) * jnp.sum(tt * (1.0 - p) * nonempty, axis=-1)
    return tangent


@jax.custom_jvp
def _soft_ce(z: jax.Array, t: jax.Array, poly: jax.Array | None) -> jax.Array:
    """Soft-label CE (and PolyLoss) over the last axis with a NaN-free derivative rule."""
    return _soft_value(z, t, poly, *_row_stats(z, compute_dtype(z.dtype, t.dtype)))


@functools.partial(_soft_ce.defjvp, symbolic_zeros=True)
def _soft_jvp(primals, tangents):
    """d loss = sum_k dz_k (T p_k - t_k) + sum_k dt_k (-log p_k) (+ PolyLoss' terms).

    ``T = sum_k t_k``. ``p_k = 0`` at ``-inf`` logits, so their ``dz`` coefficient is exactly
    ``-t_k`` (0 for a 0 label), also on a row whose logits are all ``-inf`` (a row emptied by
    ``where`` has ``t = 0``, hence loss and gradient 0). The label derivative ``-log p_k`` is
    capped at the largest float where it is ``+inf``, so that a zero label tangent there gives
    0, not NaN (optax's ``safe_softmax_cross_entropy`` returns a NaN ``jvp``). Symbolic-zero
    tangents are skipped.
    """
    z, t, poly = primals
    stats = _row_stats(z, compute_dtype(z.dtype, t.dtype))  # shared by value and tangent
    out = _soft_value(z, t, poly, *stats)
    dz, dt, dpoly = (None if type(d) is SymbolicZero else d for d in tangents)
    if dz is None and dt is None and dpoly is None:
        return out, jnp.zeros_like(out)
    return out, _soft_tangent(z, t, poly, *stats, dz, dt, dpoly)


def _soft_kernel(
    z: jax.Array,
    t: jax.Array,
    mask: jax.Array | None,
    label_smoothing: Any,
    poly_epsilon: Any = None,
) -> jax.Array:
    """Soft-label cross-entropy over the last axis (plus PolyLoss' term when requested).

    ``z``, ``t`` (and ``mask``) have the same shape ``[..., K]``; each keeps its floating dtype
    (the arithmetic is in the compute dtype). Masked entries become ``z = -inf, t = 0`` (a NaN
    there is dropped, and its gradient is 0).
    """
    dtype = compute_dtype(z.dtype, t.dtype)
    if mask is not None:
        z = jnp.where(mask, z, -jnp.inf)
        t = jnp.where(mask, t, 0.0)
    if not _is_zero(label_smoothing):
        valid = z != -jnp.inf
        count = jnp.maximum(jnp.sum(valid, axis=-1, keepdims=True), 1).astype(dtype)
        eps = jnp.asarray(label_smoothing, dtype)
        t = (1.0 - eps) * t.astype(dtype) + eps * valid.astype(dtype) / count
    poly = None if poly_epsilon is None else jnp.asarray(poly_epsilon, dtype)
    return _soft_ce(z, t, poly)


def _soft_prepare(logits, labels, axis, where, *, allow_none_axis=True):
    """Validates, broadcasts and flattens soft-label inputs to ``[..., K]``.

    Floating inputs keep their dtype (converted inside the fused kernels); integer or boolean
    labels are cast to the compute dtype (optax's product with them promotes).
    """
    logits = as_float_array(logits, "logits")
    labels = as_array(labels, "labels")
    if not (jnp.issubdtype(labels.dtype, jnp.number) or labels.dtype == jnp.bool_):
        raise TypeError(f"labels must be numeric, got dtype {labels.dtype}")
    if jnp.issubdtype(labels.dtype, jnp.complexfloating):
        raise TypeError(f"labels must be real, got dtype {labels.dtype}")
    if not jnp.issubdtype(labels.dtype, jnp.floating):
        labels = labels.astype(compute_dtype(logits.dtype))
    shape, (logits, labels) = broadcast_arrays({"logits": logits, "labels": labels})
    axes = canonical_axes(axis, len(shape), allow_none=allow_none_axis)
    mask = broadcast_where(where, shape, axes)
    z = flatten_axes(logits, axes)
    t = flatten_axes(labels, axes)
    mask = None if mask is None else flatten_axes(mask, axes)
    _check_classes(z.shape)
    check_finite(z, "logits", where=mask, allow_neg_inf=True)
    check_in_range(t, "labels", 0.0, None, where=mask)
    return z, t, mask


def softmax_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
    *,
    label_smoothing: jax.typing.ArrayLike = 0.0,
) -> jax.Array:
    r"""Softmax cross-entropy against soft (probability) labels; optax's signature.

    .. math::
      \ell = -\sum_k t_k \log \operatorname{softmax}(z)_k,\qquad
      t = (1 - \varepsilon)\, y + \varepsilon / K

    where :math:`K` is the number of unmasked classes (all classes when nothing is masked, which
    is PyTorch's ``F.cross_entropy(..., label_smoothing=eps)`` with probability targets). Terms
    with :math:`t_k = 0` contribute 0 even at a ``-inf`` logit (where optax returns NaN); a
    positive target on a ``-inf`` logit gives ``inf``.

    Args:
      logits: unnormalised log-probabilities ``[..., num_classes, ...]``, floating.
      labels: target probabilities broadcastable with ``logits`` (integer or boolean one-hot
        labels are cast, as optax's product with them promotes).
      axis: the class axis, a tuple of class axes (reduced together, as one softmax) or None for
        all axes.
      where: optional boolean mask of the (broadcast) logits' shape, or of the batch shape (one
        flag per example); it broadcasts. Masked classes are removed from the softmax and the
        sum, even where they hold NaN; a fully masked row gives 0.
      label_smoothing: :math:`\varepsilon \in [0, 1]`, mixes the labels with the uniform
        distribution over unmasked classes.

    Returns:
      Per-example losses: the broadcast shape without ``axis``, float32 (float64 for float64
      inputs).

    Checked mode (:func:`xent_jax.losses.checked`): raises for NaN or ``+inf`` unmasked logits,
    negative or NaN labels and a traced ``label_smoothing`` outside ``[0, 1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import softmax_cross_entropy
      >>> logits = jnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
      >>> labels = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
      >>> jnp.set_printoptions(precision=4)
      >>> print(softmax_cross_entropy(logits, labels))
      [0.2761 2.9518]
      >>> print(softmax_cross_entropy(logits, labels, -1, jnp.array([True, False])))
      [0.2761 0.    ]

    References:
      Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016
      (label smoothing).
    """
    check_label_smoothing(label_smoothing)
    z, t, mask = _soft_prepare(logits, labels, axis, where)
    return _soft_kernel(z, t, mask, label_smoothing)


def safe_softmax_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
) -> jax.Array:
    r"""optax's ``safe_softmax_cross_entropy``: soft-label CE with :math:`0 \log 0 = 0`.

    .. math::
      \ell = -\sum_k t_k \log \operatorname{softmax}(z)_k

    over the last axis, where a term with :math:`t_k = 0` is 0 even at :math:`z_k = -\infty`.
    Here it is :func:`softmax_cross_entropy` (which is already safe) with ``axis=-1``. Unlike
    optax's, its forward-mode derivative (``jax.jvp``, ``jax.jacfwd``) at a ``-inf`` logit is
    finite, not NaN, and a row whose logits are all ``-inf`` gives 0 without label mass, with a
    zero gradient (optax: -0.0 with a NaN gradient).

    Args:
      logits: unnormalised log-probabilities ``[..., num_classes]``.
      labels: probabilities broadcastable to ``[..., num_classes]``.

    Returns:
      ``[...]`` losses, float32 (float64 for float64 inputs).

    Checked mode: as :func:`softmax_cross_entropy`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import safe_softmax_cross_entropy
      >>> print(safe_softmax_cross_entropy(jnp.array([-jnp.inf, 0.0, 0.0]),
      ...                                  jnp.array([0.0, 0.5, 0.5])))
      0.6931472
    """
    z, t, mask = _soft_prepare(logits, labels, -1, None)
    return _soft_kernel(z, t, mask, 0.0)


def poly_loss_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    epsilon: jax.typing.ArrayLike = 2.0,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Poly-1 loss: cross-entropy plus :math:`\epsilon` times the first polynomial term.

    .. math::
      \ell = -\sum_k t_k \log p_k + \epsilon \sum_k t_k (1 - p_k),\qquad
      p = \operatorname{softmax}(z)

    (Leng et al. 2022, simplified to the first coefficient, as in optax). :math:`1 - p_k` is
    evaluated as ``-expm1(log p_k)``, exact for :math:`p_k` close to 1; ``-inf`` logits with a 0
    label contribute 0 (optax: NaN); masked classes are removed from both sums.

    Args:
      logits: unnormalised log-probabilities ``[..., num_classes]``.
      labels: probabilities broadcastable with ``logits``, floating.
      epsilon: coefficient of :math:`(1 - p_t)` (2 for ImageNet, -1 for detection in the paper).
      axis: class axis, tuple of axes or None, as in :func:`softmax_cross_entropy`.
      where: optional boolean mask, as in :func:`softmax_cross_entropy`.

    Returns:
      Per-example losses, float32 (float64 for float64 inputs).

    Checked mode: as :func:`softmax_cross_entropy`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import poly_loss_cross_entropy
      >>> logits = jnp.array([[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]])
      >>> labels = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]])
      >>> jnp.set_printoptions(precision=4)
      >>> print(poly_loss_cross_entropy(logits, labels, epsilon=2.0))
      [0.4823 1.2567]

    References:
      Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss
      Functions", ICLR 2022.
    """
    labels_arr = as_array(labels, "labels")
    if not jnp.issubdtype(labels_arr.dtype, jnp.floating):
        raise TypeError(f"labels must have a floating dtype, got dtype {labels_arr.dtype}")
    if np.ndim(epsilon) != 0:
        raise ValueError(f"epsilon must be a scalar, got shape {tuple(np.shape(epsilon))}")
    z, t, mask = _soft_prepare(logits, labels_arr, axis, where)
    return _soft_kernel(z, t, mask, 0.0, poly_epsilon=epsilon)


def softmax_cross_entropy_with_integer_labels(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    axis: int | tuple[int, ...] = -1,
    where: jax.typing.ArrayLike | None = None,
    *,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    class_weights: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy against integer class labels; optax's signature, PyTorch's options.

    For example :math:`i` with label :math:`y`, class weights :math:`w` (all 1 by default) and
    :math:`K` unmasked classes, this is PyTorch's ``F.cross_entropy(..., reduction="none")``:

    .. math::
      \ell_i = (1 - \varepsilon)\, w_y\,(-\log p_y)
        + \frac{\varepsilon}{K} \sum_{k} w_k\,(-\log p_k),
      \qquad p = \operatorname{softmax}(z_i).

    * ``label_smoothing`` (:math:`\varepsilon`): the target is
      :math:`(1-\varepsilon)\,\mathrm{onehot}(y) + \varepsilon/K`; each class term is weighted by
      its class weight, as in PyTorch.
    * ``class_weights``: rescales each class term by :math:`w_k`. The returned loss carries the
      weights; for PyTorch's ``reduction="mean"`` divide the sum by the summed weights of the
      counted targets, i.e. ``reduce_loss(loss, weights=target_weights(labels, ...))``.
    * ``ignore_index``: examples with this label get loss 0 and gradient 0 and are not counted.
    * Out-of-range labels (not ``ignore_index``): NaN loss and NaN gradient (see the module
      docstring); checked mode raises with the offending index instead.

    With nothing masked :math:`K` is the number of classes (PyTorch's ``C``). ``-inf`` logits and
    classes excluded by ``where`` are removed: the loss equals the loss on the remaining classes.
    A label on a removed class gives ``inf`` (its probability is 0; optax returns the finite
    ``logsumexp`` of the other classes minus the label's logit).

    Args:
      logits: unnormalised log-probabilities ``[..., num_classes, ...]``, floating.
      labels: integer class indices with the logits' shape without ``axis`` (or broadcastable
        to it, same rank).
      axis: the class axis, or a tuple of axes whose flattened (row-major, in the given order)
        positions are the classes, as in optax (a label is then a flat index).
      where: optional boolean mask of the logits' shape, or of the batch shape (per example); it
        broadcasts. Masked entries are ignored even where they hold NaN.
      label_smoothing: :math:`\varepsilon \in [0, 1]`.
      class_weights: optional non-negative ``[num_classes]`` weights.
      ignore_index: optional label value to skip (PyTorch's default is ``-100``; ours is None).

    Returns:
      Per-example losses with the batch shape, float32 (float64 for float64 inputs).

    Checked mode (:func:`xent_jax.losses.checked`): raises for labels outside
    ``[0, num_classes)`` (other than ``ignore_index``), NaN or ``+inf`` unmasked logits, a traced
    ``label_smoothing`` outside ``[0, 1]`` and negative or NaN traced ``class_weights``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import softmax_cross_entropy_with_integer_labels
      >>> logits = jnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
      >>> jnp.set_printoptions(precision=4)
      >>> print(softmax_cross_entropy_with_integer_labels(logits, jnp.array([0, 1])))
      [0.2761 2.9518]
      >>> print(softmax_cross_entropy_with_integer_labels(logits.T, jnp.array([0, 1]), 0))
      [0.2761 2.9518]
      >>> print(softmax_cross_entropy_with_integer_labels(
      ...     logits, jnp.array([0, -100]), ignore_index=-100))
      [0.2761 0.    ]

    References:
      PyTorch ``torch.nn.functional.cross_entropy`` documentation (weight, ignore_index,
      label_smoothing).
    """
    logits = as_float_array(logits, "logits")
    if labels is None:
        raise TypeError("labels must be an array of integer class indices, got None")
    labels = as_array(labels, "labels")
    check_integer(labels, "labels")
    if axis is None:
        raise ValueError("axis must be an int or a tuple of ints, got None")
    axes = canonical_axes(axis, logits.ndim, allow_none=False)
    batch_shape = tuple(s for i, s in enumerate(logits.shape) if i not in axes)
    if labels.shape != batch_shape:
        try:
            out_shape = tuple(np.broadcast_shapes(labels.shape, batch_shape))
        except ValueError:
            out_shape = None
        if labels.ndim != len(batch_shape) or out_shape is None:
            raise ValueError(
                f"labels must have the shape of logits {logits.shape} without axis {axis}, i.e. "
                f"{batch_shape} (or broadcast to it), got {labels.shape}"
            )
    check_label_smoothing(label_smoothing)
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer)
    ):
        raise TypeError(f"ignore_index must be an int or None, got {type(ignore_index).__name__}")
    mask = broadcast_where(where, logits.shape, axes)
    dtype = compute_dtype(logits.dtype)
    z = flatten_axes(logits, axes)  # own dtype: converted inside the fused reductions
    if mask is not None:
        mask = flatten_axes(mask, axes)
    if labels.shape != batch_shape:  # broadcast the batch dims of logits (and where) to labels'
        out = tuple(np.broadcast_shapes(labels.shape, batch_shape))
        labels = jnp.broadcast_to(labels, out)
        z = jnp.broadcast_to(z, out + z.shape[-1:])
        mask = None if mask is None else jnp.broadcast_to(mask, out + mask.shape[-1:])
    num_classes = z.shape[-1]
    _check_classes(z.shape)
    weights = None if class_weights is None else check_class_weights(class_weights, num_classes)
    check_finite(z, "logits", where=mask, allow_neg_inf=True)

    z, shift, log_sum, empty = _normalizer(z, mask, dtype)
    bad = check_labels_in_range(labels, num_classes, ignore_index=ignore_index)
    safe_labels = jnp.clip(labels, 0, num_classes - 1)[..., None]
    # For bf16/f16 logits the barrier keeps XLA from sharing one float32 copy between the gather
    # and the reductions (it would materialise it); it costs nothing at run time.
    z_gather = z if z.dtype == dtype else lax.optimization_barrier(z)
    z_label = jnp.take_along_axis(z_gather, safe_labels, axis=-1)
    z_label = z_label.astype(dtype)  # -inf on a removed class
    nll = (shift - z_label) + log_sum
    # An empty row has nll = inf; zero it before weighting so d/d(class_weights) is 0, not inf * 0.
    nll = jnp.where(empty, 0.0, nll)
    if weights is not None:
        weights = weights.astype(dtype)
        nll = nll * weights[safe_labels]
    if _is_zero(label_smoothing):
        loss = nll
    else:
        eps = jnp.asarray(label_smoothing, dtype)
        z = z.astype(dtype)
        valid = z != -jnp.inf
        count = jnp.maximum(jnp.sum(valid, axis=-1, keepdims=True), 1).astype(dtype)
        half = 0.5 * shift - 0.5 * jnp.where(valid, z, 0.0)  # half scale: cannot overflow
        if weights is None:
            w_valid = valid.astype(dtype)
        else:
            w_valid = jnp.where(valid, jnp.broadcast_to(weights, z.shape), 0.0)
        half_sum = jnp.sum(w_valid * half, axis=-1, keepdims=True)
        w_sum = jnp.sum(w_valid, axis=-1, keepdims=True)
        smooth = (2.0 * eps / count) * half_sum + (eps / count) * w_sum * log_sum
        keep = 1.0 - eps
        # (1 - eps) * nll with eps = 1 is 0 even when nll is inf (label on a removed class).
        loss = jnp.where(keep == 0, 0.0, keep * nll) + jnp.where(empty, 0.0, smooth)
    loss = loss[..., 0]
    if ignore_index is not None:
        loss = jnp.where(labels == ignore_index, 0.0, loss)
    return loss * jnp.where(bad, jnp.nan, 1.0).astype(dtype)
