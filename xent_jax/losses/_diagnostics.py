"""Checks of the losses on a model's predictions: the information identity and softmax gradients.

Pure ``jax.numpy``; used by the ``losses`` experiment and usable on any classifier's outputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from xent_jax.losses._checks import as_array, as_float_array, check_integer
from xent_jax.losses._information import cross_entropy, entropy, relative_entropy

__all__ = ["information_identity_error", "softmax_regression_gradient"]


def information_identity_error(p: jax.typing.ArrayLike, q: jax.typing.ArrayLike) -> jax.Array:
    r"""Largest :math:`|H(p, q) - H(p) - KL(p \| q)|` over the rows of ``p`` and ``q``.

    Args:
      p: probabilities ``[..., K]``.
      q: probabilities ``[..., K]``, same shape.

    Returns:
      A scalar, 0 up to rounding.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import information_identity_error
      >>> bool(information_identity_error(jnp.array([0.2, 0.8]), jnp.array([0.5, 0.5])) < 1e-6)
      True
    """
    gap = cross_entropy(p, q) - entropy(p) - relative_entropy(p, q)
    return jnp.max(jnp.abs(gap))


def softmax_regression_gradient(
    w: jax.typing.ArrayLike,
    b: jax.typing.ArrayLike,
    x: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
) -> tuple[jax.Array, jax.Array]:
    r"""Closed-form gradient of the mean softmax cross-entropy of ``x @ w + b``.

    .. math::
      \nabla_W = X^\top (\operatorname{softmax}(XW + b) - Y) / N,\qquad
      \nabla_b = \mathbf 1^\top (\operatorname{softmax}(XW + b) - Y) / N

    Args:
      w: weights ``[features, classes]``.
      b: biases ``[classes]``.
      x: inputs ``[N, features]``.
      labels: integer labels ``[N]``.

    Returns:
      ``(grad_w [features, classes], grad_b [classes])``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import softmax_regression_gradient
      >>> gw, gb = softmax_regression_gradient(jnp.zeros((2, 3)), jnp.zeros(3), jnp.ones((4, 2)),
      ...                                      jnp.array([0, 1, 2, 0]))
      >>> gw.shape, gb.shape
      ((2, 3), (3,))
    """
    w = as_float_array(w, "w")
    b = as_float_array(b, "b")
    x = as_float_array(x, "x")
    labels = as_array(labels, "labels")
    check_integer(labels, "labels")
    logits = x @ w + b[None, :]
    residual = jax.nn.softmax(logits, axis=-1) - jax.nn.one_hot(labels, w.shape[1], dtype=w.dtype)
    residual = residual / x.shape[0]
    return x.T @ residual, residual.sum(axis=0)
