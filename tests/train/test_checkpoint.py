"""Checkpointer: exact round trip, newest-first bookkeeping, atomicity, bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from xent_jax.train import Checkpointer


def _state(seed: int = 0):
    k = jax.random.key(seed)
    params = {"w": jax.random.normal(k, (3, 4)), "b": jnp.arange(4, dtype=jnp.int32)}
    return {
        "params": params,
        "opt": optax.adam(1e-3).init(params),
        "key": jax.random.key_data(jax.random.key(seed + 1)),
        "step": jnp.asarray(7, jnp.int64 if jax.config.jax_enable_x64 else jnp.int32),
        "odd": [np.float64(np.pi), np.array([np.nan, -0.0, 1e-38], np.float32)],
    }


def _assert_bitwise(a, b):
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


def test_round_trip_is_bitwise_and_keeps_extra(tmp_path):
    state = _state()
    with Checkpointer(tmp_path / "ck") as ck:
        assert ck.latest_step() is None
        ck.save(3, state, extra={"epoch": 1, "metrics": {"loss": 0.25}})
        zeros = jax.tree.map(np.zeros_like, state)
        restored, extra = ck.restore(zeros)
    _assert_bitwise(restored, state)
    assert extra == {"epoch": 1, "metrics": {"loss": 0.25}}


def test_keeps_newest_and_restores_by_step(tmp_path):
    ck = Checkpointer(tmp_path, max_to_keep=2)
    for step in (1, 2, 3):
        ck.save(step, {"x": jnp.full((2,), float(step))})
    assert ck.all_steps() == [2, 3] and ck.latest_step() == 3
    got, extra = ck.restore({"x": jnp.zeros(2)}, step=2)
    np.testing.assert_array_equal(got["x"], [2.0, 2.0])
    assert extra == {}
    with pytest.raises(FileNotFoundError, match="step 1"):
        ck.restore({"x": jnp.zeros(2)}, step=1)
    with pytest.raises(ValueError, match="already exists"):
        ck.save(3, {"x": jnp.zeros(2)})
    ck.close()
    # A new Checkpointer on the same folder sees the same checkpoints.
    ck2 = Checkpointer(tmp_path)
    assert ck2.latest_step() == 3
    ck2.close()


def test_bad_input(tmp_path):
    ck = Checkpointer(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ck.restore({"x": jnp.zeros(2)})
    with pytest.raises(TypeError, match="PRNG key"):
        ck.save(0, {"k": jax.random.key(0)})
    with pytest.raises(TypeError, match="must be an array"):
        ck.save(0, {"s": "text"})
    with pytest.raises(ValueError, match="step"):
        ck.save(-1, {"x": jnp.zeros(2)})
    ck.save(0, {"x": jnp.zeros(2)})
    with pytest.raises(ValueError, match="different structure"):
        ck.restore({"y": jnp.zeros(2)})
    with pytest.raises(ValueError, match="max_to_keep"):
        Checkpointer(tmp_path / "other", max_to_keep=0)
    ck.close()


def test_kill_during_save_leaves_previous_checkpoint(tmp_path):
    """SIGKILL while saving large checkpoints: restart sees only complete ones, restorable."""
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from xent_jax.train import Checkpointer
        ck = Checkpointer({str(tmp_path)!r}, max_to_keep=3)
        for step in range(1000):
            ck.save(step, {{"x": np.full((400_000,), step, np.float32)}})
            print(step, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    # Wait for two complete saves, then kill during a later one.
    for _ in range(2):
        proc.stdout.readline()
    proc.kill()
    proc.wait()
    ck = Checkpointer(tmp_path, max_to_keep=3)
    step = ck.latest_step()
    assert step is not None and step >= 1
    got, _ = ck.restore({"x": np.zeros((400_000,), np.float32)})
    assert np.all(got["x"] == step)
    ck.close()
