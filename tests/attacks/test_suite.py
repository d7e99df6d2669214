import functools

import jax
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
