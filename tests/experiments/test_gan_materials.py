"""The gan-materials experiment at size tiny on real data; its leak-free split and rounding."""

from __future__ import annotations

import json

import numpy as np

from xent_jax.experiment import discover


def _module():
    return discover()["gan-materials"].load()


def test_gan_materials_tiny(run_tiny, shared_data):
    shared_data("supercon", "composition_train.csv.gz")
    metrics, folder = run_tiny("gan-materials")
    (m,) = metrics["per_seed"]
    assert m["n_rows"] == 400 and m["n_train"] + m["n_test"] == 400
    # the loader's counts: every row of the file read, kept or dropped as a duplicate formula
    assert m["data"] == {"read": 19137, "kept": 14162, "dropped": 4975,
                         "dropped_duplicate_formula": 4975}  # fmt: skip
    assert 70 <= m["n_test"] <= 100  # 20%, whole compositions
    assert m["n_compositions"] + m["n_rows_sharing_a_composition"] == 400
    res = m["sets"]
    assert set(res) == {"real_train", "gan", "naive", "real_heldout"}
    assert res["real_heldout"]["novelty"] == 1.0  # leak-free: no held-out composition in training
    for label in ("real_train", "gan", "naive"):
        r = res[label]
        for k in ("novelty", "uniqueness", "two_sample_accuracy"):
            assert 0.0 <= r[k] <= 1.0
        assert r["marginal_kl"] >= 0 and r["two_sample_cross_entropy"] > 0
        np.testing.assert_allclose(sum(r["n_elements_distribution"]), 1.0, atol=1e-9)
    gap = res["gan"]["two_sample_accuracy"] - res["naive"]["two_sample_accuracy"]
    assert m["gan_minus_naive_two_sample_accuracy"] == gap and m["gan_beats_naive"] == (gap < 0)
    assert len(m["examples"]) == 12 and np.isfinite(m["train"]["g_loss"])
    assert (folder / "seed_0" / "gan_materials_marginals.png").stat().st_size > 1000
    assert (folder / "gan_materials_two_sample.png").stat().st_size > 1000
    assert "naive" in metrics["headline"]
    assert json.loads((folder / "metrics.json").read_text())["headline"] == metrics["headline"]
    again, _ = run_tiny("gan-materials")  # resumes the GAN, reads the cached evaluation
    assert again["per_seed"] == metrics["per_seed"]


def test_split_by_composition_keeps_each_composition_on_one_side():
    split = _module().split_by_composition
    rng = np.random.default_rng(0)
    keys = [f"k{v}" for v in rng.integers(0, 30, size=200)]
    train, test = split(keys, test_fraction=0.25, seed=1)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(200))
    assert not {keys[i] for i in train} & {keys[i] for i in test}
    assert 50 <= len(test) < 50 + max(np.unique(keys, return_counts=True)[1])
    again = split(keys, test_fraction=0.25, seed=1)
    assert all((a == b).all() for a, b in zip((train, test), again, strict=True))


def test_round_compositions():
    x = np.array([[0.333, 0.001, 0.666] + [0.0] * 83])
    r = _module().round_compositions(x, 2)
    # Normalised: [0.333, 0.001, 0.666] -> rounded [0.33, 0.00, 0.67] -> renormalised (sum 1).
    np.testing.assert_allclose(r[0, :3], [0.33, 0.0, 0.67], atol=1e-6)
    assert r[0, 3:].sum() == 0
