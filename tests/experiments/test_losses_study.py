"""The `losses` experiment at size tiny: metrics keys, sanity, plot, resume."""

from __future__ import annotations

import json

import pytest

from xent_jax.cli import discover


@pytest.fixture(scope="module")
def study():
    return discover()["losses"].load()


def test_losses_study_tiny(study, tmp_path):
    metrics = study.run(tmp_path, size="tiny")
    json.dumps(metrics)
    for key in (
        "test_accuracy",
        "identity_max_abs_error",
        "identity_max_rel_error",
        "gradient_max_abs_error",
        "train_loss",
    ):
        assert key in metrics
    assert metrics["test_accuracy"] > 0.5  # 20 Adam steps on 225 digits already beat chance (0.1)
    assert metrics["identity_max_rel_error"] < 1e-5
    assert metrics["gradient_max_abs_error"] < 1e-6 < metrics["gradient_max_abs"]
    assert (tmp_path / "training_curve.png").stat().st_size > 0
    assert "test acc" in study.headline(metrics)
    again = study.run(tmp_path, size="tiny")  # resumes from the final checkpoint
    assert again["test_accuracy"] == metrics["test_accuracy"]
