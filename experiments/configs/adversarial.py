"""Config for ``experiments/adversarial.py``: FGSM, PGD, PGD with restarts, APGD-CE and APGD-DLR.

Command (full, 3 seeds, MNIST 10k test set split 8,000 / 2,000, needs ``../shared/data/mnist``)::

    xent-jax run adversarial --out results

Per seed: an MLP (784-256-256-10) and a small CNN, each trained normally and with PGD adversarial
training (L-inf, eps 0.3, 10 steps), the number of training steps chosen among ``steps_grid`` on
a validation split carved from the training part (clean accuracy for standard training, PGD
robust accuracy at ``at_eps`` for PGD-AT); then 500 test images attacked under L-inf and L2 at
five budgets, beside the majority class (a constant predictor is perfectly robust).

Expected cost and result: not yet run end to end. The previous quick protocol (one seed, fixed
steps) took 9.3 minutes of CPU time; full is several times that per seed, about an hour of CPU
per seed on the 2-core machine, so about 3 hours for 3 seeds. Expected: standard models near 0%
robust accuracy at L-inf eps 0.3; PGD-trained ones keep far more, with FGSM >= PGD-10 >=
PGD-100 x5 >= APGD up to an example or two.

``--quick`` (the CPU demo): sklearn digits (1,437 training of which 15% validation / 360 test),
an MLP (64-256-256-10) and a CNN (16, 32), adversarial training at L-inf eps 0.1, all attacks on
the 360 test digits; measured numbers in the README. ``tiny`` (tests only): 300 digits, the MLP
only, a few steps, FGSM and PGD under L-inf.
"""

from __future__ import annotations

import ml_collections


def get_config(size: str = "full") -> ml_collections.ConfigDict:
    """Returns the config for ``size`` in ``("full", "quick", "tiny")``."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    cfg = ml_collections.ConfigDict()
    cfg.seeds = 3
    cfg.dataset = "mnist10k"  # mnist10k | digits
    cfg.n_limit = 0  # use only n_limit images (a seeded subset) when > 0
    cfg.n_train = 8000  # training part (the rest is the test split)
    cfg.val_fraction = 0.15  # of the training part: validation for the choice of steps
    cfg.n_val_attack = 500  # validation examples attacked to choose the PGD-AT steps
    cfg.n_attack = 500  # test examples attacked
    cfg.mlp_hidden = (256, 256)
    cfg.cnn_widths = (32, 64)
    cfg.steps_grid = (750, 1500)  # training steps, chosen on validation
    cfg.batch_size = 128
    cfg.learning_rate = 1e-3
    cfg.at_eps = 0.3  # PGD adversarial training budget (L-inf)
    cfg.at_steps = 10
    cfg.linf_eps = (0.0, 0.1, 0.2, 0.3, 0.4)
    cfg.l2_eps = (0.0, 1.0, 2.0, 3.0, 4.0)
    cfg.pgd_steps = 10
    cfg.strong_steps = 100
    cfg.restarts = 5
    cfg.apgd_steps = 100
    cfg.attack_batch = 250
    cfg.archs = ("mlp", "cnn")
    cfg.norms = ("linf", "l2")
    cfg.attacks = ("fgsm", "pgd", "pgd_restarts", "apgd_ce", "apgd_dlr")
    if size == "quick":
        cfg.seeds = 1
        cfg.dataset = "digits"
        cfg.n_train = 1437
        cfg.n_val_attack = 215
        cfg.n_attack = 360
        cfg.cnn_widths = (16, 32)
        cfg.steps_grid = (400, 800)
        cfg.at_eps = 0.1
        cfg.at_steps = 7
        cfg.linf_eps = (0.0, 0.05, 0.1, 0.2, 0.3)
        cfg.l2_eps = (0.0, 0.25, 0.5, 1.0, 1.5)
        cfg.restarts = 3
        cfg.attack_batch = 360
    elif size == "tiny":
        cfg.seeds = 1
        cfg.dataset = "digits"
        cfg.n_limit = 300
        cfg.n_train = 240
        cfg.val_fraction = 0.2
        cfg.n_val_attack = 40
        cfg.n_attack = 40
        cfg.mlp_hidden = (32,)
        cfg.cnn_widths = (4,)
        cfg.steps_grid = (3, 6)
        cfg.batch_size = 32
        cfg.at_eps = 0.1
        cfg.at_steps = 2
        cfg.linf_eps = (0.0, 0.3)
        cfg.l2_eps = (0.0, 1.0)
        cfg.pgd_steps = 2
        cfg.strong_steps = 3
        cfg.restarts = 2
        cfg.apgd_steps = 3
        cfg.attack_batch = 40
        cfg.archs = ("mlp",)
        cfg.norms = ("linf",)
        cfg.attacks = ("fgsm", "pgd")
    return cfg
