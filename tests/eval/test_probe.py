"""The one L-BFGS linear head against scikit-learn's LogisticRegression on real data (digits).

Equivalence: sklearn minimises ``C * sum_i CE_i + ||W||^2 / 2``; dividing by ``C n`` gives our
``mean_i CE_i + (l2 / 2) ||W||^2`` with ``l2 = 1 / (C n)``; neither penalises the intercept.
Tolerances (float32 L-BFGS, 200 iterations, against float64 sklearn at tol 1e-12): probabilities
1e-5, weights 1e-4.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from xent_jax.eval import fit_linear_head, linear_probe, predict_head, standardize


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x, y = d.data, d.target
    perm = np.random.default_rng(0).permutation(len(y))
    tr, te = perm[:1200], perm[1200:]
    x_tr, x_te = standardize(x[tr], x[te])
    return x_tr, y[tr], x_te, y[te]


def _sklearn(x, y, l2):
    return LogisticRegression(C=1.0 / (l2 * len(x)), tol=1e-12, max_iter=20_000).fit(
        x.astype(np.float64), y
    )


def test_softmax_head_matches_sklearn_on_digits(digits):
    x_tr, y_tr, x_te, _ = digits
    l2 = 1e-2
    p = fit_linear_head(x_tr, y_tr, kind="softmax", l2=l2, steps=200)
    ref = _sklearn(x_tr, y_tr, l2)
    np.testing.assert_allclose(predict_head(p, x_te), ref.predict_proba(x_te), atol=1e-5)
    np.testing.assert_allclose(p["w"], ref.coef_.T, atol=1e-4)
    np.testing.assert_allclose(p["b"], ref.intercept_, atol=1e-4)


def test_sigmoid_head_matches_per_label_sklearn_on_digits(digits):
    x_tr, y_tr, x_te, _ = digits
    # two labels per digit: "is even" and "is at least 5" (some rows have both, some neither)
    hot = np.stack([y_tr % 2 == 0, y_tr >= 5], axis=1).astype(np.float32)
    l2 = 1e-2
    p = fit_linear_head(x_tr, hot, kind="sigmoid", l2=l2, steps=200)
    probs = np.asarray(predict_head(p, x_te, kind="sigmoid"))
    for j in range(2):
        ref = _sklearn(x_tr, hot[:, j], l2)
        np.testing.assert_allclose(probs[:, j], ref.predict_proba(x_te)[:, 1], atol=1e-5)


def test_linear_probe_matches_sklearn_accuracy(digits):
    x_tr, y_tr, x_te, y_te = digits
    out = linear_probe(x_tr, y_tr, x_te, y_te, l2=1e-2, steps=200, standardize_features=False)
    ref = _sklearn(x_tr, y_tr, 1e-2)
    assert out["accuracy"] == pytest.approx(ref.score(x_te, y_te), abs=1 / len(y_te))
    assert out["train_accuracy"] == pytest.approx(ref.score(x_tr, y_tr), abs=1 / len(y_tr))
    # the reported objective is the objective at the returned weights, in sklearn's scaling
    ce = -np.mean(np.log(ref.predict_proba(x_tr)[np.arange(len(y_tr)), y_tr]))
    sk_obj = ce + 0.5 * 1e-2 * np.sum(ref.coef_**2)
    assert out["objective"] == pytest.approx(sk_obj, rel=1e-5)
    # standardising inside gives the same as standardising outside (already standard: no-op)
    again = linear_probe(x_tr, y_tr, x_te, y_te, l2=1e-2, steps=200)
    assert again["accuracy"] == pytest.approx(out["accuracy"], abs=1 / len(y_te))


def test_predict_head_jits_and_rows_sum_to_one(variant, digits):
    x_tr, y_tr, x_te, _ = digits
    p = fit_linear_head(x_tr, y_tr, l2=1e-1, steps=50)
    probs = variant(predict_head, static_argnames="kind")(p, x_te, kind="softmax")
    np.testing.assert_allclose(np.asarray(probs).sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, jax.nn.softmax(x_te @ p["w"] + p["b"][None, :]), atol=1e-6)


def test_bad_head_arguments():
    x = np.zeros((6, 2), np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="kind"):
        fit_linear_head(x, y, kind="tanh")
    with pytest.raises(ValueError, match="features"):
        fit_linear_head(x[0], y)
    with pytest.raises(ValueError, match="sigmoid targets"):
        fit_linear_head(x, y, kind="sigmoid")
    with pytest.raises(TypeError, match="integers"):
        fit_linear_head(x, y.astype(np.float32))
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        fit_linear_head(x, y, num_classes=2)
    with pytest.raises(ValueError, match="l2"):
        fit_linear_head(x, y, l2=-1.0)
    with pytest.raises(ValueError, match="steps"):
        fit_linear_head(x, y, steps=0)
    with pytest.raises(ValueError, match="features must be"):
        predict_head({"w": np.zeros((3, 2)), "b": np.zeros(2)}, x)
    with pytest.raises(ValueError, match="feature sizes"):
        linear_probe(x, y, np.zeros((2, 3)), y[:2])
