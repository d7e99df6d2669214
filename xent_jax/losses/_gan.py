"""GAN losses: the discriminator is a binary classifier and the generator is scored by it.

Both losses are sigmoid binary cross-entropy (:func:`xent_jax.losses.sigmoid_binary_cross_entropy`)
on discriminator logits, with "real" as the positive class. They return per-example values and
never reduce; reduce with :func:`xent_jax.losses.reduce_loss` or ``jnp.mean``.

References:
  Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (minimax and non-saturating).
  Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (one-sided smoothing).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from xent_jax.losses._checks import as_float_array
from xent_jax.losses._sigmoid import sigmoid_binary_cross_entropy

__all__ = ["gan_discriminator_loss", "gan_generator_loss"]

_GENERATOR_KINDS = ("non_saturating", "minimax")


def gan_discriminator_loss(
    real_logits: ArrayLike, fake_logits: ArrayLike, *, label_smoothing: float = 0.0
) -> jax.Array:
    r"""Discriminator cross-entropy on one real and one generated example per position.

    .. math::
      \ell = \mathrm{BCE}(r, 1 - s) + \mathrm{BCE}(f, 0)
           = -(1-s)\log\sigma(r) - s\log\sigma(-r) - \log\sigma(-f)

    where ``r``/``f`` are the logits of a real/generated example and ``s`` is one-sided label
    smoothing (only the real target is smoothed, Salimans et al. 2016).

    Args:
      real_logits: discriminator logits on real data, shape ``[...]``.
      fake_logits: discriminator logits on generated data, same shape as ``real_logits``.
      label_smoothing: ``s`` in ``[0, 1)``; real targets become ``1 - s``.

    Returns:
      Per-example loss, shape ``[...]`` (the common shape). Its mean is the usual discriminator
      objective ``E[-log D(x)] + E[-log(1 - D(G(z)))]``.

    Raises:
      TypeError: for non-float logits. ValueError: for different shapes or a bad smoothing value.

    Examples:
      >>> import jax.numpy as jnp
      >>> loss = gan_discriminator_loss(jnp.array([0.0]), jnp.array([0.0]))
      >>> round(float(loss[0]), 4)  # 2 log 2
      1.3863
    """
    real_logits = as_float_array(real_logits, "real_logits")
    fake_logits = as_float_array(fake_logits, "fake_logits")
    if real_logits.shape != fake_logits.shape:
        raise ValueError(
            "real_logits and fake_logits must have the same shape, got "
            f"{real_logits.shape} and {fake_logits.shape}"
        )
    if not isinstance(label_smoothing, int | float) or not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be a float in [0, 1), got {label_smoothing!r}")
    # targets in float32 (at least): 1 - s rounded to bf16 would be off by up to 0.4%
    dtype = jnp.promote_types(real_logits.dtype, jnp.float32)
    real_target = jnp.full(real_logits.shape, 1.0 - label_smoothing, dtype)
    fake_target = jnp.zeros(fake_logits.shape, dtype)
    return sigmoid_binary_cross_entropy(real_logits, real_target) + sigmoid_binary_cross_entropy(
        fake_logits, fake_target
    )


def gan_generator_loss(fake_logits: ArrayLike, *, kind: str = "non_saturating") -> jax.Array:
    r"""Generator loss from the discriminator's logits on generated examples.

    * ``"non_saturating"``: :math:`\mathrm{BCE}(f, 1) = -\log\sigma(f) = -\log D(G(z))`. Its
      gradient with respect to the logit is :math:`-\sigma(-f)`, which tends to -1 when the
      discriminator confidently rejects the sample (f -> -inf): the generator keeps learning.
    * ``"minimax"``: :math:`-\mathrm{BCE}(f, 0) = \log\sigma(-f) = \log(1 - D(G(z)))`, the exact
      negative of the discriminator's fake term. Its gradient is :math:`-\sigma(f)`, which
      vanishes when the discriminator is confident (the saturation Goodfellow et al. describe).

    Args:
      fake_logits: discriminator logits on generated data, shape ``[...]``.
      kind: ``"non_saturating"`` or ``"minimax"``.

    Returns:
      Per-example loss, shape ``[...]``.

    Raises:
      TypeError: for non-float logits. ValueError: for an unknown ``kind``.

    Examples:
      >>> import jax.numpy as jnp
      >>> round(float(gan_generator_loss(jnp.array([0.0]))[0]), 4)  # log 2
      0.6931
      >>> round(float(gan_generator_loss(jnp.array([0.0]), kind="minimax")[0]), 4)
      -0.6931
    """
    fake_logits = as_float_array(fake_logits, "fake_logits")
    if kind == "non_saturating":
        return sigmoid_binary_cross_entropy(fake_logits, jnp.ones_like(fake_logits))
    if kind == "minimax":
        return -sigmoid_binary_cross_entropy(fake_logits, jnp.zeros_like(fake_logits))
    raise ValueError(f"kind must be one of {_GENERATOR_KINDS}, got {kind!r}")
