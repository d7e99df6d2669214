"""BERT/ESM masked-token corruption for protein (or any token) sequences.

Of the eligible positions (real residues: never padding or special tokens), each is selected
independently with probability ``mask_rate``. A selected position becomes ``<mask>`` with
probability ``mask_prob``, a uniformly random standard amino acid with probability
``random_prob``, and stays unchanged otherwise (80/10/10 in BERT and ESM). The loss is scored
at every selected position against the original token.

For honest evaluation use :func:`mask_all_selected` (every selected position becomes
``<mask>``): unchanged or random tokens at evaluation let a model copy the answer.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from xent_jax.bio.vocab import FIRST_RESIDUE, MASK, NUM_STANDARD, VOCAB_SIZE
from xent_jax.losses import softmax_cross_entropy_with_integer_labels


class MaskedTokens(NamedTuple):
    """The result of masking.

    Attributes:
      inputs: corrupted token ids fed to the model, ``[..., length]`` int32.
      targets: the original token ids, ``[..., length]`` int32.
      loss_mask: True at the selected positions (where the loss is scored), ``[..., length]``.
    """

    inputs: jax.Array
    targets: jax.Array
    loss_mask: jax.Array


def residue_mask(tokens: ArrayLike) -> jax.Array:
    """True where a token is a residue (standard or rare), False for padding and specials.

    Args:
      tokens: integer token ids ``[..., length]``.

    Returns:
      bool ``[..., length]``.
    """
    tokens = jnp.asarray(tokens)
    return (tokens >= FIRST_RESIDUE) & (tokens < VOCAB_SIZE)


def mask_tokens(
    key: jax.Array,
    tokens: ArrayLike,
    *,
    mask_rate: float = 0.15,
    mask_prob: float = 0.8,
    random_prob: float = 0.1,
    eligible: ArrayLike | None = None,
) -> MaskedTokens:
    """Applies BERT-style masking with an explicit PRNG key (jittable).

    Args:
      key: a PRNG key.
      tokens: integer token ids ``[..., length]`` (see :mod:`xent_jax.bio.vocab`).
      mask_rate: probability that an eligible position is selected.
      mask_prob: probability that a selected position becomes ``<mask>``.
      random_prob: probability that a selected position becomes a random standard amino acid
        (which may, by chance, equal the original). The rest stay unchanged.
      eligible: optional bool ``[..., length]`` of positions that may be selected; defaults to
        :func:`residue_mask` (it is always intersected with it, so padding and specials are
        never selected).

    Returns:
      :class:`MaskedTokens` ``(inputs, targets, loss_mask)``.

    Raises:
      TypeError: if ``tokens`` is not an integer array.
      ValueError: if a probability is outside ``[0, 1]``, ``mask_prob + random_prob > 1``, or
        ``eligible`` has another shape.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from xent_jax.bio import tokenize
      >>> toks = jnp.asarray(tokenize("MKTAYIAKQRQISFVKSHFSRQ"))
      >>> out = mask_tokens(jax.random.key(0), toks)
      >>> bool(out.loss_mask[0])  # <cls> is never selected
      False
    """
    tokens = jnp.asarray(tokens)
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise TypeError(f"tokens must be an integer array, got dtype {tokens.dtype}")
    for name, p in (
        ("mask_rate", mask_rate),
        ("mask_prob", mask_prob),
        ("random_prob", random_prob),
    ):
        if isinstance(p, bool) or not isinstance(p, int | float):
            raise TypeError(f"{name} must be a Python float, got {type(p).__name__}")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {p}")
    if float(mask_prob) + float(random_prob) > 1.0 + 1e-9:
        raise ValueError(f"mask_prob + random_prob must be <= 1, got {mask_prob} + {random_prob}")
    allowed = residue_mask(tokens)
    if eligible is not None:
        eligible = jnp.asarray(eligible, dtype=bool)
        if eligible.shape != tokens.shape:
            raise ValueError(
                f"eligible must have the shape of tokens {tokens.shape}, got {eligible.shape}"
            )
        allowed = allowed & eligible
    k_select, k_kind, k_random = jax.random.split(key, 3)
    selected = allowed & jax.random.bernoulli(k_select, mask_rate, tokens.shape)
    u = jax.random.uniform(k_kind, tokens.shape)
    to_mask = selected & (u < mask_prob)
    to_random = selected & (u >= mask_prob) & (u < mask_prob + random_prob)
    random_ids = jax.random.randint(
        k_random, tokens.shape, FIRST_RESIDUE, FIRST_RESIDUE + NUM_STANDARD, dtype=tokens.dtype
    )
    inputs = jnp.where(to_mask, jnp.asarray(MASK, tokens.dtype), tokens)
    inputs = jnp.where(to_random, random_ids, inputs)
    return MaskedTokens(inputs=inputs, targets=tokens, loss_mask=selected)


def mask_all_selected(
    key: jax.Array,
    tokens: ArrayLike,
    *,
    mask_rate: float = 0.15,
    eligible: ArrayLike | None = None,
) -> MaskedTokens:
    """Honest evaluation masking: every selected position becomes ``<mask>``.

    Same as ``mask_tokens(key, tokens, mask_rate=mask_rate, mask_prob=1.0, random_prob=0.0)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> toks = jnp.full((4, 50), 10, dtype=jnp.int32)
      >>> out = mask_all_selected(jax.random.key(1), toks)
      >>> bool(jnp.all((out.inputs == 1) == out.loss_mask))
      True
    """
    return mask_tokens(
        key, tokens, mask_rate=mask_rate, mask_prob=1.0, random_prob=0.0, eligible=eligible
    )


def masked_lm_loss(logits: ArrayLike, targets: ArrayLike, loss_mask: ArrayLike) -> jax.Array:
    r"""Per-token masked-LM cross-entropy: the loss at each selected position, 0 elsewhere.

    .. math::  \ell_i = m_i \left(\operatorname{logsumexp}(z_i) - z_{i, y_i}\right)

    Like every loss in :mod:`xent_jax.losses` it does not reduce: the mean over the masked tokens
    (the usual MLM objective) is ``reduce_loss(losses, where=loss_mask)``
    (:func:`xent_jax.losses.reduce_loss`; 0 when nothing is masked), a per-sequence sum is
    ``losses.sum(-1)``. Positions outside ``loss_mask`` are exactly 0 with zero gradient, even
    where their target is out of range; a NaN or inf logit at a selected position propagates.

    Args:
      logits: ``[..., length, vocab]``, floating.
      targets: int ``[..., length]`` (the original tokens).
      loss_mask: bool ``[..., length]``, True where the loss is scored.

    Returns:
      float ``[..., length]``: the per-token losses.

    Raises:
      ValueError: if ``loss_mask`` or ``targets`` does not have the shape ``logits.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import reduce_loss
      >>> mask = jnp.array([[True, False, True]])
      >>> losses = masked_lm_loss(jnp.zeros((1, 3, 4)), jnp.array([[0, 1, 2]]), mask)
      >>> [round(float(v), 4) for v in losses[0]]
      [1.3863, 0.0, 1.3863]
      >>> round(float(reduce_loss(losses, where=mask)), 4)  # mean over the 2 masked tokens
      1.3863
    """
    logits = jnp.asarray(logits)
    targets = jnp.asarray(targets)
    loss_mask = jnp.asarray(loss_mask)
    if logits.ndim < 1:
        raise ValueError(f"logits must be [..., length, vocab], got shape {logits.shape}")
    for name, value in (("loss_mask", loss_mask), ("targets", targets)):
        if value.shape != logits.shape[:-1]:
            raise ValueError(
                f"{name} must have shape logits.shape[:-1]={logits.shape[:-1]}, got {value.shape}"
            )
    loss_mask = loss_mask.astype(bool)
    safe = jnp.where(loss_mask, targets, jnp.zeros_like(targets))  # no NaN from unscored labels
    per_token = softmax_cross_entropy_with_integer_labels(logits, safe)
    return jnp.where(loss_mask, per_token, jnp.zeros_like(per_token))
