"""Config for ``experiments/localization.py``: softmax versus sigmoid localisation heads.

Command (full, 3 seeds)::

    xent-jax run protein-mlm --out results     # the pretraining (shared, see below)
    xent-jax run localization --out results

The masked LM is ``mlm`` (the ``protein-mlm`` config of the same size) trained with seed
``mlm_seed``; its run lives in protein-mlm's folder for that config and seed,
``results/protein-mlm/cache/<hash>/seed_<mlm_seed>/pretrain``, so whichever study runs first trains
it and the other reads it back (an override of any ``mlm.*`` key gives another folder). One
pretraining seed (PROTOCOL.md's exception); the 3 seeds of this study vary what is trained on top:
the 3,000 training proteins the heads are fitted on (a seeded subset of the 15,183) and the
untrained-Transformer control's initialisation. Each seed also gives a paired 95% bootstrap
interval over the test proteins for MLM minus composition.

Embeddings: mean over residues of the first 128 and the last 64 tokens, concatenated (256 numbers).
Heads: linear 13-way softmax and 12-way multi-label sigmoid (L-BFGS on our losses,
``xent_jax.eval.fit_linear_head``), L2 chosen on 600 fixed eval-split proteins, scored once on all
2,631 heldout proteins. Baseline: the same heads on the 20 amino-acid frequencies; control: the
same Transformer with random (untrained) weights.

Expected cost (full): the pretraining (see ``protein_mlm.py``) if it is not there yet, then per seed
about 5 minutes of embedding (6,231 proteins x 2 windows x 2 models on the quiet 2-core CPU, about
300 s measured on a loaded one for the MLM alone) and a minute of L-BFGS; about 20 minutes for 3
seeds. Previous single-seed result (old loop, 600-step MLM): softmax accuracy 0.399 (composition
0.403), sigmoid exact match 0.382 (composition 0.365).

``--quick``: the quick MLM, 600 / 200 / 400 proteins, one seed; ``tiny`` is the test size.
"""

from __future__ import annotations

from pathlib import Path

import ml_collections

from xent_jax.experiment import load_config


def get_config(size: str = "full") -> ml_collections.ConfigDict:
    """Returns the config for ``size`` in ``("full", "quick", "tiny")``."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    cfg = ml_collections.ConfigDict()
    cfg.seeds = 3
    cfg.mlm = load_config(Path(__file__).with_name("protein_mlm.py"), size)
    cfg.mlm_seed = 0  # the one pretraining seed (protein-mlm's seed 0)
    cfg.train_sequences = 3000  # drawn per seed from the train split (0 = all)
    cfg.val_sequences = 600  # a fixed subset of the eval split: L2 is chosen here
    cfg.test_sequences = 0  # the heldout split (0 = all 2,631)
    cfg.n_term = 128
    cfg.c_term = 64
    cfg.embed_rows = 64
    cfg.l2_grid = (1e-4, 1e-3, 1e-2, 1e-1)
    cfg.lbfgs_steps = 150
    cfg.random_control = True
    cfg.bootstrap_resamples = 1000
    if size == "quick":
        cfg.seeds = 1
        cfg.update(
            train_sequences=600, val_sequences=200, test_sequences=400, n_term=64, c_term=32,
            l2_grid=(1e-3, 1e-2, 1e-1), lbfgs_steps=100,
        )  # fmt: skip
    elif size == "tiny":
        cfg.seeds = 1
        cfg.update(
            train_sequences=60, val_sequences=20, test_sequences=30, n_term=32, c_term=16,
            embed_rows=32, l2_grid=(1e-2,), lbfgs_steps=20, random_control=False,
            bootstrap_resamples=100,
        )  # fmt: skip
    return cfg
