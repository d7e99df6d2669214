"""Random patches from large images, their mask area fractions, and an intensity-histogram baseline.

Used by the micrograph study: crops of ``crop x crop`` pixels are averaged down to ``size x size``
(``crop`` a multiple of ``size``), and each patch carries the share of its crop's mask pixels that
belong to chosen classes (e.g. precipitate area fraction). Sampling is numpy with an explicit seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Patches:
    """A batch of patches cut from a stack of images.

    Attributes:
      images: float32 ``[P, size, size, C]``.
      fractions: float32 ``[P]``, area fraction of the chosen mask classes in each crop.
      image_index: int64 ``[P]``, which source image each patch came from.
      corners: int64 ``[P, 2]``, top-left ``(row, col)`` of each crop in its source image.
    """

    images: np.ndarray
    fractions: np.ndarray
    image_index: np.ndarray
    corners: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])


def stretch_contrast(images: np.ndarray, *, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Maps each image's ``low``..``high`` percentile range linearly onto ``[0, 1]`` and clips.

    Evens out brightness and bit depth between micrographs taken with different settings.

    Args:
      images: ``[N, H, W, C]`` array.
      low: lower percentile, in ``[0, high)``.
      high: upper percentile, in ``(low, 100]``.

    Returns:
      float32 ``[N, H, W, C]`` in ``[0, 1]``.

    Examples:
      >>> x = np.linspace(0.2, 0.4, 16, dtype=np.float32).reshape(1, 4, 4, 1)
      >>> y = stretch_contrast(x, low=0, high=100)
      >>> float(y.min()), float(y.max())
      (0.0, 1.0)
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape [N, H, W, C], got shape {images.shape}")
    if not 0.0 <= low < high <= 100.0:
        raise ValueError(f"need 0 <= low < high <= 100, got low={low}, high={high}")
    flat = images.reshape(images.shape[0], -1)
    lo, hi = np.percentile(flat, [low, high], axis=1)[:, :, None, None, None]
    scale = np.where(hi > lo, hi - lo, 1.0)
    return np.clip((images - lo) / scale, 0.0, 1.0).astype(np.float32)


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Averages non-overlapping ``factor x factor`` blocks.

    Args:
      images: ``[N, H, W, C]`` with ``H`` and ``W`` divisible by ``factor``.
      factor: positive integer.

    Returns:
      float32 ``[N, H // factor, W // factor, C]``.

    Examples:
      >>> downsample(np.arange(16.0).reshape(1, 4, 4, 1), 2)[0, :, :, 0].tolist()
      [[2.5, 4.5], [10.5, 12.5]]
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape [N, H, W, C], got shape {images.shape}")
    if not isinstance(factor, int | np.integer) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    n, h, w, c = images.shape
    if h % factor or w % factor:
        raise ValueError(f"height and width {h}x{w} must be divisible by factor {factor}")
    blocks = images.reshape(n, h // factor, factor, w // factor, factor, c)
    return blocks.mean(axis=(2, 4), dtype=np.float64).astype(np.float32)


def area_fraction(masks: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Share of pixels in each mask whose label is one of ``classes``.

    Args:
      masks: integer ``[P, H, W]`` label maps.
      classes: the labels that count, e.g. ``(1, 2)``.

    Returns:
      float32 ``[P]`` in ``[0, 1]``.

    Examples:
      >>> area_fraction(np.array([[[0, 1], [2, 1]]]), (1,)).tolist()
      [0.5]
    """
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"masks must have shape [P, H, W], got shape {masks.shape}")
    if not np.issubdtype(masks.dtype, np.integer):
        raise TypeError(f"masks must be an integer label map, got dtype {masks.dtype}")
    classes = tuple(int(c) for c in classes)
    if not classes:
        raise ValueError("classes must name at least one label, got an empty sequence")
    hit = np.isin(masks, classes)
    return hit.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)


def sample_patches(
    images: np.ndarray,
    masks: np.ndarray,
    *,
    crop: int,
    size: int,
    per_image: int,
    classes: Sequence[int],
    seed: int,
) -> Patches:
    """Cuts ``per_image`` uniformly placed random crops from every image and downsamples them.

    Args:
      images: ``[N, H, W, C]`` float images.
      masks: ``[N, H, W]`` integer label maps aligned with ``images``.
      crop: crop side in source pixels, a multiple of ``size`` and at most ``min(H, W)``.
      size: output patch side.
      per_image: number of crops per image (equal weight for every image).
      classes: mask labels whose area fraction is the target.
      seed: numpy seed; same seed, same patches.

    Returns:
      :class:`Patches` with ``P = N * per_image`` patches grouped by image.

    Examples:
      >>> imgs = np.zeros((2, 64, 64, 1), np.float32); msk = np.ones((2, 64, 64), np.uint8)
      >>> p = sample_patches(imgs, msk, crop=32, size=16, per_image=3, classes=(1,), seed=0)
      >>> p.images.shape, p.fractions.tolist()
      ((6, 16, 16, 1), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    """
    images = np.asarray(images)
    masks = np.asarray(masks)
    if images.ndim != 4:
        raise ValueError(f"images must have shape [N, H, W, C], got shape {images.shape}")
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks must have shape {images.shape[:3]}, got shape {masks.shape}")
    n, h, w, _ = images.shape
    if size < 1 or crop < size or crop % size:
        raise ValueError(f"crop must be a positive multiple of size, got crop={crop}, size={size}")
    if crop > min(h, w):
        raise ValueError(f"crop must be at most the image side {min(h, w)}, got {crop}")
    if per_image < 1:
        raise ValueError(f"per_image must be positive, got {per_image}")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, h - crop + 1, size=(n, per_image))
    cols = rng.integers(0, w - crop + 1, size=(n, per_image))
    out_imgs, out_masks = [], []
    for i in range(n):
        for r, c in zip(rows[i], cols[i], strict=True):
            out_imgs.append(images[i, r : r + crop, c : c + crop])
            out_masks.append(masks[i, r : r + crop, c : c + crop])
    crops = np.stack(out_imgs)
    return Patches(
        images=downsample(crops, crop // size),
        fractions=area_fraction(np.stack(out_masks), classes),
        image_index=np.repeat(np.arange(n, dtype=np.int64), per_image),
        corners=np.stack([rows.reshape(-1), cols.reshape(-1)], axis=1).astype(np.int64),
    )


def intensity_histogram(patches: np.ndarray, *, bins: int = 16) -> np.ndarray:
    """Hand-made baseline features: the normalised grey-level histogram of each patch.

    Args:
      patches: ``[P, H, W, C]`` with values in ``[0, 1]`` (values outside are clipped into the end
        bins).
      bins: number of equal-width bins over ``[0, 1]``.

    Returns:
      float32 ``[P, bins]``; each row sums to 1.

    Examples:
      >>> intensity_histogram(np.array([0.1, 0.1, 0.9, 0.6]).reshape(1, 2, 2, 1), bins=2).tolist()
      [[0.5, 0.5]]
    """
    patches = np.asarray(patches)
    if patches.ndim != 4:
        raise ValueError(f"patches must have shape [P, H, W, C], got shape {patches.shape}")
    if bins < 1:
        raise ValueError(f"bins must be positive, got {bins}")
    flat = np.clip(patches.reshape(patches.shape[0], -1), 0.0, 1.0)
    idx = np.minimum((flat * bins).astype(np.int64), bins - 1)
    counts = np.stack([np.bincount(row, minlength=bins) for row in idx])
    return (counts / flat.shape[1]).astype(np.float32)
