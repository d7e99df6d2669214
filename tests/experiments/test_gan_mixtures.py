"""Smoke test of the gan-mixtures experiment in tiny mode (and its resume cache)."""

import json

from xent_jax.cli import discover


def test_gan_mixtures_tiny(tmp_path):
    exp = discover()["gan-mixtures"]
    assert exp.order == 40
    module = exp.load()
    metrics = module.run(tmp_path, size="tiny", seed=0)
    assert set(metrics["table"]) == {
        "ring/non_saturating",
        "ring/minimax",
        "grid/non_saturating",
        "grid/minimax",
    }
    for key, row in metrics["table"].items():
        total = 8 if key.startswith("ring") else 25
        assert row["modes_total"] == total
        assert 0 <= row["modes_mean"] <= total
        assert 0.0 <= row["high_quality_mean"] <= 1.0
        assert len(row["modes_per_seed"]) == len(metrics["seeds"][key.split("/")[0]])
    assert (tmp_path / metrics["plot"]).stat().st_size > 1000
    line = module.headline(metrics)
    assert "ring NS" in line and "grid minimax" in line
    json.dumps(metrics)
    # A second run reuses the finished runs: identical numbers.
    again = module.run(tmp_path, size="tiny", seed=0)
    assert again["table"] == metrics["table"]
