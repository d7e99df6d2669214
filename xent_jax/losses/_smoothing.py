"""Label smoothing (optax's ``smooth_labels``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax.losses._checks import (
    as_float_array,
    broadcast_where,
    canonical_axes,
    check_label_smoothing,
    compute_dtype,
)

__all__ = ["smooth_labels"]


def smooth_labels(
    labels: jax.typing.ArrayLike,
    alpha: jax.typing.ArrayLike,
    *,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Mixes labels with the uniform distribution: :math:`(1 - \alpha)\, y + \alpha / K`.

    :math:`K` is the number of categories along ``axis`` (a tuple of axes counts all their
    entries; None counts every entry), or, with ``where``, the number of unmasked categories. As
    in optax for unmasked entries; masked entries come back as 0 (optax adds :math:`\alpha / K`
    there too), so a masked smoothed label vector still sums to 1 over its unmasked entries and
    to 1 overall. The arithmetic is in float32 (at least) and the result has the labels' dtype.

    Args:
      labels: floating labels, e.g. one-hot ``[..., num_classes]``.
      alpha: smoothing factor in ``[0, 1]`` (a traced value is checked in checked mode).
      axis: the category axis, a tuple of axes or None.
      where: optional boolean mask broadcastable to ``labels``.

    Returns:
      Smoothed labels, ``labels.shape`` and ``labels.dtype``.

    Checked mode (:func:`xent_jax.losses.checked`): raises for a traced ``alpha`` outside
    ``[0, 1]``; a concrete one raises ``ValueError`` in any mode.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import smooth_labels
      >>> print(smooth_labels(jnp.array([0.0, 1.0, 0.0, 0.0]), 0.2))
      [0.05 0.85 0.05 0.05]

    References:
      Muller et al., "When does label smoothing help?", NeurIPS 2019.
    """
    labels = as_float_array(labels, "labels")
    check_label_smoothing(alpha, "alpha")
    axes = canonical_axes(axis, labels.ndim)
    mask = broadcast_where(where, labels.shape)
    dtype = compute_dtype(labels.dtype)
    y = labels.astype(dtype)
    a = jnp.asarray(alpha, dtype)
    if mask is None:
        count = float(np.prod([labels.shape[i] for i in axes])) if axes else 1.0
        out = (1.0 - a) * y + a / count
    else:
        count = jnp.sum(mask, axis=axes, keepdims=True).astype(dtype)
        out = (1.0 - a) * y + a / jnp.maximum(count, 1.0)
        out = jnp.where(mask, out, 0.0)
    return out.astype(labels.dtype)
