import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax.attacks import attack_suite, evaluate, fgsm, pgd, robustness_curves

KEY = jax.random.key(0)
EPS = [0.1, 0.0, 0.02, 0.3, 0.05]  # as in test_evaluate, so the compiled program is shared


def test_attack_suite_names_and_filter():
    suite = attack_suite("l2", key=KEY, pgd_steps=7, strong_steps=50, restarts=4)
    assert list(suite) == ["FGSM", "PGD-7", "PGD-50 x4", "APGD-CE", "APGD-DLR"]
    assert suite["PGD-50 x4"].keywords["norm"] == "l2"
    assert list(attack_suite("linf", key=KEY, kinds=("apgd_dlr", "fgsm"))) == ["FGSM", "APGD-DLR"]
    with pytest.raises(ValueError, match="norm"):
        attack_suite("l1", key=KEY)
    with pytest.raises(ValueError, match="kinds"):
        attack_suite("linf", key=KEY, kinds=("cw",))


def test_curves_match_evaluate_and_worst_case_is_the_minimum(digits):
    attacks = {"FGSM": fgsm, "PGD": functools.partial(pgd, steps=3, key=KEY)}
    curves = robustness_curves(digits.linear, digits.x, digits.y, attacks, epsilons=EPS)
    assert list(curves) == ["FGSM", "PGD", "worst case"]
    ev = evaluate(digits.linear, digits.x, digits.y, attacks["PGD"], epsilons=EPS)
    np.testing.assert_allclose(curves["PGD"], ev.robust_accuracy, atol=1e-6)
    worst = np.asarray(curves["worst case"])
    assert np.all(worst <= np.minimum(curves["FGSM"], curves["PGD"]) + 1e-9)


def test_batches_give_the_same_curves(digits):
    attacks = {"FGSM": fgsm}
    whole = robustness_curves(digits.linear, digits.x, digits.y, attacks, epsilons=[0.0, 0.1])
    parts = robustness_curves(
        digits.linear, digits.x, digits.y, attacks, epsilons=[0.0, 0.1], batch_size=16
    )
    np.testing.assert_allclose(parts["FGSM"], whole["FGSM"], atol=1e-9)
    with pytest.raises(ValueError, match="batch_size"):
        robustness_curves(digits.linear, digits.x, digits.y, attacks, epsilons=[0.1], batch_size=0)


def test_suite_key_and_counts_are_validated():
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        attack_suite("linf", key=None)
    a, b = attack_suite("linf", key=3), attack_suite("linf", key=jax.random.key(3))
    np.testing.assert_array_equal(
        jax.random.key_data(a["PGD-10"].keywords["key"]),
        jax.random.key_data(b["PGD-10"].keywords["key"]),
    )
    for name in ("pgd_steps", "strong_steps", "restarts", "apgd_steps"):
        with pytest.raises(TypeError, match=f"{name} must be a Python int"):
            attack_suite("linf", key=KEY, **{name: 2.5})
    with pytest.raises(ValueError, match="kinds must be a non-empty sequence"):
        attack_suite("linf", key=KEY, kinds="fgsm")
    with pytest.raises(ValueError, match="kinds must be a non-empty sequence"):
        attack_suite("linf", key=KEY, kinds=())


def test_curves_refuse_degenerate_input_and_leaky_attacks(digits):
    f, x, y = digits.linear, digits.x, digits.y
    run = functools.partial(robustness_curves, f, epsilons=[0.1])
    with pytest.raises(ValueError, match="attacks must be a non-empty mapping"):
        run(x, y, {})
    with pytest.raises(TypeError, match="batch_size must be a Python int"):
        run(x, y, {"FGSM": fgsm}, batch_size=2.5)
    with pytest.raises(ValueError, match="at least one example"):
        run(x[:0], y[:0], {"FGSM": fgsm})
    with pytest.raises(TypeError, match="x must be an array, got None"):
        run(None, y, {"FGSM": fgsm})

    def leaky(fn, x, y, *, eps, norm="linf", bounds=(0.0, 1.0)):
        return jnp.clip(fgsm(fn, x, y, eps=3 * eps), 0.0, 1.0)

    with pytest.raises(ValueError, match="linf eps-ball"):
        run(x, y, {"leaky": leaky})
