"""Pretext tasks: transforms that turn unlabelled data into supervised problems."""

from xent_jax.tasks.masking import (
    MaskedTokens,
    mask_all_selected,
    mask_tokens,
    masked_lm_loss,
    residue_mask,
)
from xent_jax.tasks.rotation import NUM_ROTATIONS, random_rotation_batch, rotate, rotation_batch

__all__ = [
    "NUM_ROTATIONS",
    "random_rotation_batch",
    "rotate",
    "rotation_batch",
    "MaskedTokens",
    "mask_all_selected",
    "mask_tokens",
    "masked_lm_loss",
    "residue_mask",
]
