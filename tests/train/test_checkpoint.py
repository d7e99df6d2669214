"""Checkpointer: exact round trip, manifest checks, newest-first steps, atomicity, bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from xent_jax.train import Checkpointer, CheckpointError


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
        from xent_jax.train import CheckpointError, Checkpointer
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


def test_every_dtype_round_trips_exactly(tmp_path):
    state = {
        "bf16": jnp.asarray([1.5, -2.25, 3e38], jnp.bfloat16),
        "f16": jnp.asarray([0.1, 65504.0], jnp.float16),
        "i8": np.arange(-3, 3, dtype=np.int8),
        "u32": jnp.arange(4, dtype=jnp.uint32),
        "i32": jnp.int32(-7),
        "bool": jnp.asarray([True, False, True]),
        "key": jax.random.key(3),
        "nan": jnp.asarray([np.nan, np.inf, -0.0], jnp.float32),
    }
    ck = Checkpointer(tmp_path)
    ck.save(1, state)
    got, _ = ck.restore(jax.tree.map(jnp.zeros_like, {k: v for k, v in state.items() if k != "key"})
                        | {"key": jax.random.key(0)})  # fmt: skip
    for name in state:
        a, b = got[name], state[name]
        if name == "key":
            assert jax.random.key_impl(a) == jax.random.key_impl(b)
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        assert np.asarray(a).dtype == np.asarray(b).dtype, name
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), name


def test_restore_into_another_shape_or_dtype_is_refused(tmp_path):
    ck = Checkpointer(tmp_path)
    ck.save(1, {"w": jnp.zeros((3, 4)), "n": jnp.int32(0)})
    with pytest.raises(CheckpointError, match=r"leaf \['w'\] was saved as float32\[3, 4\]"):
        ck.restore({"w": jnp.zeros((3, 5)), "n": jnp.int32(0)})
    with pytest.raises(CheckpointError, match=r"leaf \['n'\] was saved as int32"):
        ck.restore({"w": jnp.zeros((3, 4)), "n": jnp.float32(0)})


def _data_files(step_dir):
    return [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.stat().st_size > 0]


def test_a_flipped_bit_is_detected(tmp_path):
    ck = Checkpointer(tmp_path)
    ck.save(2, {"w": jnp.arange(4096, dtype=jnp.float32)})
    # Flip one bit in the largest array file orbax wrote.
    target = max(_data_files(tmp_path / "2"), key=lambda p: p.stat().st_size)
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    target.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="step 2") as err:
        ck.restore({"w": jnp.zeros(4096)})
    assert str(tmp_path) in str(err.value)


def test_a_truncated_file_is_reported_by_name(tmp_path):
    ck = Checkpointer(tmp_path)
    ck.save(3, {"w": jnp.arange(4096, dtype=jnp.float32)})
    target = max(_data_files(tmp_path / "3"), key=lambda p: p.stat().st_size)
    target.write_bytes(target.read_bytes()[:20])
    with pytest.raises(CheckpointError, match="step 3"):
        ck.restore({"w": jnp.zeros(4096)})


def test_an_incomplete_step_folder_is_ignored_with_a_warning(tmp_path):
    ck = Checkpointer(tmp_path)
    ck.save(4, {"w": jnp.ones(2)})
    (tmp_path / "9").mkdir()  # an empty step folder left by a crash elsewhere
    with pytest.warns(RuntimeWarning, match="incomplete checkpoint folder"):
        assert ck.latest_step() == 4
    got, _ = ck.restore({"w": jnp.zeros(2)})
    np.testing.assert_array_equal(got["w"], [1.0, 1.0])
    ck.save(9, {"w": jnp.full(2, 9.0)})  # the same step saved properly replaces the debris
    assert Checkpointer(tmp_path).latest_step() == 9


def test_directory_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        Checkpointer(tmp_path / "f")
