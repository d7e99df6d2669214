"""Smoke test of the gan-materials experiment in tiny mode on a subset of the real data."""

import json

import numpy as np

from xent_jax.cli import discover


def test_gan_materials_tiny(tmp_path, shared_data):
    shared_data("supercon", "composition_train.csv.gz")
    exp = discover()["gan-materials"]
    assert exp.order == 50
    module = exp.load()
    metrics = module.run(tmp_path, size="tiny", seed=0)
    assert metrics["n_test"] == 80 and metrics["n_train"] == 320
    res = metrics["results"]
    assert set(res) == {"real (train)", "GAN", "naive", "real (held-out)"}
    for label in ("real (train)", "GAN", "naive"):
        r = res[label]
        for k in ("novelty", "uniqueness", "two_sample_accuracy"):
            assert 0.0 <= r[k] <= 1.0
        assert r["marginal_kl"] >= 0 and r["two_sample_cross_entropy"] > 0
        np.testing.assert_allclose(sum(r["n_elements_distribution"]), 1.0, atol=1e-9)
    assert isinstance(metrics["gan_beats_naive"], bool)
    assert (tmp_path / metrics["plot"]).exists()
    assert "naive" in module.headline(metrics)
    json.dumps(metrics)


def test_round_compositions():
    module = discover()["gan-materials"].load()
    x = np.array([[0.333, 0.001, 0.666] + [0.0] * 83])
    r = module.round_compositions(x, 2)
    # Normalised: [0.333, 0.001, 0.666] -> rounded [0.33, 0.00, 0.67] -> renormalised (sum 1).
    np.testing.assert_allclose(r[0, :3], [0.33, 0.0, 0.67], atol=1e-6)
    assert r[0, 3:].sum() == 0
