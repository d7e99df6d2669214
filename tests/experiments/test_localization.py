"""Smoke test of `xent-jax run localization` at tiny size (it trains its own tiny MLM)."""

from __future__ import annotations

import pytest

from xent_jax.cli import discover

pytest.importorskip("scldata")


def test_localization_tiny_trains_missing_mlm(tmp_path):
    module = discover()["localization"].load()
    metrics = module.run(tmp_path / "localization", size="tiny", seed=0)
    assert metrics["mlm_source"].startswith("trained here")
    assert (tmp_path / "localization" / "mlm" / "checkpoints").is_dir()
    for feats in ("composition", "mlm"):
        for head in ("softmax", "sigmoid"):
            res = metrics["results"][feats][head]
            assert 0.0 <= res["exact_match"] <= 1.0 and 0.0 <= res["jaccard"] <= 1.0
            assert len(res["per_label_f1"]) == 12
        assert 0.0 <= metrics["results"][feats]["softmax"]["accuracy"] <= 1.0
    assert metrics["sizes"] == {"train": 60, "val": 20, "test": 30}
    assert (tmp_path / "localization" / "localization.png").stat().st_size > 0
    assert "softmax acc" in module.headline(metrics)
