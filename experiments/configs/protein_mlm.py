"""Config for ``experiments/protein_mlm.py``: masked amino-acid prediction on SCL2205 proteins.

Command (full)::

    xent-jax run protein-mlm --out results

A 3-layer, d=128 pre-LN Transformer (0.62M parameters) trained on random 128-residue crops of the
15,183 train-split sequences (length-bucketed 32/64/128, 4,096 tokens per batch, 15% of residues
masked 80/10/10, AdamW, warm-up then cosine), 600 steps = 2.4M residue tokens; scored on 500 fixed
heldout proteins (honest mask, unigram baseline on the same positions, shuffled-context control,
training-style corruption). One pretraining seed (``seeds = 1``: the PROTOCOL.md exception for a
pretraining run over 20 minutes on the 2-core CPU); the headline interval is a 95% percentile
bootstrap over the heldout proteins. What is trained on top (``localization``) uses 3 seeds.

Expected cost: about 2.4M tokens / 9.7k tokens/s = 4-5 minutes of training on the quiet 2-core CPU
(about 40 minutes at the ~1k tokens/s of a heavily loaded one), plus about a minute of compiles and
evaluation. Result of the previous loop on the same config: heldout honest perplexity 17.30 vs
unigram 18.15 on the same positions, shuffled-context control 17.31. Re-running the same command
resumes (or reads back) the run in ``results/protein-mlm/cache``.

``--quick`` (d=64, 2 layers, 64-residue crops, 150 steps, 3,000 train / 40 val / 150 heldout
proteins) only checks that the pipeline works (perplexity stays near the unigram level); ``tiny``
is the test size.
"""

from __future__ import annotations

import ml_collections


def get_config(size: str = "full") -> ml_collections.ConfigDict:
    """Returns the config for ``size`` in ``("full", "quick", "tiny")``."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    cfg = ml_collections.ConfigDict()
    cfg.seeds = 1  # one pretraining seed (PROTOCOL.md exception) + bootstrap over proteins
    # model
    cfg.d_model = 128
    cfg.num_layers = 3
    cfg.num_heads = 4
    cfg.mlp_dim = 512
    cfg.max_len = 128
    # data and batches
    cfg.train_sequences = 0  # 0 = the whole train split
    cfg.val_sequences = 150  # a fixed subset of the eval split (validation curve)
    cfg.heldout_sequences = 500  # a fixed subset of the heldout split (the test set)
    cfg.boundaries = (32, 64, 128)
    cfg.tokens_per_batch = 4096
    cfg.mask_rate = 0.15
    # optimisation
    cfg.steps = 600
    cfg.learning_rate = 3e-3
    cfg.warmup_steps = 100
    cfg.final_lr_fraction = 0.05
    cfg.weight_decay = 0.01
    cfg.steps_per_call = 1  # a Transformer step is long: chunks save nothing, shapes recompile
    # logging, validation, checkpoints, evaluation
    cfg.log_every = 25
    cfg.eval_every = 250
    cfg.checkpoint_every = 50
    cfg.eval_max_len = 128
    cfg.bootstrap_resamples = 1000
    if size == "quick":
        cfg.update(
            d_model=64, num_layers=2, num_heads=4, mlp_dim=256, max_len=64,
            train_sequences=3000, val_sequences=40, heldout_sequences=150, boundaries=(32, 64),
            tokens_per_batch=2048, steps=150, warmup_steps=20, log_every=10, eval_every=50,
            checkpoint_every=50, eval_max_len=64,
        )  # fmt: skip
    elif size == "tiny":
        cfg.update(
            d_model=16, num_layers=1, num_heads=2, mlp_dim=32, max_len=32,
            train_sequences=40, val_sequences=5, heldout_sequences=8, boundaries=(32,),
            tokens_per_batch=256, steps=6, learning_rate=1e-3, warmup_steps=2, log_every=2,
            eval_every=4, checkpoint_every=3, eval_max_len=32, bootstrap_resamples=100,
        )  # fmt: skip
    return cfg
