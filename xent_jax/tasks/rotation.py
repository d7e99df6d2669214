"""Rotation prediction (RotNet): rotate images by multiples of 90 degrees, predict which.

References:
  Gidaris, Singh, Komodakis, "Unsupervised Representation Learning by Predicting Image
  Rotations", ICLR 2018.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["NUM_ROTATIONS", "rotate", "rotation_batch", "random_rotation_batch"]

NUM_ROTATIONS = 4


def _check_images(images: jax.Array) -> None:
    if images.ndim != 4:
        raise ValueError(f"images must be NHWC [N, H, W, C], got shape {images.shape}")
    if images.shape[1] != images.shape[2]:
        raise ValueError(
            f"rotation needs square images (H == W), got H={images.shape[1]}, W={images.shape[2]}"
        )


def _rotate_one(image: jax.Array, k: jax.Array) -> jax.Array:
    # One branch per k, each binding its own constant (no late-bound loop variable).
    branches = [lambda x, i=i: jnp.rot90(x, i, axes=(0, 1)) for i in range(NUM_ROTATIONS)]
    return jax.lax.switch(jnp.mod(k, NUM_ROTATIONS), branches, image)


def rotate(images: jax.typing.ArrayLike, k: jax.typing.ArrayLike) -> jax.Array:
    """Rotates each image counter-clockwise by ``k * 90`` degrees (as ``np.rot90(img, k)``).

    Args:
      images: ``[N, H, W, C]`` with ``H == W``.
      k: integer scalar (all images) or ``[N]`` (one per image); taken modulo 4. Traced values
        are fine: this is jittable and vmappable.

    Returns:
      ``[N, H, W, C]``, same dtype.

    Examples:
      >>> x = jnp.arange(4.0).reshape(1, 2, 2, 1)
      >>> rotate(x, 1)[0, :, :, 0].tolist()
      [[1.0, 3.0], [0.0, 2.0]]
    """
    images = jnp.asarray(images)
    _check_images(images)
    k = jnp.asarray(k)
    if not jnp.issubdtype(k.dtype, jnp.integer):
        raise TypeError(f"k must be an integer array, got dtype {k.dtype}")
    if k.ndim == 0:
        k = jnp.broadcast_to(k, images.shape[:1])
    if k.shape != images.shape[:1]:
        raise ValueError(f"k must be a scalar or [N]={images.shape[:1]}, got shape {k.shape}")
    return jax.vmap(_rotate_one)(images, k)


def rotation_batch(images: jax.typing.ArrayLike) -> tuple[jax.Array, jax.Array]:
    """All four rotations of every image, with the rotation index as label.

    Args:
      images: ``[N, H, W, C]`` with ``H == W``.

    Returns:
      ``(rotated, labels)``: ``[4N, H, W, C]`` ordered rotation-major (the N images rotated by 0,
      then by 90, ...) and int32 ``[4N]`` equal to ``repeat(arange(4), N)``.

    Examples:
      >>> x, y = rotation_batch(jnp.zeros((3, 8, 8, 1)))
      >>> x.shape, y.tolist()
      ((12, 8, 8, 1), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    """
    images = jnp.asarray(images)
    _check_images(images)
    rotated = jnp.concatenate(
        [jnp.rot90(images, i, axes=(1, 2)) for i in range(NUM_ROTATIONS)], axis=0
    )
    labels = jnp.repeat(jnp.arange(NUM_ROTATIONS, dtype=jnp.int32), images.shape[0])
    return rotated, labels


def random_rotation_batch(
    images: jax.typing.ArrayLike, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """One random rotation per image: ``(rotate(images, k), k)`` with ``k ~ U{0..3}``.

    Args:
      images: ``[N, H, W, C]`` with ``H == W``.
      key: PRNG key.

    Returns:
      ``([N, H, W, C], int32 [N])``.
    """
    images = jnp.asarray(images)
    _check_images(images)
    k = jax.random.randint(key, images.shape[:1], 0, NUM_ROTATIONS, dtype=jnp.int32)
    return rotate(images, k), k
