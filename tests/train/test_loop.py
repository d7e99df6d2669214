"""fit: the loop's bookkeeping, exact resume after SIGKILL/SIGINT, batching, classifier helpers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from xent_jax.models import MLP
from xent_jax.train import (
    classification_step,
    evaluate_classifier,
    fit,
    init_classifier_state,
    make_batch_fn,
    merge_model,
    predict,
    read_metrics,
    train_classifier,
)

SCRIPT = Path(__file__).with_name("_resume_script.py")


def test_make_batch_fn_is_pure_and_covers_each_epoch():
    data = (np.arange(10), np.arange(10) * 2)
    fn = make_batch_fn(data, batch_size=3, seed=1)
    first = [fn(s)[0] for s in range(3)]  # epoch 0: 3 batches of 3, one example dropped
    assert len(set(np.concatenate(first).tolist())) == 9
    np.testing.assert_array_equal(fn(4)[1], 2 * fn(4)[0])  # leaves stay paired
    np.testing.assert_array_equal(make_batch_fn(data, batch_size=3, seed=1)(4)[0], fn(4)[0])
    assert not np.array_equal(np.concatenate(first), np.concatenate([fn(s)[0] for s in (3, 4, 5)]))
    assert make_batch_fn(data, batch_size=50)(0)[0].shape == (10,)  # clipped
    with pytest.raises(ValueError, match="leading axis"):
        make_batch_fn((np.arange(3), np.arange(4)), batch_size=2)


def _sgd_step(state, batch, key):
    noise = jax.random.normal(key, ())
    new = {"w": state["w"] - 0.1 * (state["w"] - batch) + 0.01 * noise}
    return new, {"gap": jnp.abs(new["w"] - batch)}


def _manual(num_steps, key):
    w = jnp.zeros(())
    for s in range(num_steps):
        w = _sgd_step({"w": w}, jnp.float32(s % 3), jax.random.fold_in(key, s))[0]["w"]
    return w


def test_fit_matches_manual_loop_and_logs(tmp_path):
    key = jax.random.key(0)
    calls = []

    def eval_fn(state):
        calls.append(1)
        return {"w": state["w"]}

    res = fit(
        _sgd_step,
        {"w": jnp.zeros(())},
        lambda s: jnp.float32(s % 3),
        num_steps=12,
        key=key,
        eval_fn=eval_fn,
        eval_every=5,
        log_every=4,
        metrics_path=tmp_path,
        ckpt_dir=tmp_path / "ck",
        ckpt_every=5,
        progress=False,
    )
    np.testing.assert_allclose(res.state["w"], _manual(12, key), rtol=1e-6)
    recs = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in recs if r["split"] == "train"] == [4, 8, 12]
    assert [r["step"] for r in recs if r["split"] == "eval"] == [5, 10, 12]
    assert len(calls) == 3
    assert res.metrics["step"] == 12
    assert res.metrics["eval_w"] == pytest.approx(float(res.state["w"]))
    assert sorted(int(p.name) for p in (tmp_path / "ck").iterdir() if p.name.isdigit()) == [10, 12]
    # Running the finished command again restores and reports the same metrics.
    again = fit(
        _sgd_step,
        {"w": jnp.zeros(())},
        lambda s: jnp.float32(s % 3),
        num_steps=12,
        key=key,
        ckpt_dir=tmp_path / "ck",
        eval_fn=eval_fn,
        progress=False,
    )
    assert again.resumed_from == 12 and again.metrics == res.metrics
    assert float(again.state["w"]) == float(res.state["w"])


def test_keyboard_interrupt_saves_and_resume_is_exact(tmp_path):
    key = jax.random.key(1)

    def interrupting(s):
        if s == 7:
            raise KeyboardInterrupt
        return jnp.float32(s % 3)

    kw = dict(num_steps=15, key=key, ckpt_dir=tmp_path, ckpt_every=4, progress=False)
    with pytest.raises(KeyboardInterrupt):
        fit(_sgd_step, {"w": jnp.zeros(())}, interrupting, **kw)
    res = fit(_sgd_step, {"w": jnp.zeros(())}, lambda s: jnp.float32(s % 3), **kw)
    assert res.resumed_from == 7
    whole = fit(
        _sgd_step, {"w": jnp.zeros(())}, lambda s: jnp.float32(s % 3), **(kw | {"ckpt_dir": None})
    )
    assert float(res.state["w"]) == float(whole.state["w"])  # bitwise
    assert res.metrics == whole.metrics
    np.testing.assert_allclose(res.state["w"], _manual(15, key), rtol=1e-6)


def test_fit_bad_arguments():
    with pytest.raises(ValueError, match="num_steps"):
        fit(_sgd_step, {"w": jnp.zeros(())}, lambda s: 0.0, num_steps=-1)
    with pytest.raises(ValueError, match="log_every"):
        fit(_sgd_step, {"w": jnp.zeros(())}, lambda s: 0.0, num_steps=1, log_every=0)


def _launch(out: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(out), str(delay)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_checkpoint(proc, ckpt: Path, above: int, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        steps = [int(p.name) for p in ckpt.glob("*") if p.name.isdigit()] if ckpt.exists() else []
        if steps and max(steps) > above:
            return
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


def test_killed_and_interrupted_run_resumes_to_identical_result(tmp_path):
    """SIGKILL after the first checkpoint, restart, SIGINT later, restart: same as uninterrupted."""
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    ref_proc = _launch(ref, 0.0)
    proc = _launch(cut, 0.1)
    _wait_for_checkpoint(proc, cut / "ckpt", above=0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "final.json").exists()
    proc = _launch(cut, 0.1)
    _wait_for_checkpoint(proc, cut / "ckpt", above=10)
    proc.send_signal(signal.SIGINT)
    proc.wait()
    assert proc.returncode != 0 and not (cut / "final.json").exists()
    proc = _launch(cut, 0.0)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert ref_proc.wait(timeout=120) == 0, ref_proc.stderr.read()

    got, want = (json.loads((d / "final.json").read_text()) for d in (cut, ref))
    assert got["resumed_from"] > 10 and want["resumed_from"] == 0
    assert got["metrics"] == want["metrics"]
    a, b = np.load(cut / "final.npz"), np.load(ref / "final.npz")
    assert len(a.files) == len(b.files)
    for name in a.files:
        assert a[name].tobytes() == b[name].tobytes()
    # The metrics log of the resumed run equals the uninterrupted one, line for line.
    assert read_metrics(cut / "metrics.jsonl") == read_metrics(ref / "metrics.jsonl")


@pytest.fixture(scope="module")
def tiny_classifier():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    model, res = train_classifier(
        MLP(5, (8,), 2, rngs=nnx.Rngs(0)),
        x,
        y,
        num_steps=60,
        batch_size=32,
        learning_rate=3e-2,
        eval_data=(x, y),
        progress=False,
    )
    return model, res, x, y


def test_train_classifier_learns_and_evaluates(tiny_classifier):
    model, res, x, y = tiny_classifier
    assert res.eval["accuracy"] > 0.9
    logits = np.asarray(model(jnp.asarray(x)))
    assert res.eval["accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == y))
    lse = np.log(np.exp(logits.astype(np.float64)).sum(-1))
    ref_loss = np.mean(lse - logits[np.arange(len(y)), y])
    assert res.eval["loss"] == pytest.approx(ref_loss, rel=1e-4)


def test_classifier_state_round_trip_and_predict_padding(tiny_classifier):
    model, _, x, y = tiny_classifier
    tx = optax.sgd(0.1)
    graphdef, state = init_classifier_state(model, tx)
    np.testing.assert_array_equal(merge_model(graphdef, state)(x), model(x))
    out = predict(lambda b: model(b), x, batch_size=40)  # 96 = 40 + 40 + 16 (padded)
    np.testing.assert_allclose(out, np.asarray(model(x)), rtol=1e-6, atol=1e-6)
    ev = evaluate_classifier(graphdef, state, x, y, batch_size=40)
    assert ev["accuracy"] == pytest.approx(np.mean(out.argmax(-1) == y))
    # One classification step equals a hand-written SGD step on the mean cross-entropy.
    step = classification_step(graphdef, tx)
    new, m = jax.jit(step)(state, (x[:8], y[:8]), jax.random.key(0))

    def loss(params):
        logits = nnx.merge(graphdef, params, state["rest"])(x[:8])
        return jnp.mean(jax.nn.logsumexp(logits, -1) - logits[jnp.arange(8), y[:8]])

    grads = jax.grad(loss)(state["params"])
    want = jax.tree.map(lambda p, g: p - 0.1 * g, state["params"], grads)
    for a, b in zip(jax.tree.leaves(new["params"]), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float(m["loss"]) == pytest.approx(float(loss(state["params"])), rel=1e-5)


def test_sharded_step_equals_single_device():
    code = """
import json, jax, jax.numpy as jnp, numpy as np, optax
from flax import nnx
from xent_jax.models import MLP
from xent_jax.train import classification_step, init_classifier_state, data_mesh, replicate
from xent_jax.train import shard_batch, fit, make_batch_fn
assert jax.device_count() == 2, jax.devices()
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 5)).astype(np.float32); y = (x[:, 0] > 0).astype(np.int32)
tx = optax.adam(1e-2)
g, s = init_classifier_state(MLP(5, (8,), 2, rngs=nnx.Rngs(0)), tx)
step = jax.jit(classification_step(g, tx))
k = jax.random.key(0)
one, m1 = step(s, (x[:16], y[:16]), k)
mesh = data_mesh()
bx = shard_batch((x[:16], y[:16]), mesh)
two, m2 = step(replicate(s, mesh), bx, k)
def maxdiff(t1, t2):
    pairs = zip(jax.tree.leaves(t1), jax.tree.leaves(t2))
    return max(float(jnp.max(jnp.abs(a - b))) for a, b in pairs)
diff = maxdiff(one, two)
fn = make_batch_fn((x, y), batch_size=16, seed=0)
r1 = fit(classification_step(g, tx), s, fn, num_steps=6, shard=False, progress=False)
r2 = fit(classification_step(g, tx), s, fn, num_steps=6, progress=False)
fdiff = maxdiff(r1.state, r2.state)
print(json.dumps({"diff": diff, "fdiff": fdiff, "n_shards": len(bx[0].addressable_shards),
  "shard_rows": bx[0].addressable_shards[0].data.shape[0],
  "loss": [float(m1["loss"]), float(m2["loss"])],
  "fit_sharded": len(jax.tree.leaves(r2.state)[0].sharding.device_set)}))
"""
    flags = "--xla_force_host_platform_device_count=2"
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["n_shards"] == 2 and r["shard_rows"] == 8
    assert r["diff"] < 1e-5 and r["fdiff"] < 1e-5
    assert r["loss"][0] == pytest.approx(r["loss"][1], rel=1e-6)
    assert r["fit_sharded"] == 2
