"""A multilayer perceptron (Flax NNX)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np
from flax import nnx

__all__ = ["MLP"]


class MLP(nnx.Module):
    """Dense layers with an activation between them and none after the last.

    Args:
      in_features: input size (inputs ``[..., in_features]``; images are flattened first when
        ``flatten=True``).
      hidden: sizes of the hidden layers (may be empty: a linear model).
      out_features: output size.
      activation: elementwise nonlinearity.
      flatten: flatten all but the leading axis of the input before the first layer.
      rngs: ``nnx.Rngs`` for initialisation.

    Parameter count: ``sum_l (d_{l-1} * d_l + d_l)`` over ``d = (in, *hidden, out)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> mlp = MLP(784, (64,), 10, flatten=True, rngs=nnx.Rngs(0))
      >>> mlp(jnp.zeros((2, 28, 28, 1))).shape, mlp.features(jnp.zeros((2, 784))).shape
      ((2, 10), (2, 64))
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        *,
        activation: Callable[[jax.Array], jax.Array] = nnx.relu,
        flatten: bool = False,
        rngs: nnx.Rngs,
    ):
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(hidden, int | str) or not all(
            isinstance(h, int | np.integer) and not isinstance(h, bool) and h >= 1 for h in hidden
        ):
            raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}")
        dims = (int(in_features), *(int(h) for h in hidden), int(out_features))
        self.in_features = dims[0]
        self.activation = activation
        self.flatten = flatten
        pairs = zip(dims[:-1], dims[1:], strict=True)
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in pairs])

    def _input(self, x: jax.Array) -> jax.Array:
        if self.flatten:
            x = x.reshape(x.shape[0], -1)
        if x.shape[-1] != self.in_features:
            raise ValueError(f"input must end in {self.in_features} features, got shape {x.shape}")
        return x

    def features(self, x: jax.Array) -> jax.Array:
        """The last hidden layer's activations (the input itself when there is no hidden layer)."""
        x = self._input(x)
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return x

    def __call__(self, x: jax.Array) -> jax.Array:
        """Outputs ``[..., out_features]``."""
        return self.layers[-1](self.features(x))
