"""Config for the micrograph rotation-pretext study (``xent-jax run micrographs``).

Command (full)::

    .venv/bin/xent-jax run micrographs --out results

``--quick`` is the CPU demo size. Re-running the same command resumes the rotation pretraining from
the orbax checkpoints in ``results/micrographs/ckpt/``.

What it does, per material (Ni superalloy, EBC coating cross-sections) and per seed: split the
real SEM micrographs by specimen (never by patch), pretrain the CNN on 4-way rotation prediction
over random training patches (``crop`` source pixels averaged down to ``patch`` pixels), then fit
a ridge read-out (alpha by grouped CV on the training images) from frozen features to each patch's
area fraction (superalloy: gamma-prime + fine precipitates, mask classes 1+2; EBC: oxide, class 1)
and score R^2 on held-out images, against the same CNN at random init and an intensity histogram.

Measured on the 2-core CPU while ~7 other jobs ran (load average ~19), seed 0:

* full (3 seeds, 500 steps each): 25.5 min wall, but only 5.5 min of CPU time (user 3.5 +
  sys 2.0); an idle machine was not available to time it, but that CPU time points well under
  20 min. Held-out rotation accuracy (chance
  0.25): superalloy 0.355, EBC 0.672. Area-fraction R^2 on held-out images (mean of 3 seeds),
  rotation / random-init / histogram: superalloy 0.31 / 0.24 / 0.30 (rotation > random in 2 of 3
  seeds); EBC 0.06 / 0.28 / -0.04 (rotation > random in 0 of 3 seeds: target missed there).
* ``--quick`` (1 seed, 150 steps): 7.7 min wall under that load but 63 s of CPU time
  (so about 1 min on an idle machine; not measured idle). Rotation
  accuracy superalloy 0.30, EBC 0.62; R^2 superalloy 0.11 / 0.11 / 0.26, EBC 0.48 / 0.51 / 0.25.

R^2 varies strongly with the split (7 held-out images per material), so read the per-seed values
in ``metrics.json`` and the dots in ``r2_bars.png``.
"""

from __future__ import annotations

_MATERIALS = {
    # crop: source pixels per patch side; classes: mask labels counted in the area fraction.
    "superalloy": {"crop": 64, "classes": (1, 2)},
    "ebc": {"crop": 256, "classes": (1,)},
}


def get_config(size: str = "full") -> dict:
    """Returns the study's settings for ``size`` in ``{"full", "quick", "tiny"}``."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    config = {
        "materials": {k: dict(v) for k, v in _MATERIALS.items()},
        "patch": 16,  # CNN input side (greyscale)
        "widths": (16, 32),  # CNN conv widths; features = last block pooled to 2x2 (128-d)
        "pool_size": 2,
        "test_fraction": 0.3,  # share of images held out (by specimen)
        "train_per_image": 200,  # random patches per training image
        "test_per_image": 100,  # random patches per held-out image
        "num_steps": 500,  # rotation pretraining steps (each: batch_size patches x 4 rotations)
        "batch_size": 64,
        "learning_rate": 1e-3,
        "ckpt_every": 100,
        "hist_bins": 16,
        "alphas": (1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4),
        "n_folds": 4,
        "num_seeds": 3,  # seeds seed, seed+1, ...: each a new split, patches and init
        "num_examples": 8,  # example patches per material in the plot
    }
    if size == "quick":
        config.update(train_per_image=100, test_per_image=50, num_steps=150, num_seeds=1)
    elif size == "tiny":
        config.update(
            train_per_image=6,
            test_per_image=4,
            num_steps=3,
            batch_size=8,
            ckpt_every=2,
            num_seeds=1,
            n_folds=2,
            widths=(4, 8),
            num_examples=4,
        )
    return config
