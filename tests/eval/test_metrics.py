"""Metrics and intervals against scikit-learn, scipy and numpy references, eager and jitted."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from xent_jax.eval import (
    accuracy,
    average_precision,
    bootstrap_interval,
    expected_calibration_error,
    mean_interval,
    reliability_bins,
    roc_auc,
    t_quantile,
)
from xent_jax.eval._metrics import _resample_indices

# ---------------------------------------------------------------- t quantile and mean_interval


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 29, 100, 1000, 2.5])
def test_t_quantile_matches_scipy(df):
    for q in (0.001, 0.025, 0.3, 0.5, 0.6, 0.9, 0.95, 0.975, 0.995, 0.9995):
        np.testing.assert_allclose(t_quantile(q, df), stats.t.ppf(q, df), rtol=1e-9, atol=1e-12)


def test_t_quantile_bad_arguments():
    with pytest.raises(ValueError, match="q must be"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="df must be"):
        t_quantile(0.9, 0)


@pytest.mark.parametrize("n", [2, 3, 5, 20])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_mean_interval_matches_scipy(n, level):
    x = np.random.default_rng(n).normal(0.7, 0.05, size=n)
    r = mean_interval(x, level=level)
    low, high = stats.t.interval(level, n - 1, loc=x.mean(), scale=stats.sem(x))
    assert r.n == n and r.method == "student-t" and r.note == "" and r.level == level
    np.testing.assert_allclose([r.mean, r.low, r.high], [x.mean(), low, high], atol=1e-12)
    assert r.values == tuple(x.tolist())


def test_mean_interval_single_value_is_degenerate_with_a_note():
    r = mean_interval([0.25])
    assert (r.mean, r.low, r.high, r.n, r.method) == (0.25, 0.25, 0.25, 1, "none")
    assert "n=1" in r.note and not np.isnan(r.low)
    assert r.to_dict()["values"] == [0.25] and "values" not in r.to_dict(values=False)


def test_mean_interval_non_finite_propagates_and_is_noted():
    r = mean_interval([0.5, np.nan, 0.7])
    assert np.isnan(r.mean) and np.isnan(r.low) and np.isnan(r.high)
    assert r.note == "1 of 3 values are not finite"


def test_mean_interval_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        mean_interval([])
    with pytest.raises(ValueError, match="1-D"):
        mean_interval(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="level"):
        mean_interval([1.0, 2.0], level=95)


# ---------------------------------------------------------------- bootstrap


def _scored(seed=0, n=200):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(y * 0.8 + rng.normal(size=n), 1).astype(np.float32)  # rounding makes ties
    return s, y


def test_bootstrap_matches_numpy_percentile_reference():
    s, y = _scored()
    key = jax.random.key(3)
    r = bootstrap_interval(roc_auc, s, y, key=key, num_resamples=300, batch_size=64)
    idx = np.asarray(_resample_indices(key, len(y), 300))
    ref = np.array([roc_auc_score(y[i], s[i]) for i in idx])
    np.testing.assert_allclose(np.array(r.values), ref, atol=1e-5)
    np.testing.assert_allclose([r.low, r.high], np.quantile(ref, [0.025, 0.975]), atol=1e-5)
    np.testing.assert_allclose(r.mean, roc_auc_score(y, s), atol=1e-6)
    assert r.n == len(y) and r.method == "percentile-bootstrap" and r.low < r.mean < r.high


def test_bootstrap_of_the_mean_is_close_to_the_t_interval():
    x = np.random.default_rng(1).normal(size=400).astype(np.float32)
    r = bootstrap_interval(jnp.mean, x, key=0, num_resamples=2000)
    t = mean_interval(x)
    # percentile bootstrap of a mean ~ normal interval; Monte-Carlo error ~ 3% of the half-width
    half = t.high - t.mean
    assert abs(r.low - t.low) < 0.1 * half and abs(r.high - t.high) < 0.1 * half


def test_bootstrap_keys():
    s, y = _scored(n=50)
    a = bootstrap_interval(roc_auc, s, y, key=5, num_resamples=50)
    b = bootstrap_interval(roc_auc, s, y, key=jax.random.key(5), num_resamples=50)
    c = bootstrap_interval(roc_auc, s, y, key=6, num_resamples=50)
    assert a == b and a.values != c.values
    with pytest.raises(TypeError, match="key"):
        bootstrap_interval(roc_auc, s, y, key=None)


def test_bootstrap_bad_input():
    s, y = _scored(n=20)
    with pytest.raises(ValueError, match="example axis"):
        bootstrap_interval(roc_auc, s, y[:-1], key=0)
    with pytest.raises(ValueError, match="num_resamples"):
        bootstrap_interval(roc_auc, s, y, key=0, num_resamples=1)
    with pytest.raises(ValueError, match="scalar"):
        bootstrap_interval(lambda a: a, s, key=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval(roc_auc, s, y, key=0, level=1.5)


# ---------------------------------------------------------------- metrics


def test_accuracy_matches_sklearn(variant):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(100, 4)).astype(np.float32)
    y = rng.integers(0, 4, 100)
    ref = accuracy_score(y, logits.argmax(1))
    np.testing.assert_allclose(variant(accuracy)(logits, y), ref, atol=1e-6)
    np.testing.assert_allclose(variant(accuracy)(logits.argmax(1), y), ref, atol=1e-6)
    with pytest.raises(ValueError, match="predictions"):
        accuracy(logits[:5], y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_and_average_precision_match_sklearn_with_ties(variant, seed):
    s, y = _scored(seed)
    assert len(np.unique(s)) < len(s)  # the data has ties
    np.testing.assert_allclose(variant(roc_auc)(s, y), roc_auc_score(y, s), atol=1e-6)
    np.testing.assert_allclose(
        variant(average_precision)(s, y), average_precision_score(y, s), atol=1e-6
    )
    yb = y.astype(bool)
    np.testing.assert_allclose(roc_auc(s, yb), roc_auc_score(y, s), atol=1e-6)


def test_ranking_metrics_on_perfect_and_constant_scores():
    y = np.array([0, 0, 1, 1, 1])
    assert float(roc_auc(y.astype(np.float32), y)) == 1.0
    assert float(average_precision(y.astype(np.float32), y)) == 1.0
    const = np.zeros(5, np.float32)
    assert float(roc_auc(const, y)) == roc_auc_score(y, const) == 0.5
    np.testing.assert_allclose(average_precision(const, y), average_precision_score(y, const))


def test_ranking_metrics_single_class():
    s = np.array([0.1, 0.5, 0.9], np.float32)
    y = np.ones(3, int)
    with pytest.raises(ValueError, match="both classes"):
        roc_auc(s, y)
    with pytest.raises(ValueError, match="both classes"):
        average_precision(s, 1 - y)
    with pytest.raises(ValueError, match="0/1"):
        roc_auc(s, np.array([0, 1, 2]))
    assert np.isnan(jax.jit(roc_auc)(s, y))  # under jit the undefined AUC is NaN, not a number


def _reference_bins(probs, labels, num_bins):
    """Loop over bins (lo, hi] in float64; the first bin also holds 0."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim == 1:
        conf, pred = np.maximum(probs, 1 - probs), (probs > 0.5).astype(int)
    else:
        conf, pred = probs.max(1), probs.argmax(1)
    correct = pred == labels
    edges = np.linspace(0, 1, num_bins + 1)
    counts, accs, confs, ece = [], [], [], 0.0
    for b in range(num_bins):
        inside = (conf > edges[b]) & (conf <= edges[b + 1])
        if b == 0:
            inside |= conf == 0
        counts.append(inside.sum())
        if inside.any():
            accs.append(correct[inside].mean())
            confs.append(conf[inside].mean())
            ece += inside.mean() * abs(accs[-1] - confs[-1])
        else:
            accs.append(np.nan)
            confs.append(np.nan)
    return np.array(counts), np.array(accs), np.array(confs), ece


@pytest.mark.parametrize("num_bins", [1, 10, 15])
def test_calibration_matches_numpy_reference(variant, num_bins):
    rng = np.random.default_rng(num_bins)
    logits = 2 * rng.normal(size=(500, 5))
    probs = np.asarray(jax.nn.softmax(logits), np.float32)
    y = rng.integers(0, 5, 500)
    counts, accs, confs, ece = _reference_bins(probs, y, num_bins)
    bins = variant(reliability_bins, static_argnames="num_bins")(probs, y, num_bins=num_bins)
    np.testing.assert_array_equal(bins.counts, counts)
    np.testing.assert_allclose(bins.accuracy, accs, atol=1e-6)
    np.testing.assert_allclose(bins.confidence, confs, atol=1e-6)
    np.testing.assert_allclose(bins.edges, np.linspace(0, 1, num_bins + 1), atol=1e-7)
    got = variant(expected_calibration_error, static_argnames="num_bins")(
        probs, y, num_bins=num_bins
    )
    np.testing.assert_allclose(got, ece, atol=1e-6)


def test_binary_calibration_and_perfect_calibration():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=2000).astype(np.float32)
    y = (rng.uniform(size=2000) < p).astype(int)  # calibrated by construction
    counts, accs, confs, ece = _reference_bins(p, y, 10)
    np.testing.assert_allclose(expected_calibration_error(p, y, num_bins=10), ece, atol=1e-6)
    assert float(expected_calibration_error(p, y, num_bins=10)) < 0.05
    overconfident = np.where(p > 0.5, 1.0, 0.0).astype(np.float32)
    assert float(expected_calibration_error(overconfident, y)) > 0.15


def test_calibration_bad_input():
    with pytest.raises(ValueError, match="probs"):
        expected_calibration_error(np.ones((4, 3), np.float32), np.zeros(5, int))
    with pytest.raises(TypeError, match="floating"):
        reliability_bins(np.ones((4, 3), int), np.zeros(4, int))
    with pytest.raises(ValueError, match="num_bins"):
        reliability_bins(np.ones((4, 3), np.float32), np.zeros(4, int), num_bins=0)


# ---------------------------------------------------------------- non-finite model outputs


def test_nan_scores_give_nan_metrics_never_a_number(variant):
    logits = np.array([[np.nan, 1.0], [2.0, 0.0], [0.0, 3.0]], np.float32)
    y = np.array([0, 0, 1])
    assert float(accuracy(logits[1:], y[1:])) == 1.0  # the finite rows alone are all right
    assert np.isnan(variant(accuracy)(logits, y))  # was 1.0: argmax of a NaN row is 0
    s, yb = np.array([0.1, np.nan, 0.8, 0.3], np.float32), np.array([0, 0, 1, 1])
    assert np.isnan(variant(roc_auc)(s, yb)) and np.isnan(variant(average_precision)(s, yb))
    p = np.array([[0.9, 0.1], [np.nan, np.nan], [0.3, 0.7]], np.float32)
    bins = variant(reliability_bins)(p, np.array([0, 1, 1]))
    assert int(np.sum(bins.counts)) == 2  # the NaN row is in no bin
    assert np.isnan(bins.confidence).all() and np.isnan(bins.accuracy).all()
    assert np.isnan(variant(expected_calibration_error)(p, np.array([0, 1, 1])))
    finite = variant(expected_calibration_error)(p[[0, 2]], np.array([0, 1]))
    np.testing.assert_allclose(finite, np.mean([0.1, 0.3]), atol=1e-6)


def test_calibration_refuses_probabilities_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"probs must lie in \[0, 1\].*index \[1, 0\]"):
        expected_calibration_error(np.array([[0.5, 0.5], [1.5, -0.5]], np.float32), [0, 1])
    with pytest.raises(ValueError, match="probs must lie"):
        reliability_bins(np.array([0.2, -0.1], np.float32), np.array([0, 1]))


def test_bootstrap_counts_non_finite_replicates_in_its_note():
    s = np.array([0.1, 0.4, 0.35, 0.8, np.nan, 0.2], np.float32)
    y = np.array([0, 0, 1, 1, 1, 0])
    r = bootstrap_interval(roc_auc, s, y, key=0, num_resamples=50)
    assert np.isnan(r.mean)
    bad = int(np.count_nonzero(~np.isfinite(r.values)))
    assert 0 < bad <= 50 and r.note == f"{bad} of 50 replicates are not finite"
