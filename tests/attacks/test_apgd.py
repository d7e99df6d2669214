import importlib

import jax
import numpy as np
import pytest
from attack_helpers import EPSILONS, assert_in_budget_and_box

from xent_jax.attacks import apgd, apgd_checkpoints

apgd_module = importlib.import_module("xent_jax.attacks._apgd")
KEY = jax.random.key(0)


def test_checkpoints_for_100_iterations():
    assert apgd_checkpoints(100) == (22, 41, 57, 70, 80, 87, 93, 99)
    assert set(apgd_checkpoints(100)) == {22, 41, 57, 70, 80, 87, 93, 99}


def test_checkpoints_small_and_large_budgets():
    assert apgd_checkpoints(1) == (1,)
    assert apgd_checkpoints(10) == (2, 3, 4, 5, 6, 7, 8, 9, 10)
    ck = apgd_checkpoints(1000)
    gaps = np.diff((0,) + ck)
    assert ck[0] == 220 and gaps.min() == 60 and np.all(np.diff(gaps) <= 0)
    # the schedule that drives the loop marks exactly these iterations
    is_ckpt, length = apgd_module._schedule(100)
    assert tuple(np.flatnonzero(is_ckpt) + 1) == apgd_checkpoints(100)
    assert tuple(length[is_ckpt]) == (22, 19, 16, 13, 10, 7, 6, 6)


def _run(digits, eps, norm="linf", loss="ce", **kw):
    return apgd(
        digits.linear,
        digits.x,
        digits.y,
        eps=eps,
        steps=4,
        restarts=2,
        norm=norm,
        loss=loss,
        key=KEY,
        **kw,
    )


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_budget_box_success_and_identity_at_zero(digits, norm):
    for eps in EPSILONS:
        r = _run(digits, eps, norm)
        assert_in_budget_and_box(r.x_adv, digits.x, eps, norm)
        pred = np.argmax(np.asarray(digits.linear(r.x_adv)), -1)
        np.testing.assert_array_equal(np.asarray(r.success), pred != np.asarray(digits.y))
        if eps == 0.0:
            np.testing.assert_array_equal(np.asarray(r.x_adv), np.asarray(digits.x))


def test_dlr_breaks_the_model(digits):
    r = _run(digits, 0.05, loss="dlr")
    clean_wrong = np.argmax(digits.linear(digits.x), -1) != np.asarray(digits.y)
    assert np.mean(np.asarray(r.success)) > clean_wrong.mean() + 0.3
    assert np.all(np.asarray(r.success)[clean_wrong])


def test_bad_inputs(digits):
    with pytest.raises(ValueError, match=">= 3 classes"):
        apgd(
            lambda x: digits.linear(x)[:, :2], digits.x, digits.y % 2, eps=0.1, loss="dlr", key=KEY
        )
    with pytest.raises(ValueError, match=">= 4 classes"):
        apgd(
            lambda x: digits.linear(x)[:, :3],
            digits.x,
            digits.y % 3,
            eps=0.1,
            loss="dlr",
            targeted=True,
            key=KEY,
        )
    with pytest.raises(ValueError, match="steps"):
        apgd(digits.linear, digits.x, digits.y, eps=0.1, steps=0, key=KEY)
    with pytest.raises(ValueError, match="eps"):
        apgd(digits.linear, digits.x, digits.y, eps=-0.1, key=KEY)
    with pytest.raises(ValueError, match="steps"):
        apgd_checkpoints(0)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"momentum": 1.5}, r"momentum must be in \[0, 1\], got 1.5"),
        ({"momentum": -0.1}, r"momentum must be in \[0, 1\]"),
        ({"momentum": float("nan")}, r"momentum must be in \[0, 1\], got nan"),
        ({"rho": 2.0}, r"rho must be in \[0, 1\], got 2.0"),
        ({"rho": -0.5}, r"rho must be in \[0, 1\]"),
        ({"eps": float("inf")}, "eps must be finite"),
        ({"steps": 10.0}, "steps must be a Python int"),
        ({"restarts": 0}, "restarts must be >= 1"),
        ({"norm": "l1"}, "norm must be one of"),
        ({"targeted": 1}, "targeted must be a bool"),
    ],
)
def test_parameters_are_validated_by_name(digits, kw, match):
    args = {"eps": 0.1, "steps": 4, "key": KEY} | kw
    with pytest.raises((ValueError, TypeError), match=match):
        apgd(digits.linear, digits.x, digits.y, **args)


def test_momentum_and_rho_at_their_limits_run(digits):
    for kw in ({"momentum": 1.0, "rho": 0.0}, {"momentum": 0.0, "rho": 1.0}):
        r = apgd(digits.linear, digits.x, digits.y, eps=0.05, steps=4, key=KEY, **kw)
        assert_in_budget_and_box(r.x_adv, digits.x, 0.05, "linf")


def test_key_none_refused_and_int_seed_means_jax_random_key(digits):
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        apgd(digits.linear, digits.x, digits.y, eps=0.1, steps=4, key=None)
    a = apgd(digits.linear, digits.x, digits.y, eps=0.05, steps=4, key=5)
    b = apgd(digits.linear, digits.x, digits.y, eps=0.05, steps=4, key=jax.random.key(5))
    np.testing.assert_array_equal(np.asarray(a.x_adv), np.asarray(b.x_adv))


def test_nan_logits_are_never_a_success():
    import jax.numpy as jnp

    w = jnp.eye(3)

    def f(x):  # NaN logits wherever the last coordinate exceeds 0.55
        return jnp.where(x[:, 2:] > 0.55, jnp.nan, x @ w)

    x, y = jnp.array([[0.6, 0.4, 0.3], [0.3, 0.2, 0.72]]), jnp.array([0, 1])
    r = apgd(f, x, y, eps=0.05, steps=4, key=KEY)
    assert not bool(r.success[1])  # argmax of a NaN row is 0 != 1: old code called it broken
    assert np.all(np.isfinite(np.asarray(r.x_adv)))
