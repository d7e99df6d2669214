"""Config for ``experiments/losses_study.py``: softmax regression on sklearn digits with our loss.

Command (full, 3 seeds)::

    xent-jax run losses --out results

Trains multinomial logistic regression (64 pixels -> 10 classes, pixels scaled to [0, 1]) on a
seeded random split of the 1,797 sklearn digits (75% train, of which 20% is carved off as
validation; 25% test) with full-batch Adam, using ``softmax_cross_entropy_with_integer_labels``
and ``reduce_loss``. The number of steps is chosen on validation among ``steps_grid``; the test
split is read once, at the end, with the chosen model. Then checks, on the test predictions, the
identity H(p, q) = H(p) + KL(p || q) and that ``jax.grad`` of our mean loss equals
X^T (softmax - onehot) / N.

Expected runtime and result: see the README table (measured numbers are written there by a run
of this config; re-running resumes from ``results/losses/cache``). ``--quick`` is one seed;
``tiny`` (tests) uses 300 examples and 20 steps.
"""

from __future__ import annotations

import ml_collections


def get_config(size: str = "full") -> ml_collections.ConfigDict:
    """Returns the config for ``size`` in ``("full", "quick", "tiny")``."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    cfg = ml_collections.ConfigDict()
    cfg.seeds = 3
    cfg.steps = 500  # the longest run; checkpoints at steps_grid are compared on validation
    cfg.steps_grid = (100, 200, 300, 500)
    cfg.learning_rate = 0.05
    cfg.test_fraction = 0.25
    cfg.val_fraction = 0.2  # of the training part
    cfg.n_limit = 0
    cfg.label_smoothing = 0.1
    cfg.log_every = 10
    if size == "quick":
        cfg.seeds = 1
        cfg.steps = 300
        cfg.steps_grid = (100, 200, 300)
    elif size == "tiny":
        cfg.seeds = 1
        cfg.steps = 20
        cfg.steps_grid = (10, 20)
        cfg.n_limit = 300
        cfg.log_every = 5
    return cfg
