"""Flax NNX models."""

from xent_jax.models.cnn import CNN, adaptive_avg_pool
from xent_jax.models.gan import Discriminator, Generator, sparsemax
from xent_jax.models.mlp import MLP
from xent_jax.models.transformer import EncoderBlock, ProteinTransformer

__all__ = [
    "CNN",
    "MLP",
    "Discriminator",
    "Generator",
    "adaptive_avg_pool",
    "sparsemax",
    "EncoderBlock",
    "ProteinTransformer",
]
