"""Softmax cross-entropy with soft labels and with integer labels.

Both losses return one value per example (the class axis is reduced, nothing else is) and compute
in at least float32: bfloat16/float16 logits are upcast, the loss comes back in float32 and the
gradient with respect to the logits in the input dtype.

Masking. A logit equal to ``-inf`` or excluded by ``where`` is a class that does not exist for that
example: the loss equals the loss computed on the remaining classes alone, its gradient there is
exactly 0, and value, ``grad``, ``jvp`` and ``jax.hessian`` stay free of NaN. A row with no class
left gives loss 0 and gradient 0.

Out-of-range integer labels (policy). A label outside ``[0, num_classes)`` that is not equal to
``ignore_index`` gives a **NaN loss and a NaN gradient** for that example, eagerly and under
``jax.jit`` alike, never a finite wrong value (a plain gather would silently clamp the index).
To raise instead, with the offending index, run the checked path::

    from xent_jax.losses import checked
    checked(softmax_cross_entropy_with_integer_labels)(logits, labels)  # raises JaxRuntimeError

or, inside jitted code,
``err, out = jax.jit(checkify.checkify(f, errors=checkify.user_checks))(...)`` followed by
``err.throw()``. The check is free under plain ``jit``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax.losses._checks import (
    as_float_array,
    canonical_axis,
    check_class_weights,
    check_integer,
    check_label_smoothing,
    check_labels_in_range,
    check_same_shape,
    compute_dtype,
)

__all__ = ["softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels"]


def _prepare_where(where: Any, logits_shape: tuple[int, ...], axis: int) -> jax.Array | None:
    """Returns ``where`` as a boolean array of the logits' shape with the class axis last."""
    if where is None:
        return None
    where = jnp.asarray(where)
    if where.dtype != jnp.bool_:
        raise TypeError(f"where must be a boolean mask, got dtype {where.dtype}")
    batch_shape = logits_shape[:axis] + logits_shape[axis + 1 :]
    if where.shape == batch_shape:
        where = jnp.expand_dims(where, axis)
        where = jnp.broadcast_to(where, logits_shape)
    elif where.shape != logits_shape:
        raise ValueError(
            f"where must have the shape of logits {logits_shape} or of the batch {batch_shape}, "
            f"got {where.shape}"
        )
    return jnp.moveaxis(where, axis, -1)


def _flatten_class_axes(
    logits: jax.Array, where: Any, axes: tuple[int, ...]
) -> tuple[jax.Array, Any]:
    """Moves the class ``axes`` last and flattens them into one (optax's tuple-``axis`` rule)."""
    class_axes = tuple(canonical_axis(a, logits.ndim) for a in axes)
    if len(set(class_axes)) != len(class_axes) or not class_axes:
        raise ValueError(f"axis must be distinct axes of logits, got {axes}")
    batch_axes = tuple(a for a in range(logits.ndim) if a not in class_axes)
    batch_shape = tuple(logits.shape[a] for a in batch_axes)

    def flatten(x: jax.Array) -> jax.Array:
        return jnp.transpose(x, batch_axes + class_axes).reshape(batch_shape + (-1,))

    if where is not None:
        where = jnp.asarray(where)
        if where.shape == logits.shape:
            where = flatten(where)
    return flatten(logits), where


def _log_normalizer(
    z: jax.Array, where: jax.Array | None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Masked log-sum-exp over the last axis, split as ``shift + log_sum``.

    ``-log softmax(z)_k`` is then evaluated as ``(shift - z_k) + log_sum``: a difference of two
    logits (one rounding) plus a term in ``[0, log K]``, so the loss keeps full relative precision
    even when the logits are large and the loss is small. ``shift`` is a stop-gradient row maximum,
    which makes the gradient the softmax. Safe for ``-inf`` and fully masked rows.

    Returns:
      ``(shift [..., 1], log_sum [..., 1], nonempty [..., 1])``; both are 0 on an empty row.
    """
    if where is not None:
        z = jnp.where(where, z, -jnp.inf)
    shift = jnp.max(z, axis=-1, keepdims=True)
    shift = jax.lax.stop_gradient(jnp.where(jnp.isfinite(shift), shift, 0.0))
    total = jnp.sum(jnp.exp(z - shift), axis=-1, keepdims=True)
    nonempty = total > 0
    return shift, jnp.log(jnp.where(nonempty, total, 1.0)), nonempty


def _smoothing_is_zero(label_smoothing: Any) -> bool:
    return isinstance(label_smoothing, int | float | np.floating) and float(label_smoothing) == 0.0


def softmax_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    axis: int = -1,
    where: jax.typing.ArrayLike | None = None,
    label_smoothing: float = 0.0,
) -> jax.Array:
    r"""Softmax cross-entropy against soft (probability) labels.

    .. math::
      \ell = -\sum_k t_k \log \operatorname{softmax}(z)_k,\qquad
      t = (1 - \varepsilon)\, y + \varepsilon / K

    where :math:`K` is the number of unmasked classes (all classes when nothing is masked, which
    is PyTorch's ``F.cross_entropy(..., label_smoothing=eps)`` with probability targets). Terms
    with :math:`t_k = 0` contribute 0 even at a ``-inf`` logit; a positive target on a ``-inf``
    logit gives ``inf``.

    Args:
      logits: unnormalised log-probabilities ``[..., num_classes, ...]``, floating.
      labels: target probabilities, same shape as ``logits``.
      axis: the class axis.
      where: optional boolean mask of the logits' shape, or of the batch shape (per example).
        Masked classes are removed from the softmax and the sum; a row with no class left gives 0.
      label_smoothing: :math:`\varepsilon \in [0, 1)`, mixes the labels with the uniform
        distribution over unmasked classes.

    Returns:
      Per-example losses ``logits.shape`` without ``axis``, float32 (float64 for float64 inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import softmax_cross_entropy
      >>> logits = jnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
      >>> labels = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
      >>> jnp.set_printoptions(precision=4)
      >>> print(softmax_cross_entropy(logits, labels))
      [0.2761 2.9518]

    References:
      Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016
      (label smoothing).
    """
    logits = as_float_array(logits, "logits")
    labels = as_float_array(labels, "labels")
    check_same_shape(logits, labels, ("logits", "labels"))
    axis = canonical_axis(axis, logits.ndim)
    check_label_smoothing(label_smoothing)
    mask = _prepare_where(where, logits.shape, axis)
    dtype = compute_dtype(logits.dtype, labels.dtype)
    z = jnp.moveaxis(logits.astype(dtype), axis, -1)
    t = jnp.moveaxis(labels.astype(dtype), axis, -1)

    shift, log_sum, nonempty = _log_normalizer(z, mask)
    valid = z > -jnp.inf
    if mask is not None:
        valid = valid & mask
    if not _smoothing_is_zero(label_smoothing):
        count = jnp.maximum(jnp.sum(valid, axis=-1, keepdims=True), 1).astype(dtype)
        eps = jnp.asarray(label_smoothing, dtype)
        t = (1.0 - eps) * t + eps * valid.astype(dtype) / count
    z_safe = jnp.where(valid, z, 0.0)
    on_masked = jnp.where(t > 0, jnp.inf, 0.0)
    if mask is not None:
        on_masked = jnp.where(mask, on_masked, 0.0)
    terms = jnp.where(valid, t * ((shift - z_safe) + log_sum), on_masked)
    loss = jnp.sum(terms, axis=-1)
    return jnp.where(nonempty[..., 0], loss, 0.0)


def softmax_cross_entropy_with_integer_labels(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: jax.typing.ArrayLike | None = None,
    label_smoothing: float = 0.0,
    class_weights: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy against integer class labels, with PyTorch's options.

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
      docstring); :func:`xent_jax.losses.checked` raises with the offending index instead.

    With nothing masked :math:`K` is the number of classes (PyTorch's ``C``). ``-inf`` logits and
    classes excluded by ``where`` are removed: the loss equals the loss on the remaining classes.
    A label on a removed class gives ``inf``.

    Args:
      logits: unnormalised log-probabilities ``[..., num_classes, ...]``, floating.
      labels: integer class indices, the logits' shape without ``axis``.
      axis: the class axis, or a tuple of axes whose flattened (row-major) positions are the
        classes, as in optax (a label is then a flat index into ``logits.shape[axis]``).
      where: optional boolean mask of the logits' shape, or of the batch shape (per example).
      label_smoothing: :math:`\varepsilon \in [0, 1)`.
      class_weights: optional non-negative ``[num_classes]`` weights.
      ignore_index: optional label value to skip (PyTorch's default is ``-100``; ours is None).

    Returns:
      Per-example losses with the shape of ``labels``, float32 (float64 for float64 inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import softmax_cross_entropy_with_integer_labels
      >>> logits = jnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
      >>> jnp.set_printoptions(precision=4)
      >>> print(softmax_cross_entropy_with_integer_labels(logits, jnp.array([0, 1])))
      [0.2761 2.9518]
      >>> print(softmax_cross_entropy_with_integer_labels(
      ...     logits, jnp.array([0, -100]), ignore_index=-100))
      [0.2761 0.    ]

    References:
      PyTorch ``torch.nn.functional.cross_entropy`` documentation (weight, ignore_index,
      label_smoothing).
    """
    logits = as_float_array(logits, "logits")
    labels = jnp.asarray(labels)
    check_integer(labels, "labels")
    if isinstance(axis, tuple):
        logits, where = _flatten_class_axes(logits, where, axis)
        axis = -1
    axis = canonical_axis(axis, logits.ndim)
    batch_shape = logits.shape[:axis] + logits.shape[axis + 1 :]
    if labels.shape != batch_shape:
        raise ValueError(
            f"labels must have the shape of logits {logits.shape} without axis {axis}, i.e. "
            f"{batch_shape}, got {labels.shape}"
        )
    num_classes = logits.shape[axis]
    check_label_smoothing(label_smoothing)
    if ignore_index is not None and not isinstance(ignore_index, int | np.integer):
        raise TypeError(f"ignore_index must be an int or None, got {type(ignore_index).__name__}")
    weights = None if class_weights is None else check_class_weights(class_weights, num_classes)
    mask = _prepare_where(where, logits.shape, axis)
    dtype = compute_dtype(logits.dtype)
    z = jnp.moveaxis(logits.astype(dtype), axis, -1)

    shift, log_sum, nonempty = _log_normalizer(z, mask)
    bad = check_labels_in_range(labels, num_classes, ignore_index=ignore_index)
    safe_labels = jnp.clip(labels, 0, num_classes - 1)[..., None]
    z_label = jnp.take_along_axis(z, safe_labels, axis=-1)
    if mask is not None:
        z_label = jnp.where(jnp.take_along_axis(mask, safe_labels, axis=-1), z_label, -jnp.inf)
    nll = (shift - z_label) + log_sum
    # An empty row has nll = inf; zero it before weighting so d/d(class_weights) is 0, not inf * 0.
    nll = jnp.where(nonempty, nll, 0.0)
    if weights is not None:
        weights = weights.astype(dtype)
        nll = nll * weights[safe_labels]
    if _smoothing_is_zero(label_smoothing):
        loss = nll
    else:
        valid = z > -jnp.inf
        if mask is not None:
            valid = valid & mask
        count = jnp.maximum(jnp.sum(valid, axis=-1, keepdims=True), 1).astype(dtype)
        per_class = (shift - jnp.where(valid, z, 0.0)) + log_sum
        if weights is not None:
            per_class = per_class * jnp.broadcast_to(weights, per_class.shape)
        smooth = jnp.sum(jnp.where(valid, per_class, 0.0), axis=-1, keepdims=True) / count
        eps = jnp.asarray(label_smoothing, dtype)
        loss = (1.0 - eps) * nll + eps * smooth
    loss = jnp.where(nonempty, loss, 0.0)[..., 0]
    if ignore_index is not None:
        loss = jnp.where(labels == ignore_index, 0.0, loss)
    return loss * jnp.where(bad, jnp.nan, 1.0).astype(dtype)
