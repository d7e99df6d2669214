"""The rotation experiment at size tiny: metrics, plot, report, and resume of a finished run."""

from __future__ import annotations

import json

import pytest

from xent_jax.cli import discover


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rotation")
    module = discover()["rotation"].load()
    return module, out, module.run(out, size="tiny", seed=0)


def test_tiny_run_metrics_and_files(tiny_run):
    module, out, metrics = tiny_run
    assert metrics["dataset"] == "digits" and metrics["n_train"] == 300
    assert 0.0 <= metrics["rotation_accuracy"] <= 1.0
    assert len(metrics["rotation_accuracy_per_angle"]) == 4
    lpcs = [s["labels_per_class"] for s in metrics["settings"]]
    assert lpcs == [1, "all"]
    for s in metrics["settings"]:
        for k in ("rotation_probe", "random_probe", "scratch"):
            assert 0.0 <= s[k]["mean"] <= 1.0 and len(s[k]["runs"]) == s["draws"]
    # All labels: a linear probe on any 8x8 conv features beats chance (10%) by far.
    assert metrics["random_probe_acc_all"] > 0.5
    assert (out / "accuracy_vs_labels.png").stat().st_size > 1000
    report = (out / "REPORT.md").read_text()
    assert "| 1 |" in report and "| all |" in report
    assert (out / "rotation_ckpt").is_dir()
    assert "rotation acc" in module.headline(metrics)
    json.dumps(metrics)  # serialisable


def test_rerun_resumes_from_checkpoint_and_cache(tiny_run):
    module, out, metrics = tiny_run
    again = module.run(out, size="tiny", seed=0)
    assert again["rotation_accuracy"] == metrics["rotation_accuracy"]
    assert again["settings"] == metrics["settings"]


def test_config_sizes():
    from importlib import util

    from xent_jax._paths import experiments_dir

    spec = util.spec_from_file_location(
        "cfg", experiments_dir() / "configs" / "rotation_pretext.py"
    )
    cfg = util.module_from_spec(spec)
    spec.loader.exec_module(cfg)
    full, quick = cfg.get_config("full"), cfg.get_config("quick")
    assert full["dataset"] == "mnist10k" and full["n_train"] == 8000
    assert quick["dataset"] in ("mnist5k", "digits")
    with pytest.raises(ValueError, match="size"):
        cfg.get_config("huge")
