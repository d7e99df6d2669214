"""recipes.rotation: the RotNet step on all four rotations, accuracy, features, SIGKILL resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xent_jax.data import load_digits
from xent_jax.models import CNN
from xent_jax.recipes import (
    extract_features,
    pretrain_rotation,
    rotation_accuracy,
    rotation_training,
)
from xent_jax.train import fit, read_metrics


def _bits(tree):
    return [np.asarray(x).tobytes() for x in jax.tree.leaves(tree)]


def _no_timing(records):
    return [r for r in records if r["split"] != "timing"]


@pytest.fixture(scope="module")
def digits():
    x, _ = load_digits()
    return x[:96]


def _cnn(seed=0):
    return CNN(4, widths=(4,), head_hidden=8, rngs=nnx.Rngs(seed))


def test_step_trains_on_all_four_rotations_of_each_image(digits):
    """The step's loss: mean cross-entropy over np.rot90 of the batch by 0..3 quarter turns."""
    job = rotation_training(_cnn(), digits, key=1, batch_size=16)
    batch = job.batch_fn(0)
    _, m = jax.jit(job.step)(job.state, batch, jax.random.key(0))
    x = batch[0]
    rotated = np.concatenate([np.rot90(x, k, axes=(1, 2)) for k in range(4)])
    labels = np.repeat(np.arange(4), len(x))
    logits = np.asarray(job.model(job.state)(jnp.asarray(rotated)), np.float64)
    lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    ref = np.mean(lse - logits[np.arange(len(labels)), labels])
    assert float(m["loss"]) == pytest.approx(ref, rel=1e-5)
    assert float(m["accuracy"]) == pytest.approx(np.mean(logits.argmax(1) == labels))


def test_pretraining_learns_and_its_eval_hook_is_rotation_accuracy(digits):
    job = rotation_training(_cnn(), digits[:64], key=2, batch_size=32, learning_rate=1e-2,
                            eval_images=digits[64:])  # fmt: skip
    res = fit(job.step, job.state, job.batch_fn, steps=40, key=2, progress=False,
              **job.fit_options)  # fmt: skip
    model = job.model(res.state)
    acc = rotation_accuracy(model, digits[64:], batch_size=20)
    assert res.eval["accuracy"] == pytest.approx(acc["accuracy"])
    # reference: predict each np.rot90 rotation directly with the module
    per = [float(np.mean(np.asarray(model(np.rot90(digits[64:], k, axes=(1, 2)))).argmax(1) == k))
           for k in range(4)]  # fmt: skip
    np.testing.assert_allclose(acc["per_rotation"], per)
    assert acc["accuracy"] == pytest.approx(np.mean(per))
    assert acc["accuracy"] > 0.4  # chance is 0.25; digits are easy to orient
    # pretrain_rotation is the same run, with the module updated in place
    module = _cnn()
    _, ref = pretrain_rotation(module, digits[:64], steps=40, key=2, batch_size=32,
                               learning_rate=1e-2, progress=False)  # fmt: skip
    assert _bits(ref.state) == _bits(res.state)
    np.testing.assert_array_equal(module(digits[:4]), model(digits[:4]))


def test_extract_features_equals_the_module_features(digits):
    model = _cnn(3)
    got = extract_features(model, digits[:10], batch_size=4)
    np.testing.assert_allclose(got, np.asarray(model.features(digits[:10])), rtol=1e-6, atol=1e-6)
    logits = extract_features(model, digits[:10], method="__call__", batch_size=4)
    np.testing.assert_allclose(logits, np.asarray(model(digits[:10])), rtol=1e-6, atol=1e-6)


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match="images must be"):
        rotation_training(_cnn(), np.zeros((4, 8, 8)), key=0)
    with pytest.raises(ValueError, match="eval_images must be"):
        rotation_training(_cnn(), np.zeros((4, 8, 8, 1)), key=0, eval_images=np.zeros((2, 8)))


_SCRIPT = """
import json, sys, time
import jax, numpy as np
from flax import nnx
from xent_jax.data import load_digits
from xent_jax.models import CNN
from xent_jax.recipes import rotation_training
from xent_jax.train import Hook, fit

out, delay = sys.argv[1], float(sys.argv[2])
x, _ = load_digits()
job = rotation_training(CNN(4, widths=(4,), head_hidden=8, rngs=nnx.Rngs(0)), x[:64], key=5,
                        batch_size=16, eval_images=x[64:96], eval_every=4)
slow = Hook("slow", 1, lambda state: time.sleep(delay))  # slow enough to be killed mid-run
res = fit(job.step, job.state, job.batch_fn, steps=12, key=5, workdir=out, checkpoint_every=3,
          log_every=2, steps_per_call=2, hooks=[slow], progress=False, **job.fit_options)
np.savez(f"{out}/final.npz", *[np.asarray(v) for v in jax.tree.leaves(res.state)])
with open(f"{out}/final.json", "w") as f:
    json.dump({"metrics": res.metrics, "resumed_from": res.resumed_from}, f)
"""


def _launch(script: Path, out: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), str(out), str(delay)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow  # three subprocesses (~35 s); fit's own SIGKILL test stays in make test
def test_rotation_pretraining_killed_after_a_checkpoint_resumes_to_identical_result(tmp_path):
    """SIGKILL after the first checkpoint, restart: parameters and log as uninterrupted."""
    script = tmp_path / "rotation_run.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    ref_proc = _launch(script, ref, 0.0)
    proc = _launch(script, cut, 0.3)
    end = time.monotonic() + 180
    while not any(p.name.isdigit() for p in (cut / "checkpoints").glob("*")):
        assert time.monotonic() < end, "no checkpoint appeared"
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()}"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "final.json").exists()
    proc = _launch(script, cut, 0.0)
    assert proc.wait(timeout=180) == 0, proc.stderr.read()
    assert ref_proc.wait(timeout=180) == 0, ref_proc.stderr.read()
    got, want = (json.loads((d / "final.json").read_text()) for d in (cut, ref))
    assert 0 < got["resumed_from"] < 12 and want["resumed_from"] == 0
    assert got["metrics"] == want["metrics"]
    a, b = np.load(cut / "final.npz"), np.load(ref / "final.npz")
    assert len(a.files) == len(b.files) > 0
    for name in a.files:
        assert a[name].tobytes() == b[name].tobytes()
    log = _no_timing(read_metrics(cut))
    assert log == _no_timing(read_metrics(ref))
    assert [r["step"] for r in log if r["split"] == "eval"] == [4, 8, 12]
