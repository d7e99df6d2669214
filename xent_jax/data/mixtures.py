"""2-D Gaussian mixture benchmarks for GANs (VEEGAN protocol): the ring and the grid.

* ring: 8 modes equally spaced on a circle of radius 2, standard deviation 0.02;
* grid: 25 modes at ``{-4, -2, 0, 2, 4}^2``, standard deviation 0.02.

Modes are equally likely. Samples are drawn on the fly from a JAX key, so a training loop can
draw fresh data inside ``jit``.

References:
  Srivastava et al., "VEEGAN: Reducing mode collapse in GANs using implicit variational
  learning", NeurIPS 2017 (Section 5.1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["MIXTURES", "grid_centers", "mixture", "ring_centers", "sample_mixture"]


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres on a circle, the first at angle 0: float32 ``[n_modes, 2]``.

    Examples:
      >>> ring_centers().shape
      (8, 2)
    """
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def grid_centers(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> np.ndarray:
    """Centres on the square grid ``values x values``: float32 ``[len(values)**2, 2]``.

    Examples:
      >>> grid_centers().shape
      (25, 2)
    """
    xs, ys = np.meshgrid(np.asarray(values), np.asarray(values), indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def sample_mixture(key: jax.Array, centers: ArrayLike, std: float, n: int) -> jax.Array:
    """Draws ``n`` samples from the equal-weight isotropic Gaussian mixture.

    Args:
      key: PRNG key.
      centers: mode centres, shape ``[modes, dim]``.
      std: standard deviation of every mode.
      n: number of samples.

    Returns:
      Samples, float32 ``[n, dim]``.

    Examples:
      >>> import jax
      >>> sample_mixture(jax.random.key(0), ring_centers(), 0.02, 4).shape
      (4, 2)
    """
    centers = jnp.asarray(centers, jnp.float32)
    if centers.ndim != 2:
        raise ValueError(f"centers must have shape [modes, dim], got {centers.shape}")
    k_mode, k_noise = jax.random.split(key)
    modes = jax.random.randint(k_mode, (n,), 0, centers.shape[0])
    return centers[modes] + std * jax.random.normal(k_noise, (n, centers.shape[1]), jnp.float32)


MIXTURES: dict[str, tuple[np.ndarray, float]] = {
    "ring": (ring_centers(), 0.02),
    "grid": (grid_centers(), 0.02),
}


def mixture(name: str) -> tuple[np.ndarray, float]:
    """Returns ``(centers, std)`` of a named benchmark, ``"ring"`` or ``"grid"``."""
    if name not in MIXTURES:
        raise ValueError(f"mixture name must be one of {tuple(MIXTURES)}, got {name!r}")
    return MIXTURES[name]
