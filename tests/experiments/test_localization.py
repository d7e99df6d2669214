"""The `localization` experiment: its head comparison, and a tiny run sharing protein-mlm's MLM."""

from __future__ import annotations

import numpy as np
import pytest

from xent_jax.eval import class_sets
from xent_jax.experiment import discover


def test_compare_heads_on_separable_data():
    compare_heads = discover()["localization"].load().compare_heads
    classes, locations = ("A", "A;B", "B", "C"), ("A", "B", "C")
    rng = np.random.default_rng(2)
    feats, ids, hots = {}, {}, {}
    for split, n in (("train", 400), ("val", 100), ("test", 200)):
        y = rng.integers(0, 4, n)
        feats[split] = (np.eye(4)[y] * 3 + rng.normal(0, 0.3, (n, 4))).astype(np.float32)
        ids[split] = y
        hots[split] = class_sets(classes, locations)[y].astype(np.float32)
    out, pred = compare_heads(
        feats, ids, hots, class_names=classes, locations=locations, l2_grid=(1e-3, 1.0), steps=100
    )
    assert out["softmax"]["accuracy"] > 0.95 and out["softmax"]["exact_match"] > 0.95
    assert out["sigmoid"]["exact_match"] > 0.9
    assert out["softmax"]["multi_predicted_several"] > 0.9  # "A;B" is predicted as a set
    assert out["softmax"]["l2"] == 1e-3  # the smaller penalty wins on validation
    np.testing.assert_array_equal(pred["softmax"] == ids["test"], pred["softmax"] == ids["test"])
    assert out["softmax"]["accuracy"] == pytest.approx(np.mean(pred["softmax"] == ids["test"]))
    assert pred["sigmoid"].shape == (200, 3) and pred["sigmoid"].any(1).all()


def test_localization_tiny_shares_the_protein_mlm_pretraining(run_tiny):
    pytest.importorskip("scldata")
    metrics, folder = run_tiny("localization")
    m = metrics["per_seed"][0]
    assert m["mlm_source"].startswith("trained (new in protein-mlm/cache/")
    for feats in ("composition", "mlm"):
        for head in ("softmax", "sigmoid"):
            res = m[feats][head]
            assert 0.0 <= res["exact_match"] <= 1.0 and 0.0 <= res["jaccard"] <= 1.0
            assert len(res["per_label_f1"]) == 12 and res["l2"] == 1e-2
        assert 0.0 <= m[feats]["softmax"]["accuracy"] <= 1.0
    gain = m["mlm_minus_composition"]["softmax_accuracy"]
    want = m["mlm"]["softmax"]["accuracy"] - m["composition"]["softmax"]["accuracy"]
    assert gain["mean"] == pytest.approx(want, abs=1e-6) and gain["low"] <= gain["high"]
    assert m["sizes"] == {"train": 60, "val": 20, "test": 30}
    assert (folder / "localization.png").stat().st_size > 0
    assert "softmax acc" in metrics["headline"] and "1 pretraining seed" in metrics["headline"]


@pytest.mark.slow
def test_localization_and_protein_mlm_read_the_shared_pretraining_back(run_tiny):
    pytest.importorskip("scldata")
    metrics, _ = run_tiny("localization")
    m = metrics["per_seed"][0]
    # protein-mlm with the same --out reads the same pretraining back instead of training
    mlm, _ = run_tiny("protein-mlm")
    assert mlm["per_seed"][0]["resumed_from"] == 6
    again, _ = run_tiny("localization")  # and a re-run reads it back, features cached
    assert again["per_seed"][0]["mlm_source"].startswith("read back (found")
    assert again["per_seed"][0]["mlm"] == m["mlm"]
