"""Smoke test of the micrographs experiment at tiny size on the real shared micrographs."""

from __future__ import annotations

import json
import math

import pytest

from xent_jax._paths import data_root
from xent_jax.cli import discover


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    manifest = data_root() / "micrographs" / "manifest.csv"
    if not manifest.exists():  # as conftest.require_data, usable from a module-scoped fixture
        pytest.skip(f"needs shared data file {manifest} (set XENT_DATA or put ../shared/data)")
    module = discover()["micrographs"].load()
    out = tmp_path_factory.mktemp("micrographs")
    return module, out, module.run(out, size="tiny", seed=0)


def test_tiny_run_metrics_and_plots(tiny_run):
    module, out, metrics = tiny_run
    assert set(metrics["materials"]) == {"superalloy", "ebc"}
    for m in metrics["materials"].values():
        assert 0.0 <= m["rotation_accuracy"] <= 1.0
        assert set(m["r2"]) == {"rotation", "random", "histogram"}
        assert all(math.isfinite(v) and v <= 1.0 for v in m["r2"].values())
        run = m["runs"][0]
        assert not set(run["train_images"]) & set(run["test_images"])  # split by image
        assert len(run["rotation_accuracy_per_rotation"]) == 4
        assert 0.0 < run["test_fraction_mean"] < 1.0
    assert (out / "example_rotations.png").stat().st_size > 0
    assert (out / "r2_bars.png").stat().st_size > 0
    assert (out / "ckpt" / "ebc_seed0").is_dir()
    json.dumps(metrics)  # JSON-serialisable as the CLI writes it
    line = module.headline(metrics)
    assert "superalloy" in line and "ebc" in line


def test_rerun_resumes_from_checkpoint_with_same_numbers(tiny_run):
    module, out, metrics = tiny_run
    again = module.run(out, size="tiny", seed=0)  # checkpoints at the last step: no retraining
    for name, m in metrics["materials"].items():
        assert again["materials"][name]["rotation_accuracy"] == m["rotation_accuracy"]
        assert again["materials"][name]["r2"] == m["r2"]


def test_missing_data_names_the_file(tmp_path, monkeypatch):
    module = discover()["micrographs"].load()
    monkeypatch.setenv("XENT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="micrographs/manifest.csv"):
        module.run(tmp_path / "out", size="tiny")
