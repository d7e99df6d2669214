"""Data loaders: bundled and shared data sets, each raising a clear error when absent."""

from xent_jax.data.images import (
    load_digits,
    load_mnist5k,
    load_mnist10k,
    per_class_subset,
    read_idx,
    train_test_split,
)

__all__ = [
    "load_digits",
    "load_mnist5k",
    "load_mnist10k",
    "per_class_subset",
    "read_idx",
    "train_test_split",
]
