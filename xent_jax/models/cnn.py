"""A small configurable convolutional network (Flax NNX) for 8x8 to 28x28 greyscale images."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["CNN", "adaptive_avg_pool"]


def adaptive_avg_pool(x: jax.Array, size: int) -> jax.Array:
    """Averages ``[N, H, W, C]`` into ``[N, size, size, C]`` with (possibly overlapping) bins.

    Bin ``i`` along an axis of length ``L`` covers ``floor(i*L/size) .. ceil((i+1)*L/size)``
    (as PyTorch's ``AdaptiveAvgPool2d``), so it works for any ``H, W >= 1``.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be [N, H, W, C], got shape {x.shape}")

    def bins(length: int) -> list[tuple[int, int]]:
        return [(i * length // size, -(-(i + 1) * length // size)) for i in range(size)]

    rows = []
    for h0, h1 in bins(x.shape[1]):
        cols = [x[:, h0:h1, w0:w1, :].mean(axis=(1, 2)) for w0, w1 in bins(x.shape[2])]
        rows.append(jnp.stack(cols, axis=1))
    return jnp.stack(rows, axis=1)


class CNN(nnx.Module):
    """Conv blocks (3x3 conv, ReLU, 2x2 max pool) then a pooled feature vector and an MLP head.

    ``features(x)`` adaptively average-pools the last block to ``pool_size x pool_size`` and
    flattens it, so the feature size ``widths[-1] * pool_size**2`` does not depend on the input
    size; ``head`` maps features to logits (one hidden ReLU layer when ``head_hidden > 0``).
    Blocks after the input has shrunk to 1x1 skip their max pool.

    Args:
      num_classes: output logits.
      in_channels: input channels (1 for greyscale).
      widths: output channels of each conv block.
      pool_size: spatial size of the pooled features.
      head_hidden: hidden units of the head, 0 for a linear head.
      rngs: ``nnx.Rngs`` for initialisation.

    Parameter count: ``sum_b (9 * c_{b-1} * c_b + c_b)`` for the convs plus the head's
    ``F * h + h + h * K + K`` (or ``F * K + K`` for a linear head) with ``F = widths[-1] * pool^2``.

    Examples:
      >>> model = CNN(10, widths=(8, 16), rngs=nnx.Rngs(0))
      >>> model(jnp.zeros((2, 28, 28, 1))).shape, model.features(jnp.zeros((2, 8, 8, 1))).shape
      ((2, 10), (2, 64))
    """

    def __init__(
        self,
        num_classes: int,
        *,
        in_channels: int = 1,
        widths: Sequence[int] = (32, 64),
        pool_size: int = 2,
        head_hidden: int = 0,
        rngs: nnx.Rngs,
    ):
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths}")
        if num_classes < 1 or in_channels < 1 or pool_size < 1 or head_hidden < 0:
            raise ValueError(
                "num_classes, in_channels, pool_size must be >= 1 and head_hidden >= 0, got "
                f"{num_classes}, {in_channels}, {pool_size}, {head_hidden}"
            )
        self.in_channels = in_channels
        self.pool_size = pool_size
        self.num_features = widths[-1] * pool_size**2
        chans = (in_channels, *widths)
        pairs = zip(chans[:-1], chans[1:], strict=True)
        self.convs = nnx.List([nnx.Conv(a, b, (3, 3), padding="SAME", rngs=rngs) for a, b in pairs])
        if head_hidden:
            self.hidden = nnx.Linear(self.num_features, head_hidden, rngs=rngs)
            self.out = nnx.Linear(head_hidden, num_classes, rngs=rngs)
        else:
            self.hidden = None
            self.out = nnx.Linear(self.num_features, num_classes, rngs=rngs)

    def blocks(self, x: jax.Array) -> list[jax.Array]:
        """Returns each block's output ``[N, H_b, W_b, widths[b]]`` for input ``[N, H, W, C]``."""
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise ValueError(f"x must be [N, H, W, {self.in_channels}], got shape {x.shape}")
        outs = []
        for conv in self.convs:
            x = nnx.relu(conv(x))
            if x.shape[1] >= 2 and x.shape[2] >= 2:
                x = nnx.max_pool(x, (2, 2), strides=(2, 2))
            outs.append(x)
        return outs

    def features(self, x: jax.Array, *, block: int = -1) -> jax.Array:
        """Pooled, flattened features of a block: ``[N, widths[block] * pool_size**2]``."""
        h = self.blocks(x)[block]
        return adaptive_avg_pool(h, self.pool_size).reshape(h.shape[0], -1)

    def head(self, features: jax.Array) -> jax.Array:
        """Logits ``[N, num_classes]`` from features ``[N, num_features]``."""
        if self.hidden is not None:
            features = nnx.relu(self.hidden(features))
        return self.out(features)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits ``[N, num_classes]`` for images ``[N, H, W, in_channels]``."""
        return self.head(self.features(x))
