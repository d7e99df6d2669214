import functools
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from attack_helpers import EPSILONS, assert_in_budget_and_box
from scipy import stats

from xent_jax.attacks import AttackResult, margin_loss, pgd

pgd_module = importlib.import_module("xent_jax.attacks._pgd")
KEY = jax.random.key(0)


def _standard(digits, eps, *, norm="linf", y=None, key=KEY, **kw):
    """The configuration most tests share, so that it compiles once per norm."""
    y = digits.y if y is None else y
    return pgd(digits.linear, digits.x, y, eps=eps, steps=3, restarts=2, norm=norm, key=key, **kw)


def _rerun_success(fn, x_adv, y, targeted=False):
    pred = np.argmax(np.asarray(fn(x_adv)), axis=-1)
    return pred == np.asarray(y) if targeted else pred != np.asarray(y)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_budget_box_and_reproducible_success(digits, norm):
    for eps in EPSILONS:
        r = _standard(digits, eps, norm=norm)
        assert isinstance(r, AttackResult)
        assert r.success.shape == r.loss.shape == digits.y.shape
        assert_in_budget_and_box(r.x_adv, digits.x, eps, norm)
        rerun = _rerun_success(digits.linear, r.x_adv, digits.y)
        np.testing.assert_array_equal(np.asarray(r.success), rerun)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_eps_zero_returns_x_bit_identically(digits, norm):
    r = _standard(digits, 0.0, norm=norm)
    np.testing.assert_array_equal(np.asarray(r.x_adv), np.asarray(digits.x))
    clean_wrong = np.argmax(digits.linear(digits.x), -1) != np.asarray(digits.y)
    np.testing.assert_array_equal(np.asarray(r.success), clean_wrong)


def test_restarts_never_raise_robust_accuracy(digits):
    for eps in (0.02, 0.05, 0.1):
        one = pgd(digits.linear, digits.x, digits.y, eps=eps, steps=3, restarts=1, key=KEY)
        two = _standard(digits, eps)
        assert np.all(np.asarray(two.success) >= np.asarray(one.success))
        # where neither breaks the example, the second restart can only raise the loss
        neither = ~np.asarray(two.success)
        assert np.all(np.asarray(two.loss)[neither] >= np.asarray(one.loss)[neither] - 1e-5)


def test_attack_breaks_a_standard_model(digits):
    clean_wrong = np.argmax(digits.linear(digits.x), -1) != np.asarray(digits.y)
    r = _standard(digits, 0.3)
    assert clean_wrong.mean() < 0.15 and np.mean(np.asarray(r.success)) == 1.0


def test_targeted_margin_goes_up(digits):
    target = (digits.y + 3) % 10
    before = -np.asarray(margin_loss(digits.linear(digits.x), target))
    r = pgd(
        digits.linear,
        digits.x,
        target,
        eps=0.05,
        steps=5,
        targeted=True,
        loss="margin",
        random_start=False,
        key=KEY,
    )
    after = -np.asarray(margin_loss(digits.linear(r.x_adv), target))
    # The start x is an iterate, and the returned one has the best objective: never worse.
    assert np.all(after >= before - 1e-5) and np.mean(after - before) > 0.1
    hit = _rerun_success(digits.linear, r.x_adv, target, targeted=True)
    np.testing.assert_array_equal(np.asarray(r.success), hit)
    assert hit.mean() > 0.2


def _constant(x):
    return jnp.zeros((x.shape[0], 3), x.dtype)


def test_random_start_is_uniform_in_the_ball():
    """A zero-gradient model never moves the start, so x_adv is the random start itself."""
    x = jnp.full((400, 4), 0.5, jnp.float32)
    y = jnp.zeros(400, jnp.int32)
    wide = (-10.0, 10.0)
    r = pgd(_constant, x, y, eps=0.25, steps=2, bounds=wide, key=KEY)
    u = np.asarray(r.x_adv - x, np.float64).ravel() / 0.25
    assert stats.kstest(u, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3
    r2 = pgd(_constant, x, y, eps=0.25, steps=2, bounds=wide, norm="l2", key=KEY)
    delta = np.asarray(r2.x_adv - x, np.float64)
    radius = np.linalg.norm(delta, axis=1) / 0.25
    # uniform in volume of a 4-ball: radius**4 ~ U(0, 1); directions: first coordinate of the
    # unit vector on S^3 has density (2/pi) sqrt(1 - t^2), i.e. (t+1)/2 ~ Beta(1.5, 1.5)
    assert stats.kstest(radius**4, "uniform").pvalue > 1e-3
    unit = delta[:, 0] / np.linalg.norm(delta, axis=1)
    assert stats.kstest((unit + 1) / 2, stats.beta(1.5, 1.5).cdf).pvalue > 1e-3
    # and it is not degenerate: a point-mass start would fail the same test
    assert stats.kstest(np.full(400, 0.5), "uniform").pvalue < 1e-3


def test_same_key_same_result_and_keys_matter(digits):
    a = _standard(digits, 0.05)
    b = _standard(digits, 0.05)
    c = _standard(digits, 0.05, key=jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a.x_adv), np.asarray(b.x_adv))
    assert not np.array_equal(np.asarray(a.x_adv), np.asarray(c.x_adv))


def test_traced_values_do_not_recompile(digits):
    _standard(digits, 0.1)
    size = pgd_module._pgd._cache_size()
    _standard(
        digits,
        0.2,
        y=(digits.y + 1) % 10,
        step_size=0.05,
        bounds=(-1.0, 2.0),
        key=jax.random.key(3),
    )
    assert pgd_module._pgd._cache_size() == size
    # parameters of a pytree callable are traced too: new weights, same program
    model = jax.tree_util.Partial(lambda w, x: x.reshape(x.shape[0], -1) @ w, digits.w)
    first = pgd(model, digits.x, digits.y, eps=0.1, steps=3, key=KEY)
    size = pgd_module._pgd._cache_size()
    model2 = jax.tree_util.Partial(model.func, -digits.w)
    second = pgd(model2, digits.x, digits.y, eps=0.1, steps=3, key=KEY)
    assert pgd_module._pgd._cache_size() == size
    assert not np.array_equal(np.asarray(first.x_adv), np.asarray(second.x_adv))


def test_works_inside_jit_and_vmap(digits):
    def attack(e):
        return _standard(digits, e).x_adv

    batched = jax.jit(jax.vmap(attack))(jnp.array([0.0, 0.05]))
    np.testing.assert_array_equal(np.asarray(batched[0]), np.asarray(digits.x))
    np.testing.assert_allclose(batched[1], attack(0.05), atol=1e-6)


def test_bad_inputs(digits):
    x, y, f = digits.x, digits.y, digits.linear
    run = functools.partial(pgd, f, x, key=KEY)
    with pytest.raises(ValueError, match="eps"):
        run(y, eps=-1.0, steps=2)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        run(y, eps=0.1, steps=0)
    with pytest.raises(TypeError, match="steps"):
        run(y, eps=0.1, steps=2.5)
    with pytest.raises(ValueError, match="restarts"):
        run(y, eps=0.1, steps=2, restarts=2, random_start=False)
    with pytest.raises(ValueError, match="norm"):
        run(y, eps=0.1, steps=2, norm="inf")
    with pytest.raises(ValueError, match="loss"):
        run(y, eps=0.1, steps=2, loss="cw")
    with pytest.raises(ValueError, match="y\\[5\\] = -1"):
        run(y.at[5].set(-1), eps=0.1, steps=2)
    with pytest.raises(ValueError, match="inside bounds"):
        run(y, eps=0.1, steps=2, bounds=(0.0, 0.5))
    with pytest.raises(ValueError, match="step_size"):
        run(y, eps=0.1, steps=2, step_size=-0.1)
    with pytest.raises(ValueError, match=">= 3 classes"):
        pgd(lambda x: f(x)[:, :2], x, y % 2, eps=0.1, steps=2, loss="dlr", key=KEY)
    with pytest.raises(ValueError, match=">= 4 classes"):
        pgd(lambda x: f(x)[:, :3], x, y % 3, eps=0.1, steps=2, loss="dlr", targeted=True, key=KEY)


def test_key_none_refused_and_int_seed_means_jax_random_key(digits):
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        _standard(digits, 0.05, key=None)
    seeded = _standard(digits, 0.05, key=7)
    typed = _standard(digits, 0.05, key=jax.random.key(7))
    np.testing.assert_array_equal(np.asarray(seeded.x_adv), np.asarray(typed.x_adv))


def _nan_for_high_second_coordinate(x):
    w = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
    return jnp.where(x[:, 1:] > 0.55, jnp.nan, x @ w)


def test_nan_logits_are_never_a_success():
    # example 1 has NaN logits everywhere in its ball; argmax of a NaN row is 0 != its label 1
    x, y = jnp.array([[0.6, 0.4], [0.3, 0.72]]), jnp.array([0, 1])
    for targeted in (False, True):
        yy = jnp.array([1, 0]) if targeted else y
        r = pgd(
            _nan_for_high_second_coordinate, x, yy, eps=0.05, steps=3, key=KEY, targeted=targeted
        )
        assert not bool(r.success[1]), targeted
        assert np.isnan(np.asarray(r.loss)[1])
        assert np.all(np.isfinite(np.asarray(r.x_adv)))


def test_degenerate_inputs_are_named(digits):
    x, y, f = digits.x, digits.y, digits.linear
    run = functools.partial(pgd, f, key=KEY, steps=2)
    with pytest.raises(TypeError, match="x must be an array, got None"):
        run(None, y, eps=0.1)
    with pytest.raises(TypeError, match="y must be an array, got None"):
        run(x, None, eps=0.1)
    with pytest.raises(ValueError, match="at least one example"):
        run(x[:0], y[:0], eps=0.1)
    with pytest.raises(ValueError, match="zero classes"):
        pgd(lambda z: f(z)[:, :0], x, y, eps=0.1, steps=2, key=KEY)
    with pytest.raises(TypeError, match="eps must be a real scalar, got NoneType"):
        run(x, y, eps=None)
    with pytest.raises(ValueError, match="eps must be a scalar"):
        run(x, y, eps=jnp.array([0.1, 0.2]))
    with pytest.raises(TypeError, match="steps must be a Python int"):
        pgd(f, x, y, eps=0.1, steps=np.float32(3), key=KEY)
    with pytest.raises(TypeError, match="restarts must be a Python int"):
        run(x, y, eps=0.1, restarts=1.0)
    with pytest.raises(ValueError, match="step_size must be finite"):
        run(x, y, eps=0.1, step_size=float("inf"))
    with pytest.raises(TypeError, match="targeted must be a bool"):
        run(x, y, eps=0.1, targeted="no")
    with pytest.raises(TypeError, match="random_start must be a bool"):
        run(x, y, eps=0.1, random_start=None)
    with pytest.raises(TypeError, match=r"bounds\[0\] must be a real scalar"):
        run(x, y, eps=0.1, bounds=(None, 1.0))
    with pytest.raises(ValueError, match="x must be finite"):
        run(x.at[0, 0, 0, 0].set(jnp.nan), y, eps=0.1)
