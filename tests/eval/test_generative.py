"""Mode coverage, the classifier two-sample test (Bayes-accuracy reference) and set statistics."""

import jax
import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from xent_jax.data import mixture, sample_mixture
from xent_jax.eval import (
    classifier_two_sample_test,
    count_distribution,
    marginal_kl,
    mode_coverage,
    novelty,
    uniqueness,
)


def test_mode_coverage_on_true_samples_and_on_collapse():
    centers, std = mixture("ring")
    real = np.asarray(sample_mixture(jax.random.key(0), centers, std, 2500))
    r = mode_coverage(real, centers, std)
    assert r["modes"] == 8
    assert r["high_quality"] > 0.98  # within 3 std in 2-D: 1 - exp(-4.5) = 98.9%
    assert sum(r["counts"]) == round(r["high_quality"] * 2500)
    collapsed = centers[3] + 0.01 * np.random.default_rng(0).normal(size=(2500, 2))
    r = mode_coverage(collapsed, centers, std)
    assert r["modes"] == 1 and r["counts"][3] == r["high_quality"] * 2500
    blurry = real + np.array([0.2, 0.0])  # every point 10 std off its centre
    assert mode_coverage(blurry, centers, std)["high_quality"] < 0.01


def test_mode_coverage_hand_example_and_errors():
    c = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    x = np.array([[0.05, 0.0], [0.07, 0.0], [0.98, 0.01], [np.nan, 0.0]])
    r = mode_coverage(x, c, 0.02)
    assert r == {"modes": 2, "high_quality": 0.5, "counts": [1, 1, 0]}
    with pytest.raises(ValueError, match="agree"):
        mode_coverage(np.zeros((3, 3)), c, 0.02)
    with pytest.raises(ValueError, match="std"):
        mode_coverage(x, c, 0.0)


@pytest.fixture(scope="module")
def two_sample_results():
    rng = np.random.default_rng(0)
    same = classifier_two_sample_test(
        rng.normal(size=(600, 3)),
        rng.normal(size=(600, 3)),
        key=jax.random.key(0),
        steps=200,
        hidden=(32,),
    )
    shifted = classifier_two_sample_test(
        rng.normal(size=(600, 3)),
        rng.normal(size=(600, 3)) + np.array([1.5, 0.0, 0.0]),
        key=jax.random.key(0),
        steps=200,
        hidden=(32,),
    )
    return same, shifted


def test_two_sample_test_near_chance_for_same_distribution(two_sample_results):
    same, _ = two_sample_results
    assert same["n_test"] == 600
    assert 0.4 < same["accuracy"] < 0.6
    assert same["cross_entropy"] > 0.65
    np.testing.assert_allclose(same["chance_cross_entropy"], np.log(2))


def test_two_sample_test_detects_a_shift(two_sample_results):
    _, shifted = two_sample_results
    # Bayes accuracy for a 1.5 mean shift: Phi(0.75) = 0.773.
    assert 0.72 < shifted["accuracy"] < 0.82
    assert shifted["cross_entropy"] < 0.55


def test_two_sample_errors():
    with pytest.raises(ValueError, match="dim"):
        classifier_two_sample_test(np.zeros((4, 2)), np.zeros((4, 3)), key=jax.random.key(0))
    with pytest.raises(ValueError, match="test_fraction"):
        classifier_two_sample_test(
            np.zeros((4, 2)), np.zeros((4, 2)), key=jax.random.key(0), test_fraction=1.0
        )
    with pytest.raises(ValueError, match="real holds 1 rows with NaN or inf"):
        classifier_two_sample_test(np.array([[0.0, np.nan], [1, 1], [2, 2], [3, 3]]),
                                   np.zeros((4, 2)), key=0)  # fmt: skip


def test_two_sample_counts_non_finite_generated_rows():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 2.0
    fake[[3, 7, 11]] = [np.nan, 0.0], [np.inf, 1.0], [0.0, -np.inf]
    r = classifier_two_sample_test(real, fake, key=0, steps=20, hidden=(8,))
    assert r["non_finite_fake"] == 3 and np.isfinite(r["accuracy"])
    clean = classifier_two_sample_test(real, rng.normal(size=(40, 2)), key=0, steps=20, hidden=(8,))
    assert clean["non_finite_fake"] == 0


def test_set_statistics():
    assert novelty(["a", "b", "b", "c"], ["a", "z"]) == 0.75
    assert uniqueness(["a", "b", "b", "c"]) == 0.75
    np.testing.assert_allclose(count_distribution([0, 2, 2, 7], max_count=3), [0.25, 0, 0.5, 0.25])
    p, q = np.array([0.2, 0.5, 0.3]), np.array([0.3, 0.3, 0.4])
    np.testing.assert_allclose(marginal_kl(p, q), scipy_entropy(p, q), rtol=1e-10)
    np.testing.assert_allclose(marginal_kl(2 * p, 5 * q), scipy_entropy(p, q), rtol=1e-10)
    assert marginal_kl(np.array([0.5, 0.5]), np.array([1.0, 0.0])) > 5  # floored, finite
    with pytest.raises(ValueError):
        novelty([], ["a"])


def test_two_sample_test_runs_through_fit_deterministically():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(80, 2)), rng.normal(size=(80, 2)) + 1.0
    kw = dict(steps=30, hidden=(8,))
    a = classifier_two_sample_test(real, fake, key=4, steps_per_call=1, **kw)
    b = classifier_two_sample_test(real, fake, key=jax.random.key(4), steps_per_call=30, **kw)
    np.testing.assert_allclose(a["cross_entropy"], b["cross_entropy"], rtol=1e-6)
    assert a["accuracy"] == b["accuracy"]
    with pytest.raises(TypeError, match="key"):
        classifier_two_sample_test(real, fake, key=None)
