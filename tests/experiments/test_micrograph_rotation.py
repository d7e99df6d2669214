"""The `micrographs` experiment at size tiny on the real shared micrographs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xent_jax.data.micrographs import specimen_of


def test_micrographs_tiny(run_tiny, shared_data):
    shared_data("micrographs", "manifest.csv")
    metrics, folder = run_tiny("micrographs")
    m = metrics["per_seed"][0]
    assert m["chance_rotation_accuracy"] == 0.25
    for material in ("superalloy", "ebc"):
        r = m[material]
        # split by specimen: no specimen (hence no image) on both sides
        train = {specimen_of(n) for n in r["train_images"]}
        test = {specimen_of(n) for n in r["test_images"]}
        assert train and test and not train & test
        assert r["n_train_specimens"] == len(train)
        n = len(r["train_images"]) + len(r["test_images"])
        assert r["data"] == {"read": n, "kept": n, "dropped": 0}  # the manifest rows, counted
        assert (
            0.0 <= r["rotation_accuracy"] <= 1.0 and len(r["rotation_accuracy_per_rotation"]) == 4
        )
        assert r["rotation_accuracy"] == pytest.approx(np.mean(r["rotation_accuracy_per_rotation"]))
        assert set(r["r2"]) == {"rotation", "random", "histogram", "train_mean"}
        assert all(math.isfinite(v) and v <= 1.0 for v in r["r2"].values())
        assert r["r2"]["train_mean"] <= 0.0  # the constant predictor cannot beat the test mean
        assert r["rotation_minus_random_r2"] == pytest.approx(
            r["r2"]["rotation"] - r["r2"]["random"]
        )
        assert 0.0 < r["test_fraction_mean"] < 1.0
        assert metrics["summary"][f"{material}/r2/rotation"]["n"] == 1
    assert (folder / "seed_0" / "example_rotations.png").stat().st_size > 1000
    assert (folder / "r2_bars.png").stat().st_size > 1000
    assert "| ebc |" in (folder / "REPORT.md").read_text()
    line = metrics["headline"]
    assert "superalloy" in line and "ebc" in line
    again, _ = run_tiny("micrographs")  # checkpoints at the last step: no retraining
    assert again["per_seed"] == metrics["per_seed"]


def test_missing_data_names_the_file(run_tiny, tmp_path, empty_data):
    with pytest.raises(FileNotFoundError, match="micrographs.*xent-jax data fetch micrographs"):
        run_tiny("micrographs", out=tmp_path / "out")
