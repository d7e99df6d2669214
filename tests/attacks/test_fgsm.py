import jax.numpy as jnp
import numpy as np
import pytest
from attack_helpers import EPSILONS, assert_in_budget_and_box

from xent_jax.attacks import fgsm


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_budget_and_box(digits, norm):
    for eps in EPSILONS:
        x_adv = fgsm(digits.linear, digits.x, digits.y, eps=eps, norm=norm)
        assert x_adv.shape == digits.x.shape and x_adv.dtype == digits.x.dtype
        assert_in_budget_and_box(x_adv, digits.x, eps, norm)


def test_l2_moves_exactly_eps_when_box_inactive(digits):
    x = 0.5 * digits.x + 0.25  # far from the wide box below
    for eps in (1e-3, 0.5, 3.0):
        x_adv = fgsm(digits.mlp, x, digits.y, eps=eps, norm="l2", bounds=(-100.0, 100.0))
        moved = np.linalg.norm(np.asarray(x_adv - x, np.float64).reshape(len(x), -1), axis=1)
        # float32 rounding of x + delta (x ~ 0.5) costs about 1e-7 per coordinate
        np.testing.assert_allclose(moved, eps, rtol=1e-5, atol=1e-6)


def test_linf_moves_every_pixel_by_eps_along_the_gradient_sign(digits):
    x = 0.5 * digits.x + 0.25
    x_adv = fgsm(digits.linear, x, digits.y, eps=0.1, bounds=(-1.0, 2.0))
    np.testing.assert_allclose(np.abs(np.asarray(x_adv - x)), 0.1, atol=1e-6)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_eps_zero_is_identity(digits, norm):
    x_adv = fgsm(digits.mlp, digits.x, digits.y, eps=0.0, norm=norm)
    np.testing.assert_array_equal(np.asarray(x_adv), np.asarray(digits.x))


def test_fgsm_lowers_accuracy_and_targeted_raises_target_rate(digits):
    clean = np.mean(np.argmax(digits.linear(digits.x), -1) == np.asarray(digits.y))
    x_adv = fgsm(digits.linear, digits.x, digits.y, eps=0.1)
    adv = np.mean(np.argmax(digits.linear(x_adv), -1) == np.asarray(digits.y))
    assert clean > 0.85 and adv < clean - 0.3
    target = (digits.y + 1) % 10
    x_t = fgsm(digits.linear, digits.x, target, eps=0.1, targeted=True)
    hit = np.mean(np.argmax(digits.linear(x_t), -1) == np.asarray(target))
    assert hit > 0.3


def test_bad_inputs(digits):
    x, y, f = digits.x, digits.y, digits.linear
    with pytest.raises(ValueError, match="eps"):
        fgsm(f, x, y, eps=-0.1)
    with pytest.raises(ValueError, match="norm"):
        fgsm(f, x, y, eps=0.1, norm="l1")
    with pytest.raises(ValueError, match="loss"):
        fgsm(f, x, y, eps=0.1, loss="hinge")
    with pytest.raises(ValueError, match="x must be"):
        fgsm(f, x, y[:5], eps=0.1)
    with pytest.raises(ValueError, match="out of range"):
        fgsm(f, x, y.at[3].set(10), eps=0.1)
    with pytest.raises(ValueError, match="inside bounds"):
        fgsm(f, x + 0.5, y, eps=0.1)
    with pytest.raises(TypeError, match="integer labels"):
        fgsm(f, x, y.astype(jnp.float32), eps=0.1)
    with pytest.raises(TypeError, match="callable"):
        fgsm(None, x, y, eps=0.1)


def test_nan_gradient_propagates_as_nan_never_a_silent_step():
    def f(x):
        return x * jnp.where(x[:, :1] > 0.5, jnp.nan, 1.0)  # NaN logits for the first example

    x_adv = fgsm(f, jnp.array([[0.6, 0.4], [0.2, 0.3]]), jnp.array([0, 1]), eps=0.1)
    assert np.all(np.isnan(np.asarray(x_adv)[0])) and np.all(np.isfinite(np.asarray(x_adv)[1]))


def test_degenerate_inputs_are_named(digits):
    x, y, f = digits.x, digits.y, digits.linear
    with pytest.raises(TypeError, match="x must be an array, got None"):
        fgsm(f, None, y, eps=0.1)
    with pytest.raises(ValueError, match="at least one example"):
        fgsm(f, x[:0], y[:0], eps=0.1)
    with pytest.raises(ValueError, match="zero classes"):
        fgsm(lambda z: f(z)[:, :0], x, y, eps=0.1)
    with pytest.raises(TypeError, match="eps must be a real scalar, got str"):
        fgsm(f, x, y, eps="0.1")
    with pytest.raises(TypeError, match="targeted must be a bool"):
        fgsm(f, x, y, eps=0.1, targeted="yes")
