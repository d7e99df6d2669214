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
