"""Smoke test of `xent-jax run localization` at tiny size, reusing a protein-mlm run."""

from __future__ import annotations

import pytest

from xent_jax.cli import discover

pytest.importorskip("scldata")


def test_localization_tiny_reuses_mlm(tmp_path):
    experiments = discover()
    experiments["protein-mlm"].load().run(tmp_path / "protein-mlm", size="tiny", seed=0)
    module = experiments["localization"].load()
    metrics = module.run(tmp_path / "localization", size="tiny", seed=0)
    assert metrics["mlm_source"].startswith("loaded from")
    for feats in ("composition", "mlm"):
        for head in ("softmax", "sigmoid"):
            res = metrics["results"][feats][head]
            assert 0.0 <= res["exact_match"] <= 1.0 and 0.0 <= res["jaccard"] <= 1.0
            assert len(res["per_label_f1"]) == 12
        assert 0.0 <= metrics["results"][feats]["softmax"]["accuracy"] <= 1.0
    assert metrics["sizes"] == {"train": 60, "val": 20, "test": 30}
    assert (tmp_path / "localization" / "localization.png").stat().st_size > 0
    assert "softmax acc" in module.headline(metrics)
