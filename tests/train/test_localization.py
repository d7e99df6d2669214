"""Localisation heads: L-BFGS heads against scikit-learn, metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from xent_jax import bio
from xent_jax.train import localization as L

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score, jaccard_score  # noqa: E402


def test_composition_features():
    toks = [bio.tokenize("AACX"), bio.tokenize("W")]
    f = L.composition_features(toks)
    assert f.shape == (2, 20)
    np.testing.assert_allclose(f.sum(1), 1.0)
    assert f[0, 0] == pytest.approx(2 / 3) and f[0, 1] == pytest.approx(1 / 3)  # X not counted


def _data(seed=0, n=300, d=5, k=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=(d, k)) * 2
    y = (x @ w + rng.gumbel(size=(n, k))).argmax(1)
    return x, y


def test_softmax_head_matches_sklearn():
    x, y = _data()
    l2 = 1e-2
    p = L.fit_linear_head(x, y, kind="softmax", l2=l2, steps=200)
    ref = LogisticRegression(C=1.0 / (l2 * len(x)), tol=1e-10, max_iter=5000).fit(x, y)
    np.testing.assert_allclose(
        L.predict_head(p, x, kind="softmax"), ref.predict_proba(x), atol=2e-3
    )


def test_sigmoid_head_matches_per_label_sklearn():
    x, y = _data(seed=1)
    hot = np.eye(3)[y]
    hot[:50, 2] = 1  # some rows with two labels
    l2 = 1e-2
    p = L.fit_linear_head(x, hot, kind="sigmoid", l2=l2, steps=200)
    probs = L.predict_head(p, x, kind="sigmoid")
    for j in range(3):
        ref = LogisticRegression(C=1.0 / (l2 * len(x)), tol=1e-10, max_iter=5000)
        ref.fit(x, hot[:, j])
        np.testing.assert_allclose(probs[:, j], ref.predict_proba(x)[:, 1], atol=2e-3)


def test_bad_head_arguments():
    x, y = _data()
    with pytest.raises(ValueError, match="kind"):
        L.fit_linear_head(x, y, kind="tanh")
    with pytest.raises(ValueError, match="features"):
        L.fit_linear_head(x[0], y, kind="softmax")
    with pytest.raises(ValueError, match="sigmoid targets"):
        L.fit_linear_head(x, y, kind="sigmoid")


def test_set_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    true = rng.random((200, 6)) < 0.3
    true[~true.any(1), 0] = True
    pred = L.sigmoid_sets(np.where(true, 0.7, 0.2) + rng.normal(0, 0.25, true.shape))
    out = L.set_metrics(true, pred)
    assert out["exact_match"] == pytest.approx((true == pred).all(1).mean())
    assert out["jaccard"] == pytest.approx(jaccard_score(true, pred, average="samples"))
    np.testing.assert_allclose(out["per_label_f1"], f1_score(true, pred, average=None))
    multi = true.sum(1) > 1
    assert out["multi_count"] == multi.sum()
    assert out["multi_predicted_several"] == pytest.approx((pred[multi].sum(1) > 1).mean())
    assert pred.any(1).all()  # every protein gets at least one location


def test_softmax_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 6, 300))
    out = L.softmax_metrics(y, p, 6)
    assert out["accuracy"] == pytest.approx((y == p).mean())
    assert out["macro_f1"] == pytest.approx(f1_score(y, p, labels=range(5), average="macro"))


def test_compare_heads_on_separable_data():
    classes = ("A", "A;B", "B", "C")
    locations = ("A", "B", "C")
    rng = np.random.default_rng(2)
    feats, ids, hots = {}, {}, {}
    for split, n in (("train", 400), ("val", 100), ("test", 200)):
        y = rng.integers(0, 4, n)
        feats[split] = (np.eye(4)[y] * 3 + rng.normal(0, 0.3, (n, 4))).astype(np.float32)
        ids[split] = y
        hots[split] = L.class_sets(classes, locations)[y].astype(np.float32)
    out = L.compare_heads(
        feats, ids, hots, class_names=classes, locations=locations, l2_grid=(1e-3,), steps=100
    )
    assert out["softmax"]["accuracy"] > 0.95 and out["softmax"]["exact_match"] > 0.95
    assert out["sigmoid"]["exact_match"] > 0.9
    assert out["softmax"]["multi_predicted_several"] > 0.9
