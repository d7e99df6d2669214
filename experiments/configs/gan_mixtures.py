"""Config for ``experiments/gan_mixtures.py``: BCE GANs on the VEEGAN ring and grid mixtures.

Command (full, 3 seeds, each (mixture, loss) trains its 3 seeds as one vmapped program)::

    xent-jax run gan-mixtures --out results

Ring (8 modes, 8,000 steps) and grid (25 modes, 20,000 steps), non-saturating and minimax
generator losses, a packed discriminator (PacGAN, pack 4), 3 seeds. VEEGAN protocol: 2,500
samples, a sample is high quality within 3 std of its nearest mode, a mode is covered when it
holds a high-quality sample. Measured with this config (2026-12-03, 2-core CPU, one other run
sharing it): 437 s wall for the 168,000 GAN steps (3 seeds vmapped per setting); ring 8.0/8 modes
with both losses, 37% [20, 55] (non-saturating) and 31% [13, 49] (minimax) high quality (target
50%); grid non-saturating 19.7 [13.4, 25.9]/25 modes, 32% [17, 47] (targets 23 and 40%); grid
minimax 12.0 [-5.4, 29.4]/25 modes, 4% high quality (unstable).

``--quick``: ring only, both losses, one seed, 3,000 steps (a smoke run whose numbers are not the
reported ones). ``tiny`` is for tests (both mixtures, 20 steps, small nets; seconds).
"""

from __future__ import annotations

import ml_collections


def _mixture(steps: int, g_learning_rate: float, d_learning_rate: float):
    m = ml_collections.ConfigDict()
    m.steps = steps
    m.g_learning_rate = g_learning_rate
    m.d_learning_rate = d_learning_rate
    return m


def get_config(size: str = "full") -> ml_collections.ConfigDict:
    """Returns the config for ``size`` in ``("full", "quick", "tiny")``."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    cfg = ml_collections.ConfigDict()
    cfg.seeds = 3
    cfg.mixtures = ("ring", "grid")
    cfg.losses = ("non_saturating", "minimax")
    cfg.noise_dim = 16
    cfg.hidden = (128, 128, 128)
    cfg.pack = 4
    cfg.batch_size = 256
    cfg.n_eval = 2500  # VEEGAN protocol
    cfg.n_std = 3.0  # high quality: within n_std standard deviations of the nearest mode
    cfg.steps_per_call = 100
    cfg.log_every = 500
    cfg.checkpoint_every = 2000
    # The grid needs a faster discriminator (two-timescale learning rates) and more steps.
    cfg.ring = _mixture(8000, 5e-4, 5e-4)
    cfg.grid = _mixture(20000, 5e-4, 2e-3)
    if size == "quick":
        cfg.seeds = 1
        cfg.mixtures = ("ring",)
        cfg.ring.steps = 3000
    elif size == "tiny":
        cfg.seeds = 1
        cfg.ring.steps = cfg.grid.steps = 20
        cfg.hidden = (16,)
        cfg.batch_size = 32
        cfg.n_eval = 200
        cfg.steps_per_call = 10
        cfg.log_every = 10
        cfg.checkpoint_every = 10
    return cfg
