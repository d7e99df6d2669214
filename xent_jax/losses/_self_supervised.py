"""Contrastive cross-entropy: NT-Xent (optax's ``ntxent``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from xent_jax.losses._checks import (
    as_array,
    as_float_array,
    check_finite,
    compute_dtype,
    value_check,
)

__all__ = ["ntxent"]


def ntxent(
    embeddings: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    temperature: jax.typing.ArrayLike = 0.07,
) -> jax.Array:
    r"""Normalized temperature-scaled cross-entropy (NT-Xent, SimCLR), averaged over positive pairs.

    With cosine similarities :math:`s_{ij} = \cos(e_i, e_j) / \tau`, positives
    :math:`P = \{(i, j): i \ne j, y_i = y_j\}` and negatives :math:`N_i = \{k: y_k \ne y_i\}`:

    .. math::
      \ell = \frac{1}{|P|} \sum_{(i,j) \in P}
        -\log \frac{e^{s_{ij}}}{e^{s_{ij}} + \sum_{k \in N_i} e^{s_{ik}}}
      = \frac{1}{|P|} \sum_{(i,j) \in P}
        \operatorname{softplus}\Big(\log \sum_{k \in N_i} e^{s_{ik}} - s_{ij}\Big)

    as in optax (norms clipped below at :math:`\sqrt{\epsilon}`, machine epsilon of the input
    dtype). The similarities come from one matrix product of the unit vectors (optax forms a
    ``[batch, batch, features]`` array), computed in float32 (at least) at full precision; norms
    are computed without overflow (optax's squared norms overflow above about 1e19 in float32
    and every similarity becomes 0); the softplus form is exact for any temperature. A batch
    without a positive pair gives 0 (optax: NaN from 0/0) with gradient 0.

    Args:
      embeddings: floating ``[batch, features]``.
      labels: ``[batch]`` group ids; equal ids are positive pairs.
      temperature: positive scalar :math:`\tau`.

    Returns:
      A scalar.

    Checked mode (:func:`xent_jax.losses.checked`): raises for non-finite embeddings and a
    non-positive traced temperature.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import ntxent
      >>> e = jnp.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
      >>> print(f"{float(ntxent(e, jnp.array([0, 0, 1, 1]), temperature=0.5)):.4f}")
      0.2965

    References:
      Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
      ICML 2020.
    """
    embeddings = as_float_array(embeddings, "embeddings")
    labels = as_array(labels, "labels")
    if embeddings.ndim != 2:
        raise ValueError(
            f"embeddings must have shape [batch, features], got shape {embeddings.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            "Labels and embeddings must have the same leading dimension, found "
            f"labels of shape {labels.shape} for embeddings of shape {embeddings.shape}."
        )
    if np.ndim(temperature) != 0:
        raise ValueError(f"temperature must be a scalar, got shape {np.shape(temperature)}")
    eps = float(jnp.finfo(embeddings.dtype).eps)
    dtype = compute_dtype(embeddings.dtype)
    e = embeddings.astype(dtype)
    temp = jnp.asarray(temperature, dtype)
    check_finite(e, "embeddings")
    value_check(temp > 0, "temperature must be positive")
    # ||e|| as a * ||e / a|| with a = max |e_k|: e * e would overflow for |e| > 1e19 in float32
    # (optax's cosine similarity then returns 0 for every pair); the clip is optax's.
    a = jnp.max(jnp.abs(e), axis=-1, keepdims=True)
    a_safe = jnp.where((a > 0) & jnp.isfinite(a), a, 1.0)
    scaled = e / a_safe
    squares = jnp.sum(scaled * scaled, axis=-1, keepdims=True)
    nonzero = squares > 0  # a zero embedding: no sqrt(0) (its gradient would be NaN)
    norm = jnp.where(nonzero, a_safe * jnp.sqrt(jnp.where(nonzero, squares, 1.0)), 0.0)
    unit = e / jnp.maximum(norm, jnp.sqrt(eps))
    sim = (
        lax.dot_general(unit, unit, (((1,), (1,)), ((), ())), precision=lax.Precision.HIGHEST)
        / temp
    )
    n = e.shape[0]
    same = labels[:, None] == labels[None, :]
    positive = same & ~jnp.eye(n, dtype=bool)
    negative = ~same
    # log sum over the negatives of each row, safe for rows without negatives
    neg_sim = jnp.where(negative, sim, -jnp.inf)
    m = jnp.max(neg_sim, axis=-1, keepdims=True)
    m = lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))
    total = jnp.sum(jnp.where(negative, jnp.exp(sim - m), 0.0), axis=-1, keepdims=True)
    has_negative = jnp.any(negative, axis=-1, keepdims=True)  # structural: NaN stays NaN
    lse_neg = m + jnp.log(jnp.where(has_negative, total, 1.0))
    gap = jnp.where(has_negative, lse_neg - sim, 0.0)
    # a row without negatives has pair losses exactly 0 (0 * sim keeps a NaN similarity NaN)
    pair = jnp.where(positive, jnp.where(has_negative, jax.nn.softplus(gap), 0.0 * sim), 0.0)
    count = jnp.sum(positive).astype(dtype)
    nonempty = count > 0
    return jnp.where(nonempty, jnp.sum(pair) / jnp.where(nonempty, count, 1.0), 0.0)
