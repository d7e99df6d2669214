"""GAN losses against closed forms (numpy float64) and their gradient behaviour."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from xent_jax.losses import gan_discriminator_loss, gan_generator_loss


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -np.asarray(x, np.float64))


LOGITS = np.array([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 30.0], np.float32)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_discriminator_loss_matches_closed_form(variant, smoothing):
    real = LOGITS
    fake = LOGITS[::-1].copy()
    got = variant(lambda r, f: gan_discriminator_loss(r, f, label_smoothing=smoothing))(real, fake)
    want = (
        -(1 - smoothing) * _log_sigmoid(real)
        - smoothing * _log_sigmoid(-real)
        - _log_sigmoid(-fake.astype(np.float64))
    )
    assert got.shape == real.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_discriminator_loss_at_optimum_is_2log2():
    got = gan_discriminator_loss(jnp.zeros(3), jnp.zeros(3))
    np.testing.assert_allclose(np.asarray(got), 2 * np.log(2), atol=1e-6)


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_generator_loss_matches_closed_form(variant, kind):
    got = variant(lambda f: gan_generator_loss(f, kind=kind))(LOGITS)
    want = -_log_sigmoid(LOGITS) if kind == "non_saturating" else _log_sigmoid(-LOGITS)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(np.asarray(got)))


def test_minimax_generator_is_minus_discriminator_fake_term():
    fake = jnp.asarray(LOGITS)
    d_fake_term = gan_discriminator_loss(jnp.full_like(fake, 50.0), fake)  # real term ~ 0
    np.testing.assert_allclose(
        np.asarray(gan_generator_loss(fake, kind="minimax")), -np.asarray(d_fake_term), atol=1e-5
    )


def test_gradients_closed_form_minimax_vanishes_non_saturating_does_not():
    """d/df of minimax = -sigmoid(f) -> 0 when D rejects (f -> -inf); NS = -sigmoid(-f) -> -1."""
    f = jnp.asarray(LOGITS)
    g_mm = jax.grad(lambda x: gan_generator_loss(x, kind="minimax").sum())(f)
    g_ns = jax.grad(lambda x: gan_generator_loss(x, kind="non_saturating").sum())(f)
    f64 = LOGITS.astype(np.float64)
    np.testing.assert_allclose(np.asarray(g_mm), -1 / (1 + np.exp(-f64)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(g_ns), -1 / (1 + np.exp(f64)), atol=1e-6)
    confident = f64 < -20  # the discriminator is sure the sample is fake
    assert np.all(np.abs(np.asarray(g_mm)[confident]) < 1e-8)
    assert np.all(np.abs(np.asarray(g_ns)[confident] + 1) < 1e-6)


def test_discriminator_gradients_numerically():
    r = jnp.array([-1.0, 0.3, 2.0])
    f = jnp.array([0.5, -2.0, 1.0])
    check_grads(
        lambda a, b: gan_discriminator_loss(a, b, label_smoothing=0.2),
        (r, f),
        order=1,
        modes=["rev"],
        atol=1e-2,
        rtol=1e-2,
    )


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same shape"):
        gan_discriminator_loss(jnp.zeros(3), jnp.zeros(4))
    with pytest.raises(TypeError, match="floating"):
        gan_discriminator_loss(jnp.zeros(3, jnp.int32), jnp.zeros(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        gan_discriminator_loss(jnp.zeros(3), jnp.zeros(3), label_smoothing=1.0)
    with pytest.raises(ValueError, match="kind"):
        gan_generator_loss(jnp.zeros(3), kind="wasserstein")
