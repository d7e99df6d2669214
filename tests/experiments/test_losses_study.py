"""The `losses` experiment at size tiny: protocol, sanity against references, plot, resume."""

from __future__ import annotations

import json


def test_losses_study_tiny(run_tiny):
    metrics, folder = run_tiny("losses")
    m = metrics["per_seed"][0]
    assert m["chosen_steps"] in (10, 20)  # chosen on validation
    assert m["n_train"] + m["n_val"] + m["n_test"] == 300
    assert m["test_accuracy"] > 0.5 > m["majority_baseline_accuracy"]  # beats chance (0.1)
    assert m["identity_max_rel_error"] < 1e-5
    assert m["gradient_max_abs_error"] < 1e-6 < m["gradient_max_abs"]
    assert (folder / "seed_0" / "training_curve.png").stat().st_size > 0
    assert "test acc" in metrics["headline"]
    assert json.loads((folder / "metrics.json").read_text())["headline"] == metrics["headline"]
    again, _ = run_tiny("losses")  # resumes from the cached checkpoints: the same numbers
    assert again["per_seed"] == metrics["per_seed"]
