"""Tests for the ridge read-out and R^2 against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score as sk_r2
from sklearn.preprocessing import StandardScaler

from xent_jax.eval import group_folds, r2_score, ridge_cv, ridge_fit


def _data(seed=0, n=60, d=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, size=d) + rng.normal(size=d)
    y = x @ rng.normal(size=d) + 0.3 * rng.normal(size=n) + 2.0
    return x, y


@pytest.mark.parametrize("l2", [0.0, 0.5, 20.0])
def test_ridge_matches_sklearn_on_standardised_features(l2):
    x, y = _data()
    model = ridge_fit(x, y, l2=l2)
    scaler = StandardScaler().fit(x)
    ref = Ridge(alpha=l2).fit(scaler.transform(x), y)
    x_new, _ = _data(seed=1)
    np.testing.assert_allclose(
        model.predict(x_new), ref.predict(scaler.transform(x_new)), atol=1e-8
    )
    np.testing.assert_allclose(model.weights, ref.coef_, atol=1e-8)


def test_constant_feature_is_harmless():
    x, y = _data()
    x[:, 2] = 3.0
    pred = ridge_fit(x, y, l2=1.0).predict(x)
    assert np.all(np.isfinite(pred)) and r2_score(y, pred) > 0.9


def test_r2_matches_sklearn_and_can_be_negative():
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=30), rng.normal(size=30)
    assert r2_score(y, p) == pytest.approx(sk_r2(y, p), abs=1e-12)
    assert r2_score(y, p) < 0
    with pytest.raises(ValueError, match="constant"):
        r2_score(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="1-D"):
        r2_score(np.ones(3), np.zeros(4))


def test_group_folds_never_split_a_group():
    groups = np.repeat(np.arange(7), 3)
    folds = group_folds(groups, 3)
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(21))
    for f in folds:
        others = np.setdiff1d(np.arange(21), f)
        assert not set(groups[f]) & set(groups[others])
    with pytest.raises(ValueError, match="n_folds"):
        group_folds(groups, 8)


def test_ridge_cv_prefers_small_penalty_on_clean_signal_and_large_on_noise():
    x, y = _data(n=80)
    groups = np.arange(80) // 10
    model, scores = ridge_cv(x, y, groups, l2_grid=(1e-3, 1e4), n_folds=4)
    assert model.l2 == 1e-3 and scores[1e-3] > 0.9 > scores[1e4]
    noise = np.random.default_rng(9).normal(size=80)
    model, scores = ridge_cv(x, noise, groups, l2_grid=(1e-3, 1e4), n_folds=4)
    assert model.l2 == 1e4


def test_bad_shapes_raise():
    x, y = _data()
    with pytest.raises(ValueError, match="y must have shape"):
        ridge_fit(x, y[:-1])
    with pytest.raises(ValueError, match="l2"):
        ridge_fit(x, y, l2=-1.0)
    with pytest.raises(ValueError, match="features"):
        ridge_fit(x, y).predict(x[:, :2])


def test_ridge_with_a_constant_column_matches_sklearn():
    x, y = _data(seed=2)
    x[:, 1] = -4.0  # StandardScaler keeps scale 1 for it, as the one standardisation does
    scaler = StandardScaler().fit(x)
    ref = Ridge(alpha=3.0).fit(scaler.transform(x), y)
    np.testing.assert_allclose(
        ridge_fit(x, y, l2=3.0).predict(x), ref.predict(scaler.transform(x)), atol=1e-8
    )


def test_ridge_cv_scores_match_a_sklearn_pipeline_on_the_same_folds():
    from sklearn.pipeline import make_pipeline

    x, y = _data(seed=3, n=90)
    groups = np.arange(90) % 9
    grid = (1e-2, 1.0, 100.0)
    model, scores = ridge_cv(x, y, groups, l2_grid=grid, n_folds=3)
    folds = group_folds(groups, 3)
    for l2 in grid:
        pred = np.empty_like(y)
        for test in folds:
            train = np.setdiff1d(np.arange(90), test)
            pipe = make_pipeline(StandardScaler(), Ridge(alpha=l2)).fit(x[train], y[train])
            pred[test] = pipe.predict(x[test])
        assert scores[l2] == pytest.approx(sk_r2(y, pred), abs=1e-8)
    assert model.l2 == max(grid, key=lambda a: scores[a])
