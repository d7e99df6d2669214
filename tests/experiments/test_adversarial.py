"""The `adversarial` experiment at size tiny: steps on validation, curves, baseline, caches."""

from __future__ import annotations

import json

from xent_jax.experiment import discover


def test_adversarial_tiny(run_tiny):
    metrics, folder = run_tiny("adversarial")
    m = metrics["per_seed"][0]
    cfg = json.loads((folder / "config.json").read_text())["config"]
    assert m["dataset"] == "digits" and m["n_attack"] == 40
    assert m["n_fit"] + m["n_val"] + m["n_test"] == 300
    assert 0.0 < m["majority_accuracy"] < 0.3
    assert set(m["models"]) == {"mlp_standard", "mlp_pgd_at"}
    for res in m["models"].values():
        assert res["steps"] in cfg["steps_grid"]  # chosen on validation
        assert res["val_score"] == max(res["val_scores"])
        assert 0.0 <= res["clean_accuracy"] <= 1.0
        curves = res["curves"]["linf"]
        assert set(curves) == {"FGSM", "PGD-2", "worst case"}
        for acc in curves.values():
            assert len(acc) == len(cfg["linf_eps"]) and all(0.0 <= a <= 1.0 for a in acc)
            assert acc[0] >= acc[-1]  # more budget never helps the model
        # the worst case over attacks is at most every single attack; eps 0 is clean accuracy
        for name in ("FGSM", "PGD-2"):
            assert all(w <= a for w, a in zip(curves["worst case"], curves[name], strict=True))
        assert curves["FGSM"][0] == curves["PGD-2"][0] == curves["worst case"][0]
        assert res["worst_linf"] == {"0": curves["worst case"][0], "0.3": curves["worst case"][1]}
        assert isinstance(res["ordering_linf"], bool)
    assert "models/mlp_pgd_at/worst_linf/0.3" in metrics["summary"]
    assert (folder / "robustness.png").stat().st_size > 1000
    assert "| mlp_pgd_at |" in (folder / "REPORT.md").read_text()
    assert "MLP" in metrics["headline"] and "majority" in metrics["headline"]
    cache = folder / "cache" / metrics["config_hash"] / "seed_0"
    assert (cache / "mlp_pgd_at.json").exists()
    again, _ = run_tiny("adversarial")  # resumes from the per-seed caches: the same numbers
    assert again["per_seed"] == metrics["per_seed"]
    other, _ = run_tiny("adversarial", first_seed=1)  # the same folder, another seed
    assert other["per_seed"][0]["models"] != m["models"]  # another seed is never a cache hit


def test_ordering_helper():
    module = discover()["adversarial"].load()
    good = {"FGSM": [1.0, 0.5], "PGD": [1.0, 0.4], "APGD-CE": [1.0, 0.3], "APGD-DLR": [1.0, 0.35]}
    assert module.ordering_holds(good)
    bad = dict(good, PGD=[1.0, 0.6])
    assert not module.ordering_holds(bad)
    assert module.ordering_holds(bad, tolerance=0.2)
