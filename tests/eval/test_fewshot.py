"""Few-shot draws (uniformity against a chi-square reference) and the few-shot probe (sklearn)."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from xent_jax.eval import fewshot_indices, fewshot_probe, mean_interval, standardize


def test_fewshot_indices_properties():
    y = np.array([2] * 7 + [0] * 3 + [5] * 4)
    np.random.default_rng(0).shuffle(y)
    idx = fewshot_indices(y, 3, key=1, draws=4)
    assert idx.shape == (4, 9) and idx.dtype == np.int64
    for row in idx:
        assert np.all(np.diff(row) > 0)  # sorted, no repeats
        np.testing.assert_array_equal(np.bincount(y[row], minlength=6)[[0, 2, 5]], [3, 3, 3])
    # draw d does not depend on how many draws are asked for; int seed == typed key
    np.testing.assert_array_equal(fewshot_indices(y, 3, key=jax.random.key(1), draws=2), idx[:2])
    assert not np.array_equal(fewshot_indices(y, 3, key=2, draws=4), idx)


def test_fewshot_indices_are_uniform_subsets():
    # class 0 has 4 members: each of the C(4, 2) = 6 pairs must be equally likely
    y = np.array([0, 1, 0, 1, 0, 1, 0])
    draws = 3000
    idx = fewshot_indices(y, 2, key=0, draws=draws)
    members = np.flatnonzero(y == 0)
    pairs = {p: i for i, p in enumerate(itertools.combinations(members.tolist(), 2))}
    counts = np.zeros(len(pairs))
    for row in idx:
        counts[pairs[tuple(row[y[row] == 0].tolist())]] += 1
    assert stats.chisquare(counts).pvalue > 1e-3
    # class 1 has 3 members, each kept with probability 2/3
    kept = np.array([(idx == m).any(1).mean() for m in np.flatnonzero(y == 1)])
    np.testing.assert_allclose(kept, 2 / 3, atol=5 * np.sqrt(2 / 9 / draws))


def test_fewshot_indices_errors():
    y = np.array([0, 0, 1])
    with pytest.raises(ValueError, match="class 1 has 1 examples"):
        fewshot_indices(y, 2, key=0)
    with pytest.raises(ValueError, match="per_class"):
        fewshot_indices(y, 0, key=0)
    with pytest.raises(ValueError, match="draws"):
        fewshot_indices(y, 1, key=0, draws=0)
    with pytest.raises(TypeError, match="key"):
        fewshot_indices(y, 1, key=None)
    with pytest.raises(TypeError, match="integers"):
        fewshot_indices(y.astype(float), 1, key=0)


def test_fewshot_probe_matches_sklearn_per_draw():
    d = load_digits()
    perm = np.random.default_rng(0).permutation(len(d.target))
    tr, te = perm[:1000], perm[1000:]
    x_tr, x_te = d.data[tr], d.data[te]
    y_tr, y_te = d.target[tr], d.target[te]
    l2 = 1e-2
    r = fewshot_probe(x_tr, y_tr, x_te, y_te, per_class=5, key=3, draws=3, l2=l2, steps=200)
    np.testing.assert_array_equal(r.indices, fewshot_indices(y_tr, 5, key=3, draws=3))
    z_tr, z_te = standardize(x_tr, x_te)  # statistics of the whole unlabelled pool
    for acc, rows in zip(r.accuracies, r.indices, strict=True):
        ref = LogisticRegression(C=1.0 / (l2 * len(rows)), tol=1e-12, max_iter=20_000)
        ref.fit(z_tr[rows].astype(np.float64), y_tr[rows])
        assert acc == pytest.approx(ref.score(z_te, y_te), abs=2 / len(y_te))
    assert r.interval == mean_interval(r.accuracies)
    assert 0.6 < r.interval.mean < 0.95 and r.interval.n == 3


def test_fewshot_probe_errors():
    x, y = np.zeros((6, 2), np.float32), np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="feature sizes"):
        fewshot_probe(x, y, np.zeros((2, 3)), y[:2], per_class=1, key=0)
    with pytest.raises(ValueError, match="labels for features_test"):
        fewshot_probe(x, y, x, y[:2], per_class=1, key=0)
