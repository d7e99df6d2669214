import functools

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xent_jax.attacks import evaluate, fgsm, pgd

KEY = jax.random.key(0)
EPS = [0.1, 0.0, 0.02, 0.3, 0.05]  # deliberately unsorted


def _clean_accuracy(fn, x, y):
    return np.mean(np.argmax(np.asarray(fn(x)), -1) == np.asarray(y))


@pytest.fixture(scope="module")
def pgd_eval(digits):
    attack = functools.partial(pgd, steps=3, key=KEY)
    return evaluate(digits.linear, digits.x, digits.y, attack, epsilons=EPS)


def test_shapes_and_accuracy_is_mean_of_success(digits, pgd_eval):
    k, n = len(EPS), len(digits.y)
    assert pgd_eval.success.shape == (k, n) and pgd_eval.success.dtype == jnp.bool_
    np.testing.assert_allclose(pgd_eval.epsilons, EPS, rtol=1e-7)
    np.testing.assert_allclose(pgd_eval.robust_accuracy, 1 - np.mean(pgd_eval.success, axis=1))


def test_eps_zero_equals_clean_accuracy(digits, pgd_eval):
    clean = _clean_accuracy(digits.linear, digits.x, digits.y)
    np.testing.assert_allclose(pgd_eval.clean_accuracy, clean)
    np.testing.assert_allclose(pgd_eval.robust_accuracy[EPS.index(0.0)], clean)


def test_success_is_monotone_over_sorted_epsilons(pgd_eval):
    order = np.argsort(EPS)
    s = np.asarray(pgd_eval.success)[order].astype(int)
    assert np.all(np.diff(s, axis=0) >= 0)
    acc = np.asarray(pgd_eval.robust_accuracy)[order]
    assert np.all(np.diff(acc) <= 0) and acc[-1] == 0.0 and acc[0] > 0.8


def test_success_matches_a_separate_call(digits, pgd_eval):
    single = pgd(digits.linear, digits.x, digits.y, eps=0.02, steps=3, key=KEY)
    clean_wrong = np.argmax(digits.linear(digits.x), -1) != np.asarray(digits.y)
    # only eps = 0 lies below 0.02, so the row is this call's success or a clean error
    expected = np.asarray(single.success) | clean_wrong
    np.testing.assert_array_equal(np.asarray(pgd_eval.success[EPS.index(0.02)]), expected)


def test_fgsm_attack_and_bad_epsilons(digits):
    ev = evaluate(digits.linear, digits.x, digits.y, fgsm, epsilons=[0.0, 0.3])
    assert float(ev.robust_accuracy[0]) == pytest.approx(float(ev.clean_accuracy))
    assert float(ev.robust_accuracy[1]) < 0.2
    with pytest.raises(ValueError, match="epsilons"):
        evaluate(digits.linear, digits.x, digits.y, fgsm, epsilons=[0.1, -0.1])
    with pytest.raises(ValueError, match="epsilons"):
        evaluate(digits.linear, digits.x, digits.y, fgsm, epsilons=[])


class _NNXLinear(nnx.Module):
    def __init__(self, w, b):
        self.dense = nnx.Linear(64, 10, rngs=nnx.Rngs(0))
        self.dense.kernel[...] = w
        self.dense.bias[...] = b

    def __call__(self, x):
        return self.dense(x.reshape(x.shape[0], -1))


class _LinenLinear(linen.Module):
    @linen.compact
    def __call__(self, x):
        return linen.Dense(10)(x.reshape(x.shape[0], -1))


def test_nnx_module_linen_apply_and_plain_function_agree(digits):
    model = _NNXLinear(digits.w, digits.b)
    model.eval()
    before = jax.tree_util.tree_map(np.array, nnx.state(model))
    params = {"params": {"Dense_0": {"kernel": digits.w, "bias": digits.b}}}
    callables = {
        "plain": digits.linear,
        "nnx": model,
        "linen": functools.partial(_LinenLinear().apply, params),
    }
    outs = {
        name: fgsm(fn, digits.x, digits.y, eps=0.05, norm="l2") for name, fn in callables.items()
    }
    for name in ("nnx", "linen"):
        np.testing.assert_allclose(outs[name], outs["plain"], atol=1e-5, err_msg=name)
    r = pgd(model, digits.x, digits.y, eps=0.05, steps=3, key=KEY)
    ref = pgd(digits.linear, digits.x, digits.y, eps=0.05, steps=3, key=KEY)
    np.testing.assert_allclose(r.x_adv, ref.x_adv, atol=1e-5)
    after = jax.tree_util.tree_map(np.array, nnx.state(model))
    jax.tree_util.tree_map(np.testing.assert_array_equal, before, after)


# --------------------------------------------------------------------------- reliability
W2 = jnp.array([[1.0, -1.0], [-1.0, 1.0]])


def _toy(x):
    return x @ W2


def _shifted(amount, norm="linf"):
    """An 'attack' that moves every example ``amount * eps`` along a fixed direction."""

    def attack(fn, x, y, *, eps):
        d = jnp.ones_like(x) if norm == "linf" else jnp.ones_like(x) / np.sqrt(x[0].size)
        return x + amount * eps * d

    return attack


def test_points_outside_the_ball_are_refused(digits):
    x, y = 0.5 * digits.x + 0.25, digits.y  # far from the box, so only the ball matters
    run = functools.partial(evaluate, digits.linear, x, y, bounds=(0.0, 1.0))
    # inside (distance exactly eps, and within the stated tolerance) passes
    run(_shifted(1.0), epsilons=[0.0, 0.1], norm="linf")
    run(_shifted(1.0 + 5e-6), epsilons=[0.1], norm="linf")
    with pytest.raises(ValueError, match=r"linf eps-ball for 48 of 48 examples") as err:
        run(_shifted(1.5), epsilons=[0.0, 0.1, 0.2], norm="linf")
    # the worst violation is named: distance 0.3 at eps 0.2
    assert "eps=0.2" in str(err.value) and "distance 0.3" in str(err.value)
    # an L2 step of length 1.5 eps lies inside the L-inf ball but not the L2 ball
    run(_shifted(1.5, "l2"), epsilons=[0.1], norm="linf")
    with pytest.raises(ValueError, match=r"l2 eps-ball for 48 of 48"):
        run(_shifted(1.5, "l2"), epsilons=[0.1], norm="l2")


def test_only_the_violating_examples_are_counted(digits):
    def leaky(fn, x, y, *, eps):
        return x.at[:3, 0, 0, 0].add(2 * eps)  # three examples leave the ball

    x = 0.4 * digits.x + 0.05  # far from the box edges
    with pytest.raises(ValueError, match="for 3 of 48 examples"):
        evaluate(digits.linear, x, digits.y, leaky, epsilons=[0.1], norm="linf", bounds=(0, 1))


def test_points_outside_the_box_are_refused(digits):
    def overshoot(fn, x, y, *, eps):
        return x.at[0].set(x[0] + eps)  # in the ball, but pixels at 1.0 leave the box

    with pytest.raises(ValueError, match=r"outside the box \[0, 1\] for 1 of 48"):
        evaluate(
            digits.linear,
            digits.x,
            digits.y,
            overshoot,
            epsilons=[0.1],
            norm="linf",
            bounds=(0.0, 1.0),
        )


def test_non_finite_attack_points_are_refused():
    def nan_attack(fn, x, y, *, eps):
        return x.at[1].set(jnp.nan)

    x, y = jnp.array([[0.6, 0.4], [0.2, 0.3]]), jnp.array([0, 1])
    with pytest.raises(ValueError, match="non-finite .* adversarial inputs for 1 of 2"):
        evaluate(_toy, x, y, nan_attack, epsilons=[0.1], norm="linf", bounds=(0.0, 1.0))


def test_norm_and_bounds_come_from_the_attack(digits):
    leaky = functools.partial(fgsm, norm="l2")  # an L2 attack judged against the L2 ball
    ev = evaluate(digits.linear, digits.x, digits.y, leaky, epsilons=[0.5])
    assert float(ev.robust_accuracy[0]) < float(ev.clean_accuracy)
    with pytest.raises(ValueError, match="norm='linf' was passed but the attack uses norm='l2'"):
        evaluate(digits.linear, digits.x, digits.y, leaky, epsilons=[0.5], norm="linf")
    with pytest.raises(ValueError, match="bounds"):
        evaluate(digits.linear, digits.x, digits.y, fgsm, epsilons=[0.1], bounds=(-1.0, 2.0))
    with pytest.raises(ValueError, match="cannot read the attack's norm"):
        evaluate(digits.linear, digits.x, digits.y, _shifted(1.0), epsilons=[0.1])
    with pytest.raises(ValueError, match="inside bounds"):  # clean inputs outside the box
        evaluate(digits.linear, digits.x + 0.5, digits.y, fgsm, epsilons=[0.1])


def _nan_where_x1_high(x):
    """The toy model, but NaN logits wherever the second coordinate exceeds 0.55."""
    return jnp.where(x[:, 1:] > 0.55, jnp.nan, x @ W2)


# ex0 is NaN only at the eps=0.2 point, ex1 broken at 0.2, ex2 broken from 0.05, ex3 NaN clean
NAN_X = jnp.array([[0.6, 0.4], [0.2, 0.32], [0.45, 0.5], [0.3, 0.72]])
NAN_Y = jnp.array([0, 1, 1, 1])


def test_non_finite_logits_raise_by_default():
    with pytest.raises(ValueError, match="non-finite .*logits for 1 of 4 clean inputs") as err:
        evaluate(_nan_where_x1_high, NAN_X, NAN_Y, fgsm, epsilons=[0.0, 0.05, 0.2])
    assert "eps=0.2: 2" in str(err.value)


def test_non_finite_logits_are_counted_never_robust_or_broken():
    eps = [0.2, 0.0, 0.05]  # unsorted on purpose
    ev = evaluate(_nan_where_x1_high, NAN_X, NAN_Y, fgsm, epsilons=eps, nonfinite="count")
    # independent reference: the points fgsm returns, scored by hand with numpy
    x_adv = np.stack([np.asarray(fgsm(_nan_where_x1_high, NAN_X, NAN_Y, eps=e)) for e in eps])
    assert np.all(np.isfinite(x_adv))
    logits = x_adv @ np.asarray(W2)
    nan = x_adv[..., 1] > 0.55
    wrong = ~nan & (logits.argmax(-1) != np.asarray(NAN_Y))
    np.testing.assert_array_equal(nan[1], [False, False, False, True])  # only ex3 is NaN clean
    order = np.argsort(eps)
    status = np.where(wrong | wrong[1], 2, np.where(nan | nan[1], 1, 0))[order]
    status = np.maximum.accumulate(status, axis=0)[np.argsort(order)]
    np.testing.assert_array_equal(np.asarray(ev.success), status == 2)
    np.testing.assert_array_equal(np.asarray(ev.nonfinite), status == 1)
    np.testing.assert_array_equal(np.asarray(ev.num_nonfinite), [2, 1, 1])
    np.testing.assert_array_equal(ev.nonfinite[0], [True, False, False, True])
    # accuracy among the examples with a finite verdict: eps 0.2 -> 0/2, 0 -> 3/3, 0.05 -> 2/3
    np.testing.assert_allclose(np.asarray(ev.robust_accuracy), [0.0, 1.0, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(float(ev.clean_accuracy), 1.0)
    # nothing is both: every example is exactly one of robust, broken, unknown
    assert not np.any(np.asarray(ev.success) & np.asarray(ev.nonfinite))


def test_degenerate_inputs_are_named(digits):
    f, x, y = digits.linear, digits.x, digits.y
    with pytest.raises(ValueError, match="at least one example"):
        evaluate(f, x[:0], y[:0], fgsm, epsilons=[0.1])
    with pytest.raises(TypeError, match="x must be an array, got None"):
        evaluate(f, None, y, fgsm, epsilons=[0.1])
    with pytest.raises(TypeError, match="y must be an array, got None"):
        evaluate(f, x, None, fgsm, epsilons=[0.1])
    with pytest.raises(TypeError, match="epsilons"):
        evaluate(f, x, y, fgsm, epsilons=None)
    with pytest.raises(TypeError, match="attack must be callable"):
        evaluate(f, x, y, None, epsilons=[0.1])
    with pytest.raises(ValueError, match="zero classes"):
        evaluate(lambda z: f(z)[:, :0], x, y, fgsm, epsilons=[0.1])
    with pytest.raises(ValueError, match="nonfinite"):
        evaluate(f, x, y, fgsm, epsilons=[0.1], nonfinite="ignore")


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_real_attacks_pass_the_ball_check_at_every_budget(digits, norm):
    from attack_helpers import EPSILONS

    attack = functools.partial(pgd, steps=3, norm=norm, key=KEY)
    ev = evaluate(digits.mlp, digits.x, digits.y, attack, epsilons=EPSILONS)
    assert ev.success.shape == (len(EPSILONS), len(digits.y))
    assert int(np.asarray(ev.num_nonfinite).sum()) == 0
