"""Smoke test of `xent-jax run protein-mlm` at tiny size."""

from __future__ import annotations

import math

import pytest

from xent_jax.cli import discover

pytest.importorskip("scldata")


def test_protein_mlm_tiny(tmp_path):
    module = discover()["protein-mlm"].load()
    metrics = module.run(tmp_path, size="tiny", seed=0)
    for key in (
        "heldout_honest_perplexity",
        "heldout_unigram_perplexity_same_positions",
        "heldout_shuffled_context_perplexity",
        "heldout_train_style_perplexity",
        "tokens_per_s_median",
        "rare_residues_in_train",
    ):
        assert key in metrics
    assert 1.0 < metrics["heldout_honest_perplexity"] < 60 and math.isfinite(
        metrics["heldout_honest_perplexity"]
    )
    assert 15.0 < metrics["heldout_unigram_perplexity_all_residues"] < 21.0
    assert metrics["rare_residues_in_train"]["X"] > 0
    assert (tmp_path / "perplexity.png").stat().st_size > 0
    assert (tmp_path / "checkpoints").is_dir()
    assert "honest masked ppl" in module.headline(metrics)
