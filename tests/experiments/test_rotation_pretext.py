"""The `rotation` experiment at size tiny: protocol, baselines, figures, cache, kill -9, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

METHODS = ("rotation_probe", "random_probe", "scratch")


def test_rotation_tiny(run_tiny):
    metrics, folder = run_tiny("rotation")
    m = metrics["per_seed"][0]
    assert m["n_fit"] + m["n_val"] + m["n_test"] == 400 and m["n_val"] == 60
    assert 0.0 <= m["rotation_accuracy"] <= 1.0 and len(m["rotation_accuracy_per_angle"]) == 4
    assert m["rotation_accuracy"] == pytest.approx(np.mean(m["rotation_accuracy_per_angle"]))
    assert list(m["budgets"]) == ["1", "all"]
    cfg = json.loads((folder / "config.json").read_text())["config"]
    for budget, draws in (("1", cfg["draws"]), ("all", 1)):
        b = m["budgets"][budget]
        for method in METHODS:
            r = b[method]
            assert len(r["draws"]) == draws and r["accuracy"] == pytest.approx(np.mean(r["draws"]))
        # the choices come from the validation grids
        for method in ("rotation_probe", "random_probe"):
            assert b[method]["l2"] in cfg["probe_l2_grid"]
        grid = cfg["scratch_steps_grid"] if budget == "1" else cfg["scratch_steps_grid_all"]
        assert set(b["scratch"]["steps"]) <= set(grid)
    # all labels: a linear probe on any conv features beats the majority class by far
    assert m["budgets"]["all"]["random_probe"]["accuracy"] > 0.5 > m["majority_accuracy"]
    # intervals in the summary for every numeric per-seed metric, the headline from them
    assert "budgets/1/rotation_probe/accuracy" in metrics["summary"]
    assert "rotation acc" in metrics["headline"] and "majority" in metrics["headline"]
    assert (folder / "accuracy_vs_labels.png").stat().st_size > 1000
    assert (folder / "seed_0" / "pretraining.png").stat().st_size > 1000
    assert "| all |" in (folder / "REPORT.md").read_text()
    # per-seed caches live under the config+seed key
    cache = folder / "cache" / metrics["config_hash"] / "seed_0"
    assert (cache / "budget_1.json").exists() and (cache / "features.npz").exists()
    again, _ = run_tiny("rotation")  # checkpoints and caches: the same numbers
    assert again["per_seed"] == metrics["per_seed"]
    other, _ = run_tiny("rotation", seeds=2)  # the same folder: seed 0 cached, seed 1 new
    assert other["seeds"] == [0, 1] and other["per_seed"][0] == metrics["per_seed"][0]
    assert other["per_seed"][1]["budgets"] != metrics["per_seed"][0]["budgets"]  # not reused


def _without_timings(value):
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if k != "wall_seconds" and not k.endswith(("_seconds", "_per_s"))
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.slow
def test_rotation_killed_with_sigkill_resumes_to_the_same_metrics(tmp_path, run_tiny):
    """`xent-jax run rotation --tiny`, kill -9 after the first checkpoint, rerun: same metrics."""
    out = tmp_path / "cut"
    cmd = [sys.executable, "-m", "xent_jax.cli", "run", "rotation", "--tiny", "--out", str(out),
           "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 300
    while not any(p.name.isdigit() for p in out.glob("rotation/cache/*/seed_0/*/checkpoints/*")):
        assert time.monotonic() < end, "no checkpoint appeared"
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()}"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "rotation" / "metrics.json").exists()  # killed midway
    resumed = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    reference, _ = run_tiny("rotation", out=tmp_path / "ref")  # uninterrupted, meanwhile
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    got = json.loads((out / "rotation" / "metrics.json").read_text())
    want = json.loads(json.dumps(reference))
    assert _without_timings(got) == _without_timings(want)
