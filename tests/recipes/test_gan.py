"""The GAN recipe: the step against a written-out update, R1, learning, samplers, resume, seeds."""

from __future__ import annotations

import json
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

from xent_jax.models import Discriminator, Generator
from xent_jax.recipes.gan import (
    GANConfig,
    data_sampler,
    gan_step,
    init_gan_state,
    mixture_sampler,
    sample,
)
from xent_jax.train import (
    fit,
    read_metrics,
    seed_keys,
    stack_seeds,
    unstack_seeds,
    vmap_seeds,
)

SCRIPT = Path(__file__).with_name("_gan_resume_script.py")
TARGET = np.array([3.0, -2.0])


def _gan(config=None, *, pack=1, hidden=(16,), seed=0):
    config = config or GANConfig(batch_size=32)
    g = Generator(2, 2, hidden=hidden, rngs=nnx.Rngs(2 * seed))
    d = Discriminator(2, hidden=hidden, pack=pack, rngs=nnx.Rngs(2 * seed + 1))
    return init_gan_state(g, d, config)


def _blob():
    return mixture_sampler(TARGET[None], 0.1)  # one Gaussian mode at TARGET


def _bits(tree):
    return [np.asarray(x).tobytes() for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("jit", [False, True])
def test_one_step_equals_the_written_out_update(jit):
    """d_steps=1: one Adam step on mean BCE for D, then one on -mean log sigmoid(D(G(z))) for G."""
    config = GANConfig(batch_size=8, g_learning_rate=1e-2, d_learning_rate=2e-2)
    gan, state = _gan(config)
    real_fn, key = _blob(), jax.random.key(4)
    step = gan_step(gan, real_fn)
    new, metrics = (jax.jit(step) if jit else step)(state, None, key)

    k_z, _, k_real = jax.random.split(key, 3)  # the documented draws (no instance noise)
    z = jax.random.normal(k_z, (2, 8, 2))  # [d_steps + 1, batch, noise_dim]
    real = real_fn(k_real, 8)
    fake = gan.generator(state)(z[0])

    def d_loss(d):
        disc = nnx.merge(gan.d_def, d)
        r, f = disc(real), disc(fake)
        return jnp.mean(-jax.nn.log_sigmoid(r) - jax.nn.log_sigmoid(-f))

    d_tx = optax.adam(2e-2, b1=0.5, b2=0.999)
    upd, _ = d_tx.update(jax.grad(d_loss)(state["d"]), d_tx.init(state["d"]), state["d"])
    d_new = optax.apply_updates(state["d"], upd)

    def g_loss(g):
        x = nnx.merge(gan.g_def, g)(z[1])
        return jnp.mean(-jax.nn.log_sigmoid(nnx.merge(gan.d_def, d_new)(x)))

    g_tx = optax.adam(1e-2, b1=0.5, b2=0.999)
    upd, _ = g_tx.update(jax.grad(g_loss)(state["g"]), g_tx.init(state["g"]), state["g"])
    g_new = optax.apply_updates(state["g"], upd)
    for got, want in [(new["d"], d_new), (new["g"], g_new)]:
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(metrics["d_loss"]), float(d_loss(state["d"])), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["g_loss"]), float(g_loss(state["g"])), rtol=1e-5)
    assert int(new["step"]) == 1 and float(metrics["r1"]) == 0.0


def test_same_key_same_result_and_steps_are_reused():
    gan, state = _gan()
    a = fit(gan_step(gan, _blob()), state, None, steps=6, key=3, steps_per_call=2, progress=False)
    b = fit(gan_step(gan, _blob()), state, None, steps=6, key=3, steps_per_call=2, progress=False)
    assert _bits(a.state) == _bits(b.state) and a.train == b.train
    c = fit(gan_step(gan, _blob()), state, None, steps=6, key=4, steps_per_call=2, progress=False)
    assert _bits(c.state) != _bits(a.state)
    assert gan_step(gan, _blob()) == gan_step(_gan(seed=5)[0], _blob())  # shares compiled chunks


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight():
    """For D(x) = w.x + b the input gradient is w everywhere, so R1 = ||w||^2 (per pack)."""
    config = GANConfig(batch_size=8, r1_gamma=10.0)
    g = Generator(2, 2, hidden=(8,), rngs=nnx.Rngs(0))
    gan, state = init_gan_state(g, Discriminator(2, hidden=(), pack=2, rngs=nnx.Rngs(5)), config)
    _, metrics = gan_step(gan, _blob())(state, None, jax.random.key(0))
    w = np.asarray(state["d"]["head"]["kernel"], np.float64)
    np.testing.assert_allclose(float(metrics["r1"]), np.sum(w**2), rtol=1e-5)


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_generator_moves_towards_the_data(kind):
    config = GANConfig(
        batch_size=64, generator_loss=kind, g_learning_rate=3e-3, d_learning_rate=3e-3
    )
    gan, state0 = _gan(config)
    res = fit(gan_step(gan, _blob()), state0, None, steps=300, key=0, steps_per_call=100,
              progress=False)  # fmt: skip
    before = np.linalg.norm(sample(gan, state0, 9, 256).mean(0) - TARGET)
    after = np.linalg.norm(sample(gan, res.state, 9, 256).mean(0) - TARGET)
    assert after < 0.5 * before
    assert np.isfinite(res.train["d_loss"]) and np.isfinite(res.train["g_loss"])


def test_training_from_a_data_array_draws_its_rows():
    data = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    real = data_sampler(data)
    drawn = np.asarray(real(jax.random.key(1), 200))
    rows = {tuple(r) for r in data}
    assert all(tuple(r) in rows for r in drawn) and len({tuple(r) for r in drawn}) > 30
    gan, state = _gan(GANConfig(batch_size=16, label_smoothing=0.1, instance_noise=0.1, d_steps=2,
                                decay_steps=10))  # fmt: skip
    res = fit(gan_step(gan, real), state, None, steps=2, key=0, progress=False)
    assert int(res.state["step"]) == 2
    assert set(res.train) == {"d_loss", "g_loss", "r1", "d_real", "d_fake"}
    assert data_sampler(data) == real and data_sampler(data + 1) != real


def test_vmapped_seeds_equal_separate_runs():
    parts = [_gan(seed=s) for s in range(3)]  # the config of the test above: compiled once
    gan, states = parts[0][0], [p[1] for p in parts]
    step = gan_step(gan, _blob())
    kw = dict(steps=6, steps_per_call=2, progress=False)
    sep = [fit(step, st, None, key=s, **kw) for s, st in enumerate(states)]
    vm = fit(vmap_seeds(step, batch_axis=None), stack_seeds(states), None, key=seed_keys([0, 1, 2]),
             **kw)  # fmt: skip
    for one, got in zip(sep, unstack_seeds(vm.state), strict=True):
        for a, b in zip(jax.tree.leaves(one.state), jax.tree.leaves(got), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(vm.train["g_loss"], [r.train["g_loss"] for r in sep], rtol=1e-5)


def test_bad_configuration_raises():
    for kw, match in [
        ({"generator_loss": "wgan"}, "generator_loss"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"d_steps": 1.5}, "d_steps"),
        ({"g_learning_rate": 0.0}, "g_learning_rate"),
        ({"b1": 1.0}, "b1"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"r1_gamma": -1.0}, "r1_gamma"),
        ({"instance_noise": -1.0}, "instance_noise"),
        ({"decay_steps": -5}, "decay_steps"),
    ]:
        with pytest.raises(ValueError, match=match):
            GANConfig(**kw)
    with pytest.raises(ValueError, match="multiple of the discriminator's pack=4"):
        _gan(GANConfig(batch_size=30), pack=4)
    with pytest.raises(TypeError, match="GANConfig"):
        init_gan_state(Generator(2, 2, rngs=nnx.Rngs(0)), Discriminator(2, rngs=nnx.Rngs(1)), {})
    with pytest.raises(TypeError, match="noise_dim"):
        init_gan_state(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), Discriminator(2, rngs=nnx.Rngs(1)))
    with pytest.raises(ValueError, match="shape"):
        data_sampler(np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        data_sampler(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="std"):
        mixture_sampler([[0.0, 0.0]], 0.0)
    gan, state = _gan()
    with pytest.raises(TypeError, match="real"):
        gan_step(gan, np.zeros((4, 2)))
    with pytest.raises(TypeError, match="key"):
        sample(gan, state, None, 4)
    with pytest.raises(ValueError, match="n must be"):
        sample(gan, state, 0, 0)


def _launch(out: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(out), str(delay)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _no_timing(records):
    return [r for r in records if r["split"] != "timing"]


@pytest.mark.slow  # three subprocesses (~40 s); fit's own SIGKILL test stays in make test
def test_gan_killed_after_a_checkpoint_resumes_to_identical_result(tmp_path):
    """SIGKILL after the first checkpoint, restart: state, metrics and log as uninterrupted."""
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    ref_proc = _launch(ref, 0.0)
    proc = _launch(cut, 0.1)
    end = time.monotonic() + 120
    while not any(p.name.isdigit() for p in (cut / "checkpoints").glob("*")):
        assert time.monotonic() < end, "no checkpoint appeared"
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()}"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "final.json").exists()
    proc = _launch(cut, 0.0)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert ref_proc.wait(timeout=120) == 0, ref_proc.stderr.read()
    got, want = (json.loads((d / "final.json").read_text()) for d in (cut, ref))
    assert 0 < got["resumed_from"] < 20 and want["resumed_from"] == 0
    assert got["metrics"] == want["metrics"]
    a, b = np.load(cut / "final.npz"), np.load(ref / "final.npz")
    assert len(a.files) == len(b.files) > 0
    for name in a.files:
        assert a[name].tobytes() == b[name].tobytes()
    log = _no_timing(read_metrics(cut))
    assert log == _no_timing(read_metrics(ref))
    assert [r["step"] for r in log if r["split"] == "eval"] == [10, 20]
