"""Alternating GAN step: determinism, exact resume, the R1 penalty, and that it learns."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xent_jax.models import Discriminator, Generator
from xent_jax.train.gan import GANConfig, GANTrainer, train_gan


def _trainer(config=None, *, pack=1, hidden=(16,), data=None):
    config = config or GANConfig(batch_size=32)
    g = Generator(2, 2, hidden=hidden, rngs=nnx.Rngs(0))
    d = Discriminator(2, hidden=hidden, pack=pack, rngs=nnx.Rngs(1))
    if data is None:

        def data(key, n):
            return jnp.array([[3.0, -2.0]]) + 0.1 * jax.random.normal(key, (n, 2))

    return GANTrainer(g, d, data, config)


def _leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves(state)]


def test_same_key_same_result_and_resume_is_exact(tmp_path):
    tr = _trainer()
    key = jax.random.key(3)
    full, hist = train_gan(tr, steps=6, key=key, chunk=2, progress=False)
    assert [h["step"] for h in hist] == [2, 4, 6]
    again, _ = train_gan(tr, steps=6, key=key, chunk=2, progress=False)
    for a, b in zip(_leaves(full), _leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    # Stop after 4 steps (checkpointed), then resume to 6 from a fresh call.
    ckpt = tmp_path / "ckpt"
    train_gan(tr, steps=4, key=key, chunk=2, checkpoint_dir=ckpt, progress=False)
    resumed, hist = train_gan(
        tr,
        steps=6,
        key=key,
        chunk=2,
        checkpoint_dir=ckpt,
        progress=False,
        metrics_path=tmp_path / "m.jsonl",
    )
    assert [h["step"] for h in hist] == [6]  # only the remaining chunk ran
    assert int(resumed["step"]) == 6
    for a, b in zip(_leaves(full), _leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "m.jsonl").read_text().count("\n") == 1


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight():
    """For D(x) = w.x + b the input gradient is w everywhere, so R1 = ||w||^2 (per pack)."""
    tr = _trainer(GANConfig(batch_size=8, r1_gamma=10.0), pack=2, hidden=(8,))
    lin = Discriminator(2, hidden=(), pack=2, rngs=nnx.Rngs(5))
    tr = GANTrainer(tr.generator(tr.init_state()), lin, lambda k, n: jnp.zeros((n, 2)), tr.config)
    state = tr.init_state()
    _, metrics = tr.step(state, jax.random.key(0))
    w = np.asarray(state["d"]["head"]["kernel"], np.float64)
    np.testing.assert_allclose(float(metrics["r1"]), np.sum(w**2), rtol=1e-5)


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_generator_moves_towards_the_data(kind):
    tr = _trainer(
        GANConfig(batch_size=64, generator_loss=kind, g_learning_rate=3e-3, d_learning_rate=3e-3)
    )
    state0 = tr.init_state()
    state, hist = train_gan(tr, steps=300, key=jax.random.key(0), chunk=300, progress=False)
    target = np.array([3.0, -2.0])
    before = np.linalg.norm(np.asarray(tr.sample(state0, jax.random.key(9), 256)).mean(0) - target)
    after = np.linalg.norm(np.asarray(tr.sample(state, jax.random.key(9), 256)).mean(0) - target)
    assert after < 0.5 * before
    assert np.isfinite(hist[-1]["d_loss"]) and np.isfinite(hist[-1]["g_loss"])


def test_training_from_a_data_array():
    data = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    tr = _trainer(data=data)
    state, metrics = tr.run(tr.init_state(), jax.random.key(0), 2)
    assert int(state["step"]) == 2 and set(metrics) >= {"d_loss", "g_loss", "d_real", "d_fake"}


def test_bad_configuration_raises():
    with pytest.raises(ValueError, match="generator_loss"):
        GANConfig(generator_loss="wgan")
    with pytest.raises(ValueError, match="batch_size"):
        GANConfig(batch_size=0)
    with pytest.raises(ValueError, match="instance_noise"):
        GANConfig(instance_noise=-1.0)
    with pytest.raises(ValueError, match="decay_steps"):
        GANConfig(decay_steps=-5)
    with pytest.raises(ValueError, match="multiple of the discriminator's pack"):
        _trainer(GANConfig(batch_size=30), pack=4)
    with pytest.raises(ValueError, match="shape"):
        _trainer(data=np.zeros(5))
    with pytest.raises(ValueError, match="steps"):
        train_gan(_trainer(), steps=0, key=jax.random.key(0))
