"""The gan-mixtures experiment at size tiny: metrics, figures, resume, vmapped = separate seeds."""

from __future__ import annotations

import json

import numpy as np

SETTINGS = ["ring/non_saturating", "ring/minimax", "grid/non_saturating", "grid/minimax"]
ONE = ["mixtures=('ring',)", "losses=('minimax',)"]


def _setting(per_seed, path):
    name, loss = path.split("/")
    return per_seed[name][loss]


def test_gan_mixtures_tiny(run_tiny):
    metrics, folder = run_tiny("gan-mixtures")
    (m,) = metrics["per_seed"]
    for path in SETTINGS:
        row = _setting(m, path)
        total = 8 if path.startswith("ring") else 25
        assert row["modes_total"] == total and 0 <= row["modes"] <= total
        assert 0.0 <= row["high_quality"] <= 1.0
        assert np.isfinite(row["d_loss"]) and np.isfinite(row["g_loss"])
        assert 0.0 < row["d_real"] < 1.0 and 0.0 < row["d_fake"] < 1.0
        assert metrics["summary"][f"{path}/modes"]["mean"] == row["modes"]
    assert (folder / "seed_0" / "gan_mixtures_scatter.png").stat().st_size > 1000
    assert (folder / "gan_mixtures_coverage.png").stat().st_size > 1000
    line = metrics["headline"]
    assert "ring NS" in line and "grid minimax" in line and "/25 modes" in line
    assert json.loads((folder / "metrics.json").read_text())["headline"] == line
    assert json.loads((folder / "config.json").read_text())["config"]["ring"]["steps"] == 20
    again, _ = run_tiny("gan-mixtures")  # every GAN resumes from its finished checkpoint
    assert again["per_seed"] == metrics["per_seed"]


def test_vmapped_seeds_equal_separate_runs(run_tiny, tmp_path):
    """--seeds 2 trains both seeds as one vmapped program (run_seeds); each equals its own run."""
    both, _ = run_tiny("gan-mixtures", seeds=2, overrides=ONE, out=tmp_path / "vmapped")
    assert both["seeds"] == [0, 1] and len(both["per_seed"]) == 2
    iv = both["summary"]["ring/minimax/g_loss"]
    assert iv["n"] == 2 and iv["low"] < iv["mean"] < iv["high"]
    for seed, got in enumerate(both["per_seed"]):
        alone, _ = run_tiny("gan-mixtures", first_seed=seed, seeds=1, overrides=ONE,
                            out=tmp_path / f"seed{seed}")  # fmt: skip
        want = alone["per_seed"][0]["ring"]["minimax"]
        row = got["ring"]["minimax"]
        assert set(row) == set(want)
        for k, v in want.items():
            np.testing.assert_allclose(row[k], v, rtol=1e-5, atol=1e-5, err_msg=k)
    a, b = (np.asarray(m["ring"]["minimax"]["g_loss"]) for m in both["per_seed"])
    assert a != b  # the seeds differ
