"""Tests for patch sampling, area-fraction targets and the intensity-histogram baseline."""

from __future__ import annotations

import numpy as np
import pytest

from xent_jax.data.patches import (
    area_fraction,
    downsample,
    intensity_histogram,
    sample_patches,
    stretch_contrast,
)


def test_downsample_matches_block_mean_loop():
    rng = np.random.default_rng(0)
    x = rng.random((2, 6, 9, 2))
    got = downsample(x, 3)
    want = np.zeros((2, 2, 3, 2))
    for i in range(2):
        for j in range(3):
            want[:, i, j] = x[:, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3].mean(axis=(1, 2))
    np.testing.assert_allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match="divisible"):
        downsample(x, 4)


def test_area_fraction_counts_classes():
    m = np.array([[[0, 1, 2, 2]], [[1, 1, 1, 1]]], dtype=np.uint8)
    np.testing.assert_allclose(area_fraction(m, (1, 2)), [0.75, 1.0])
    np.testing.assert_allclose(area_fraction(m, (2,)), [0.5, 0.0])
    with pytest.raises(TypeError, match="integer"):
        area_fraction(m.astype(np.float32), (1,))
    with pytest.raises(ValueError, match="shape"):
        area_fraction(m[0], (1,))


def test_sample_patches_match_their_crops():
    rng = np.random.default_rng(1)
    images = rng.random((3, 40, 48, 1)).astype(np.float32)
    masks = rng.integers(0, 3, size=(3, 40, 48)).astype(np.uint8)
    p = sample_patches(images, masks, crop=16, size=8, per_image=5, classes=(1, 2), seed=7)
    assert p.images.shape == (15, 8, 8, 1) and len(p) == 15
    np.testing.assert_array_equal(p.image_index, np.repeat(np.arange(3), 5))
    for k in range(15):
        i, (r, c) = p.image_index[k], p.corners[k]
        assert 0 <= r <= 40 - 16 and 0 <= c <= 48 - 16
        crop = images[i, r : r + 16, c : c + 16, 0]
        want = crop.reshape(8, 2, 8, 2).mean(axis=(1, 3))
        np.testing.assert_allclose(p.images[k, :, :, 0], want, atol=1e-6)
        frac = np.isin(masks[i, r : r + 16, c : c + 16], (1, 2)).mean()
        assert p.fractions[k] == pytest.approx(frac)
    q = sample_patches(images, masks, crop=16, size=8, per_image=5, classes=(1, 2), seed=7)
    np.testing.assert_array_equal(q.corners, p.corners)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(crop=12, size=8), "multiple of size"),
        (dict(crop=64, size=8), "at most the image side"),
        (dict(crop=16, size=8, per_image=0), "per_image"),
    ],
)
def test_sample_patches_bad_arguments(kwargs, match):
    images = np.zeros((1, 32, 32, 1), np.float32)
    masks = np.zeros((1, 32, 32), np.uint8)
    kwargs = {"per_image": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        sample_patches(images, masks, classes=(1,), seed=0, **kwargs)
    with pytest.raises(ValueError, match="masks must have shape"):
        sample_patches(images, masks[:, :16], crop=16, size=8, per_image=1, classes=(1,), seed=0)


def test_stretch_contrast_per_image_percentiles():
    rng = np.random.default_rng(2)
    x = np.stack([rng.uniform(0.2, 0.3, (8, 8, 1)), rng.uniform(0.0, 1.0, (8, 8, 1))])
    y = stretch_contrast(x, low=5, high=95)
    for i in range(2):
        lo, hi = np.percentile(x[i], [5, 95])
        np.testing.assert_allclose(y[i], np.clip((x[i] - lo) / (hi - lo), 0, 1), atol=1e-6)
    assert stretch_contrast(np.full((1, 2, 2, 1), 0.5)).max() == 0.0  # flat image stays finite
    with pytest.raises(ValueError, match="low < high"):
        stretch_contrast(x, low=50, high=10)


def test_intensity_histogram_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.random((4, 5, 5, 1))
    x[0, 0, 0, 0] = 1.0  # the right edge belongs to the last bin, as in np.histogram
    got = intensity_histogram(x, bins=8)
    for k in range(4):
        want, _ = np.histogram(x[k], bins=8, range=(0.0, 1.0))
        np.testing.assert_allclose(got[k], want / 25, atol=1e-7)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)
