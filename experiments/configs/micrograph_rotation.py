"""Config for ``experiments/micrograph_rotation.py``: rotation pretext on real SEM micrographs.

Command (full, 3 seeds, needs ``../shared/data/micrographs``)::

    xent-jax run micrographs --out results

Per material (Ni superalloy, EBC coating cross-sections) and seed: split the micrographs by
specimen (frames of one specimen stay on one side; a new split per seed), pretrain the CNN on
4-way rotation prediction over random training patches (``crop`` source pixels averaged down to
``patch`` pixels), then regress each patch's area fraction (superalloy: gamma-prime + fine
precipitates, mask classes 1+2; EBC: oxide, class 1) on frozen features with ridge, ``l2``
chosen by cross-validation grouped by specimen on the training images, and score R^2 once on
the held-out images; against the same CNN at random init, an intensity histogram and the
training mean (R^2 <= 0).

Expected cost and result: the previous protocol (3 seeds, 500 steps each, CV grouped by image)
took 5.5 min of CPU time (25.5 min wall under a load of ~19) with rotation accuracy superalloy
0.355, EBC 0.672 (chance 0.25), and R^2 rotation / random-init / histogram superalloy 0.31 /
0.24 / 0.30, EBC 0.06 / 0.28 / -0.04; this protocol costs about the same. ``--quick`` (one seed,
fewer patches and steps) and ``tiny`` (tests) shrink it; measured quick numbers are in the
README.
"""

from __future__ import annotations

import ml_collections


def get_config(size: str = "full") -> ml_collections.ConfigDict:
    """Returns the config for ``size`` in ``("full", "quick", "tiny")``."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    cfg = ml_collections.ConfigDict()
    cfg.seeds = 3  # each seed: a new split, new patches and a new initialisation
    # crop: source pixels per patch side; classes: mask labels counted in the area fraction
    cfg.materials = ml_collections.ConfigDict(
        {
            "superalloy": {"crop": 64, "classes": (1, 2)},
            "ebc": {"crop": 256, "classes": (1,)},
        }
    )
    cfg.patch = 16  # CNN input side (greyscale)
    cfg.widths = (16, 32)  # conv widths; features = last block pooled to 2x2 (128-d)
    cfg.pool_size = 2
    cfg.test_fraction = 0.3  # share of images held out (by specimen)
    cfg.train_per_image = 200  # random patches per training image
    cfg.test_per_image = 100  # random patches per held-out image
    cfg.steps = 500  # rotation pretraining steps (each: batch_size patches x 4 rotations)
    cfg.batch_size = 64
    cfg.learning_rate = 1e-3
    cfg.checkpoint_every = 100
    cfg.hist_bins = 16
    cfg.l2_grid = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4)  # ridge penalty, chosen by CV
    cfg.n_folds = 4  # CV folds over training specimens
    cfg.num_examples = 8  # example patches per material in the per-seed figure
    if size == "quick":
        cfg.seeds = 1
        cfg.train_per_image = 100
        cfg.test_per_image = 50
        cfg.steps = 150
        cfg.checkpoint_every = 50
    elif size == "tiny":
        cfg.seeds = 1
        cfg.train_per_image = 6
        cfg.test_per_image = 4
        cfg.steps = 3
        cfg.batch_size = 8
        cfg.checkpoint_every = 2
        cfg.n_folds = 2
        cfg.widths = (4, 8)
        cfg.num_examples = 4
    return cfg
