"""Ring and grid Gaussian mixtures (VEEGAN benchmarks)."""

import jax
import numpy as np
import pytest

from xent_jax.data import grid_centers, mixture, ring_centers, sample_mixture


def test_centers():
    ring = ring_centers()
    assert ring.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0, atol=1e-6)
    grid = grid_centers()
    assert grid.shape == (25, 2)
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert mixture("ring")[1] == 0.02
    with pytest.raises(ValueError, match="ring"):
        mixture("spiral")


def test_samples_hit_every_mode_with_the_right_spread():
    centers, std = mixture("grid")
    x = np.asarray(sample_mixture(jax.random.key(0), centers, std, 10000))
    d = np.linalg.norm(x[:, None] - centers[None], axis=-1)
    nearest = d.argmin(1)
    counts = np.bincount(nearest, minlength=25)
    assert counts.min() > 300  # about 400 each
    resid = x - centers[nearest]
    assert abs(resid.std() - std) < 0.002
    np.testing.assert_array_equal(
        x, np.asarray(sample_mixture(jax.random.key(0), centers, std, 10000))
    )
