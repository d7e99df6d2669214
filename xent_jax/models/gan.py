"""MLP generator and discriminator for small GANs (2-D mixtures, composition vectors), Flax NNX.

The discriminator optionally *packs* its input (PacGAN, Lin et al. 2018): it scores groups of
``pack`` samples concatenated together, so it sees minibatch statistics and can penalise a
generator whose samples are too alike, the main defence against mode collapse used here. The
gradient penalty (R1) lives in the training step (:mod:`xent_jax.train.gan`), not in the model.

References:
  Lin, Khetan, Fanti, Oh, "PacGAN: The power of two samples in generative adversarial networks",
  NeurIPS 2018. Martins & Astudillo, "From softmax to sparsemax", ICML 2016.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax
from flax import nnx

__all__ = ["Discriminator", "Generator", "sparsemax"]

_OUTPUTS = ("identity", "softmax", "sqrt_softmax", "sparsemax", "sparsemax_st")
_TRANSFORMS = ("identity", "sqrt")
_SQRT_EPS = 1e-6


def sparsemax(x: jax.Array) -> jax.Array:
    """Euclidean projection of each row onto the probability simplex (exact zeros allowed).

    Args:
      x: scores, shape ``[..., k]``.

    Returns:
      Non-negative rows summing to 1, shape ``[..., k]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> sparsemax(jnp.array([[2.0, 0.0, -1.0]])).tolist()
      [[1.0, 0.0, 0.0]]
    """
    flat = x.reshape(-1, x.shape[-1])
    return jax.vmap(optax.projections.projection_simplex)(flat).reshape(x.shape)


def _check_sizes(name: str, sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ValueError(f"{name} must be a sequence of positive ints, got {sizes!r}")
    return sizes


def _check_input(name: str, x: jax.Array, features: int) -> None:
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(f"{name} must have shape [batch, {features}], got {x.shape}")


class Generator(nnx.Module):
    """MLP from noise to samples: ``z [batch, noise_dim] -> x [batch, out_features]``.

    Hidden layers use ReLU. The output is linear (``"identity"``), a point on the simplex
    (``"softmax"``, or ``"sparsemax"`` which gives exact zeros), or the element-wise square root
    of a softmax (``"sqrt_softmax"``: a unit vector whose squares are fractions, the Hellinger
    embedding of a composition; train on ``sqrt(fractions)`` and square the samples), or
    ``"sparsemax_st"``: sparsemax values with the softmax gradient (straight-through), so that
    elements switched off everywhere keep receiving gradient.

    Args:
      noise_dim: size of the latent noise.
      out_features: size of a sample.
      hidden: hidden layer widths.
      output: ``"identity"``, ``"softmax"``, ``"sqrt_softmax"``, ``"sparsemax"`` or
        ``"sparsemax_st"``.
      head_scale: multiplies the output layer's initial kernel. A small value (0.01) starts a
        sparsemax generator near the uniform composition, so it prunes elements as it learns
        instead of starting on one or two (sparsemax has no gradient for a zero coordinate).
      rngs: NNX random streams (``params``).

    Examples:
      >>> import jax
      >>> from flax import nnx
      >>> g = Generator(2, 2, hidden=(16,), rngs=nnx.Rngs(0))
      >>> g(jax.random.normal(jax.random.key(0), (5, 2))).shape
      (5, 2)
    """

    def __init__(
        self,
        noise_dim: int,
        out_features: int,
        *,
        hidden: Sequence[int] = (256, 256, 256),
        output: str = "identity",
        head_scale: float = 1.0,
        rngs: nnx.Rngs,
    ):
        _check_sizes("noise_dim/out_features", (noise_dim, out_features))
        hidden = _check_sizes("hidden", hidden)
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
        self.noise_dim, self.out_features, self.output = noise_dim, out_features, output
        sizes = (noise_dim, *hidden)
        self.layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        )
        self.head = nnx.Linear(sizes[-1], out_features, rngs=rngs)
        if not head_scale > 0:
            raise ValueError(f"head_scale must be positive, got {head_scale!r}")
        self.head.kernel[...] = self.head.kernel[...] * head_scale

    def __call__(self, z: jax.Array) -> jax.Array:
        _check_input("z", z, self.noise_dim)
        h = z
        for layer in self.layers:
            h = jax.nn.relu(layer(h))
        out = self.head(h)
        if self.output == "softmax":
            return jax.nn.softmax(out, axis=-1)
        if self.output == "sqrt_softmax":
            return jnp.exp(0.5 * jax.nn.log_softmax(out, axis=-1))  # finite gradient at 0
        if self.output == "sparsemax":
            return sparsemax(out)
        if self.output == "sparsemax_st":
            # Forward: sparsemax (exact zeros). Backward: softmax's gradient, so an element
            # that sparsemax has switched off for every z can still come back.
            soft = jax.nn.softmax(out, axis=-1)
            return soft + jax.lax.stop_gradient(sparsemax(out) - soft)
        return out


class Discriminator(nnx.Module):
    """MLP from samples to one real-vs-fake logit per pack of ``pack`` samples.

    ``x [batch, in_features]`` is reshaped to ``[batch // pack, pack * in_features]`` (consecutive
    samples form a pack) and scored with LeakyReLU(0.2) hidden layers.

    Args:
      in_features: size of a sample.
      hidden: hidden layer widths.
      pack: samples per discriminator input (1 = an ordinary discriminator).
      first_bias_std: standard deviation of the first layer's initial biases. With zero biases
        every first-layer ReLU boundary passes through the origin, and the discriminator cannot
        resolve modes away from it (the 5x5 grid stalls at D = 0.5); random biases spread the
        boundaries over the data. 0 gives the usual zero init.
      input_transform: ``"identity"``, or ``"sqrt"`` for non-negative inputs such as fractions:
        ``sqrt(x + 1e-6) - 1e-3`` (the Hellinger embedding), which magnifies small values so the
        discriminator sees a generator's trace amounts (1e-4 -> 0.01) that real data lacks.
      rngs: NNX random streams (``params``).

    Returns (call):
      Logits, shape ``[batch // pack]``; positive means "real".

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> d = Discriminator(2, hidden=(16,), pack=2, rngs=nnx.Rngs(0))
      >>> d(jnp.zeros((6, 2))).shape
      (3,)
    """

    def __init__(
        self,
        in_features: int,
        *,
        hidden: Sequence[int] = (256, 256, 256),
        pack: int = 1,
        first_bias_std: float = 1.0,
        input_transform: str = "identity",
        rngs: nnx.Rngs,
    ):
        _check_sizes("in_features", (in_features,))
        hidden = _check_sizes("hidden", hidden)
        if not isinstance(pack, int) or pack < 1:
            raise ValueError(f"pack must be a positive int, got {pack!r}")
        if input_transform not in _TRANSFORMS:
            raise ValueError(
                f"input_transform must be one of {_TRANSFORMS}, got {input_transform!r}"
            )
        self.input_transform = input_transform
        if not first_bias_std >= 0:
            raise ValueError(f"first_bias_std must be >= 0, got {first_bias_std!r}")
        self.in_features, self.pack = in_features, pack
        sizes = (in_features * pack, *hidden)
        first_bias = nnx.initializers.normal(first_bias_std) if first_bias_std > 0 else None
        self.layers = nnx.List(
            [
                nnx.Linear(a, b, rngs=rngs)
                if i or first_bias is None
                else nnx.Linear(a, b, bias_init=first_bias, rngs=rngs)
                for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
            ]
        )
        self.head = nnx.Linear(sizes[-1], 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        _check_input("x", x, self.in_features)
        if x.shape[0] % self.pack:
            raise ValueError(
                f"batch size must be a multiple of pack={self.pack}, got {x.shape[0]} samples"
            )
        if self.input_transform == "sqrt":
            x = jnp.sqrt(jnp.maximum(x, 0.0) + _SQRT_EPS) - jnp.sqrt(_SQRT_EPS)
        h = x.reshape(x.shape[0] // self.pack, self.pack * self.in_features)
        for layer in self.layers:
            h = jax.nn.leaky_relu(layer(h), 0.2)
        return self.head(h)[:, 0]
