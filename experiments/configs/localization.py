"""Config for ``experiments/localization.py``: softmax versus sigmoid localisation heads.

Command (full)::

    xent-jax run localization --out results

Uses the masked LM of ``results/protein-mlm`` (run ``xent-jax run protein-mlm --out results``
first, or ``xent-jax run all``); if it is absent, or was trained at another size, the MLM is
trained here at the same size (into ``results/localization/mlm``) and the metrics say so.
Embeddings: mean over residues of the first 128 and the last 64 tokens, concatenated (256
numbers). Heads: linear 13-way softmax and 12-way multi-label sigmoid, L-BFGS on our losses, L2
chosen on a 600-protein subset of the eval split; fitted on a fixed 3,000-protein subset of the
train split (to bound the embedding time on a shared CPU), scored on all 2,631 heldout proteins.
Baseline: the same heads on the 20 amino-acid frequencies; control: the same Transformer with
random (untrained) weights. Measured on the loaded 2-core CPU: 962 s (306 s embedding with the
MLM). Heldout: softmax accuracy 0.399 / macro-F1 0.230 (composition 0.403 / 0.162); sigmoid exact
match 0.382 / Jaccard 0.450 (composition 0.365 / 0.439); untrained Transformer 0.380 and 0.369.

``--quick`` uses the quick MLM and 600 / 200 / 400 proteins (about 1-3 minutes).
"""

from __future__ import annotations


def get_config(size: str = "full") -> dict:
    """Returns the config for ``size`` in ``("full", "quick", "tiny")``."""
    if size == "full":
        return dict(
            train_sequences=3000,
            val_sequences=600,
            test_sequences=None,
            n_term=128,
            c_term=64,
            embed_rows=64,
            l2_grid=(1e-4, 1e-3, 1e-2, 1e-1),
            lbfgs_steps=150,
            random_control=True,
        )
    if size == "quick":
        return dict(
            train_sequences=600,
            val_sequences=200,
            test_sequences=400,
            n_term=64,
            c_term=32,
            embed_rows=64,
            l2_grid=(1e-3, 1e-2, 1e-1),
            lbfgs_steps=100,
            random_control=True,
        )
    if size == "tiny":
        return dict(
            train_sequences=60,
            val_sequences=20,
            test_sequences=30,
            n_term=32,
            c_term=16,
            embed_rows=32,
            l2_grid=(1e-2,),
            lbfgs_steps=20,
            random_control=False,
        )
    raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
