"""fit: bookkeeping, compiled chunks, hooks, exact resume after SIGKILL/SIGINT, seeds, sharding."""

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
import pytest

from xent_jax.train import (
    FolderLockedError,
    Hook,
    fit,
    make_batch_fn,
    read_metrics,
    seed_keys,
    stack_batch_fns,
    stack_seeds,
    unstack_seeds,
    vmap_seeds,
)

SCRIPT = Path(__file__).with_name("_resume_script.py")


def _no_timing(records):
    return [r for r in records if r["split"] != "timing"]


def _bits(tree):
    return [np.asarray(x).tobytes() for x in jax.tree.leaves(tree)]


def test_make_batch_fn_is_pure_and_covers_each_epoch():
    data = (np.arange(10), np.arange(10) * 2)
    fn = make_batch_fn(data, batch_size=3, key=1)
    first = [fn(s)[0] for s in range(3)]  # epoch 0: 3 batches of 3, one example dropped
    assert len(set(np.concatenate(first).tolist())) == 9
    np.testing.assert_array_equal(fn(4)[1], 2 * fn(4)[0])  # leaves stay paired
    np.testing.assert_array_equal(make_batch_fn(data, batch_size=3, key=1)(4)[0], fn(4)[0])
    assert not np.array_equal(np.concatenate(first), np.concatenate([fn(s)[0] for s in (3, 4, 5)]))
    assert make_batch_fn(data, batch_size=50, key=0)(0)[0].shape == (10,)  # clipped
    with pytest.raises(ValueError, match="leading axis"):
        make_batch_fn((np.arange(3), np.arange(4)), batch_size=2, key=0)
    with pytest.raises(ValueError, match="at least one example"):
        make_batch_fn((np.zeros((0, 2)),), batch_size=2, key=0)
    with pytest.raises(TypeError, match="batch_size"):
        make_batch_fn(data, batch_size=2.0, key=0)
    with pytest.raises(TypeError, match="key"):
        make_batch_fn(data, batch_size=2, key=None)


def _sgd_step(state, batch, key):
    noise = jax.random.normal(key, ())
    new = {"w": state["w"] - 0.1 * (state["w"] - batch) + 0.01 * noise}
    return new, {"gap": jnp.abs(new["w"] - batch)}


def _batch(step):
    return np.float32(step % 3)


def _manual(steps, key):
    """The loop written out by hand: w and the per-step gaps."""
    w, gaps = jnp.zeros(()), []
    for s in range(steps):
        state, m = _sgd_step({"w": w}, _batch(s), jax.random.fold_in(key, s))
        w = state["w"]
        gaps.append(float(m["gap"]))
    return w, gaps


def test_fit_matches_manual_loop_and_logs_window_means(tmp_path):
    key = jax.random.key(0)
    calls = []

    def eval_fn(state):
        calls.append(1)
        return {"w": state["w"]}

    res = fit(
        _sgd_step, {"w": jnp.zeros(())}, _batch, steps=12, key=key, steps_per_call=3,
        eval_fn=eval_fn, eval_every=5, log_every=4, workdir=tmp_path, checkpoint_every=5,
        progress=False,
    )  # fmt: skip
    w, gaps = _manual(12, key)
    np.testing.assert_allclose(res.state["w"], w, rtol=1e-6)
    recs = read_metrics(tmp_path / "metrics.jsonl")
    train = [r for r in recs if r["split"] == "train"]
    assert [r["step"] for r in train] == [4, 8, 12]
    for r in train:  # each line is the mean over its 4 steps
        assert r["gap"] == pytest.approx(np.mean(gaps[r["step"] - 4 : r["step"]]), rel=1e-5)
    assert [r["step"] for r in recs if r["split"] == "eval"] == [5, 10, 12]
    assert [r["step"] for r in recs if r["split"] == "timing"] == [4, 8, 12]
    assert len(calls) == 3
    assert res.metrics["step"] == 12
    assert res.metrics["eval_w"] == pytest.approx(float(res.state["w"]))
    ckpts = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert ckpts == [10, 12]
    # Running the finished command again restores and reports the same metrics, runs nothing.
    again = fit(
        _sgd_step, {"w": jnp.zeros(())}, _batch, steps=12, key=key, workdir=tmp_path,
        eval_fn=eval_fn, progress=False,
    )  # fmt: skip
    assert again.resumed_from == 12 and again.metrics == res.metrics and len(calls) == 3
    assert _bits(again.state) == _bits(res.state)


@pytest.mark.parametrize("steps_per_call", [2, 7, 64])
def test_chunking_does_not_change_the_result(tmp_path, steps_per_call):
    kw = dict(steps=23, key=3, log_every=5, checkpoint_every=10, progress=False)
    one = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps_per_call=1, workdir=tmp_path / "a",
              **kw)  # fmt: skip
    many = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps_per_call=steps_per_call,
               workdir=tmp_path / "b", **kw)  # fmt: skip
    assert _bits(one.state) == _bits(many.state)
    assert one.train == many.train
    assert _no_timing(read_metrics(tmp_path / "a")) == _no_timing(read_metrics(tmp_path / "b"))


def test_variable_shapes_and_key_only_steps():
    def step(state, batch, key):
        return state + jnp.sum(batch), {"n": jnp.float32(batch.shape[0])}

    def batch_fn(s):  # length buckets: shapes change between steps
        return np.ones((1 + s % 3,), np.float32)

    a = fit(step, jnp.zeros(()), batch_fn, steps=10, key=0, steps_per_call=4, progress=False)
    assert float(a.state) == sum(1 + s % 3 for s in range(10))
    assert a.examples == sum(1 + s % 3 for s in range(10)) == a.totals["examples"]

    def draw(state, batch, key):
        assert batch is None
        return state + jax.random.uniform(key), {"u": jax.random.uniform(key)}

    b = fit(draw, jnp.zeros(()), None, steps=9, key=5, steps_per_call=4, progress=False)
    want = sum(
        float(jax.random.uniform(jax.random.fold_in(jax.random.key(5), s))) for s in range(9)
    )
    assert float(b.state) == pytest.approx(want, rel=1e-6)


def test_hooks_run_on_their_period(tmp_path):
    seen = []
    hook = Hook("probe", 4, lambda s: seen.append(float(s["w"])) or {"w2": 2 * s["w"]})
    res = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=10, key=0, hooks=[hook],
              workdir=tmp_path, progress=False)  # fmt: skip
    assert len(seen) == 3  # steps 4, 8, 10
    probe = read_metrics(tmp_path, split="probe")
    assert [r["step"] for r in probe] == [4, 8, 10]
    assert res.hooks["probe"]["w2"] == pytest.approx(2 * float(res.state["w"]))
    with pytest.raises(ValueError, match="unique"):
        fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=1, key=0, hooks=[hook, hook])


def test_keyboard_interrupt_saves_and_resume_is_exact(tmp_path):
    def interrupting(s):
        if s == 7:
            raise KeyboardInterrupt
        return _batch(s)

    kw = dict(steps=15, key=1, steps_per_call=1, log_every=3, progress=False)
    with pytest.raises(KeyboardInterrupt):
        fit(_sgd_step, {"w": jnp.zeros(())}, interrupting, workdir=tmp_path, checkpoint_every=4,
            **kw)  # fmt: skip
    assert not (tmp_path / ".xent-jax.lock").exists()  # released on the way out
    res = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, workdir=tmp_path, checkpoint_every=4, **kw)
    assert res.resumed_from == 7
    assert res.examples == 0 and res.totals["seconds"] > res.seconds  # 8 of 15 steps this time
    whole = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, workdir=tmp_path / "w", **kw)
    assert _bits(res.state) == _bits(whole.state)
    assert res.metrics == whole.metrics
    assert _no_timing(read_metrics(tmp_path)) == _no_timing(read_metrics(tmp_path / "w"))


def test_fit_bad_arguments(tmp_path):
    s0 = {"w": jnp.zeros(())}
    with pytest.raises(ValueError, match="steps"):
        fit(_sgd_step, s0, _batch, steps=-1, key=0)
    with pytest.raises(TypeError, match="steps must be an int"):
        fit(_sgd_step, s0, _batch, steps=2.5, key=0)
    with pytest.raises(TypeError, match="key"):
        fit(_sgd_step, s0, _batch, steps=1, key=None)
    with pytest.raises(ValueError, match="log_every"):
        fit(_sgd_step, s0, _batch, steps=1, key=0, log_every=0)
    with pytest.raises(ValueError, match="steps_per_call"):
        fit(_sgd_step, s0, _batch, steps=1, key=0, steps_per_call=0)
    with pytest.raises(ValueError, match="need a workdir"):
        fit(_sgd_step, s0, _batch, steps=1, key=0, checkpoint_every=1)
    with pytest.raises(TypeError, match="step_fn"):
        fit(None, s0, _batch, steps=1, key=0)
    with pytest.raises(TypeError, match="dict of scalars"):
        fit(lambda s, b, k: (s, 1.0), s0, _batch, steps=1, key=0, progress=False)
    fit(_sgd_step, s0, _batch, steps=4, key=0, workdir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="beyond steps=2, and step 2 is not kept"):
        fit(_sgd_step, s0, _batch, steps=2, key=0, workdir=tmp_path, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        fit(_sgd_step, s0, _batch, steps=1, key=0, workdir=tmp_path / "file", progress=False)


def test_longer_runs_in_one_folder_and_the_shorter_one_read_back(tmp_path):
    kw = dict(key=2, workdir=tmp_path, log_every=2, progress=False, max_to_keep=3)
    short = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=4, **kw)
    long = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=10, **kw)  # resumes at 4
    assert long.resumed_from == 4
    whole = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=10, **(kw | {"workdir": None}))
    assert _bits(long.state) == _bits(whole.state)
    log = read_metrics(tmp_path)
    again = fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=4, **kw)  # read-only
    assert _bits(again.state) == _bits(short.state) and again.train == short.train
    assert read_metrics(tmp_path) == log  # the longer run's log is untouched


def test_state_given_is_not_consumed():
    s0 = {"w": jnp.ones(())}
    fit(_sgd_step, s0, _batch, steps=3, key=0, progress=False)
    assert float(s0["w"]) == 1.0  # the chunks donate their own copy only


def test_seeds_as_a_batch_axis_equal_separate_runs():
    def step(state, batch, key):
        x, y = batch
        noise = 0.01 * jax.random.normal(key, state.shape)

        def loss(w):
            return jnp.mean((x @ w - y) ** 2)

        value, g = jax.value_and_grad(loss)(state)
        return state - 0.05 * g + noise, {"loss": value}

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32)).astype(np.float32)
    seeds = [0, 1, 2]
    inits = [jnp.asarray(np.random.default_rng(s).normal(size=3), jnp.float32) for s in seeds]
    fns = [make_batch_fn((x, y), batch_size=16, key=s) for s in seeds]
    sep = [
        fit(step, w0, f, steps=30, key=s, log_every=10, progress=False)
        for w0, f, s in zip(inits, fns, seeds, strict=True)
    ]
    vm = fit(vmap_seeds(step), stack_seeds(inits), stack_batch_fns(fns), steps=30,
             key=seed_keys(seeds), log_every=10, progress=False)  # fmt: skip
    for a, b in zip(sep, unstack_seeds(vm.state), strict=True):
        np.testing.assert_allclose(np.asarray(a.state), np.asarray(b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(vm.train["loss"], [r.train["loss"] for r in sep], rtol=1e-5)
    assert vmap_seeds(step) == vmap_seeds(step)  # equal wrappers share compiled chunks


def _launch(out: Path, delay: float, spc: int = 3, pause_at: int = -1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(out), str(delay), str(spc), str(pause_at)],
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
    """SIGKILL after the first checkpoint, restart, SIGINT later, restart: same as uninterrupted.

    Checkpoints every 5 steps, log lines every 4 and chunks of 3: the partial logging window is
    part of the checkpoint, so the log is identical too.
    """
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    ref_proc = _launch(ref, 0.0, spc=40)
    proc = _launch(cut, 0.1, pause_at=8)
    _wait_for_checkpoint(proc, cut / "checkpoints", above=0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "final.json").exists()
    assert (cut / ".xent-jax.lock").exists()  # left behind by the killed run: stale
    proc = _launch(cut, 0.1, pause_at=22)  # waits at step 22: the SIGINT cannot come too late
    _wait_for_checkpoint(proc, cut / "checkpoints", above=15)
    proc.send_signal(signal.SIGINT)
    proc.wait()
    assert proc.returncode != 0 and not (cut / "final.json").exists()
    proc = _launch(cut, 0.0)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert ref_proc.wait(timeout=120) == 0, ref_proc.stderr.read()

    got, want = (json.loads((d / "final.json").read_text()) for d in (cut, ref))
    assert got["resumed_from"] > 15 and want["resumed_from"] == 0
    assert got["metrics"] == want["metrics"]
    a, b = np.load(cut / "final.npz"), np.load(ref / "final.npz")
    assert len(a.files) == len(b.files)
    for name in a.files:
        assert a[name].tobytes() == b[name].tobytes()
    # The metrics log of the resumed run equals the uninterrupted one, line for line.
    assert _no_timing(read_metrics(cut)) == _no_timing(read_metrics(ref))


def test_two_runs_on_one_folder_are_refused(tmp_path):
    proc = _launch(tmp_path, 0.2)
    try:
        end = time.monotonic() + 60
        while not (tmp_path / ".xent-jax.lock").exists():
            assert time.monotonic() < end and proc.poll() is None, "the first run did not start"
            time.sleep(0.05)
        with pytest.raises(FolderLockedError, match=f"process {proc.pid}"):
            fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=2, key=0, workdir=tmp_path)
    finally:
        proc.kill()
        proc.wait()


def test_tensorboard_and_profile(tmp_path):
    pytest.importorskip("tensorboardX")
    fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=6, key=0, log_every=2, workdir=tmp_path,
        tensorboard=True, profile=(2, 4), progress=False)  # fmt: skip
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert list((tmp_path / "profile").rglob("*.xplane.pb"))
    with pytest.raises(ValueError, match="profile"):
        fit(_sgd_step, {"w": jnp.zeros(())}, _batch, steps=6, key=0, workdir=tmp_path / "p",
            profile=(4, 9))  # fmt: skip


def test_sharded_fit_equals_single_device():
    code = """
import json, jax, jax.numpy as jnp, numpy as np
from xent_jax.train import fit, make_batch_fn
assert jax.device_count() == 2, jax.devices()
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 5)).astype(np.float32); y = (x[:, 0] > 0).astype(np.float32)
def step(w, batch, key):
    xb, yb = batch
    loss = lambda w: jnp.mean(jax.nn.softplus(-(2 * yb - 1) * (xb @ w)))
    v, g = jax.value_and_grad(loss)(w)
    return w - 0.5 * g, {"loss": v}
fn = make_batch_fn((x, y), batch_size=16, key=0)
r1 = fit(step, jnp.zeros(5), fn, steps=6, key=0, shard=False, progress=False)
r2 = fit(step, jnp.zeros(5), fn, steps=6, key=0, progress=False)
print(json.dumps({"diff": float(jnp.max(jnp.abs(r1.state - r2.state))),
  "devices": len(r2.state.sharding.device_set), "loss": [r1.train["loss"], r2.train["loss"]]}))
"""
    flags = "--xla_force_host_platform_device_count=2"
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["devices"] == 2 and r["diff"] < 1e-6
    assert r["loss"][0] == pytest.approx(r["loss"][1], rel=1e-6)
