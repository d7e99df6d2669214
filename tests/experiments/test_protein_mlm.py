"""The `protein-mlm` experiment at size tiny through the kit: metrics, baselines, figure, re-run."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("scldata")


def test_protein_mlm_tiny(run_tiny):
    metrics, folder = run_tiny("protein-mlm")
    m = metrics["per_seed"][0]
    h = m["heldout"]
    assert h["sequences"] == 8 and h["tokens"] > 0
    for name in ("perplexity", "unigram_perplexity", "shuffled_context_perplexity"):
        assert math.isfinite(h[name]) and 1.0 < h[name] < 60
        assert h[f"{name}_low"] <= h[name] * (1 + 1e-5) and h[name] <= h[f"{name}_high"] * (
            1 + 1e-5
        )
    assert h["order_gain_low"] <= h["order_gain_high"]
    assert 1.0 < h["train_style_perplexity"] < 60
    assert 15.0 < m["heldout_unigram_perplexity_all_residues"] < 21.0
    assert m["rare_residues_in_train"]["X"] > 0
    assert m["tokens_per_s_median"] > 0 and m["train_tokens_seen"] > 0
    assert m["resumed_from"] == 0
    assert (folder / "seed_0" / "perplexity.png").stat().st_size > 0
    assert "honest masked ppl" in metrics["headline"] and "bootstrap" in metrics["headline"]
    assert json.loads((folder / "config.json").read_text())["config"]["steps"] == 6
    again, _ = run_tiny("protein-mlm")  # the finished run is read back, the evaluation cached
    assert again["per_seed"][0]["heldout"] == h
    assert again["per_seed"][0]["resumed_from"] == 6
