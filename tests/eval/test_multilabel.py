"""Set metrics and softmax metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, jaccard_score

from xent_jax.eval import class_sets, f1_per_column, set_metrics, sigmoid_sets, softmax_metrics


def _sets(seed=0, n=200, k=6):
    rng = np.random.default_rng(seed)
    true = rng.random((n, k)) < 0.3
    true[~true.any(1), 0] = True
    pred = sigmoid_sets(np.where(true, 0.7, 0.2) + rng.normal(0, 0.25, true.shape))
    return true, pred


@pytest.mark.parametrize("seed", [0, 1])
def test_set_metrics_match_sklearn(seed):
    true, pred = _sets(seed)
    out = set_metrics(true, pred)
    assert out["exact_match"] == pytest.approx(accuracy_score(true, pred))  # subset accuracy
    assert out["jaccard"] == pytest.approx(jaccard_score(true, pred, average="samples"))
    np.testing.assert_allclose(out["per_label_f1"], f1_score(true, pred, average=None))
    assert out["macro_f1"] == pytest.approx(f1_score(true, pred, average="macro"))
    multi = true.sum(1) > 1
    assert out["multi_count"] == multi.sum()
    assert out["multi_predicted_several"] == pytest.approx((pred[multi].sum(1) > 1).mean())
    assert out["multi_exact_match"] == pytest.approx(accuracy_score(true[multi], pred[multi]))


def test_f1_per_column_matches_sklearn_with_empty_columns():
    true, pred = _sets(2)
    true[:, 3] = False
    pred[:, 3] = False  # neither true nor predicted: sklearn's zero_division=0 gives 0
    np.testing.assert_allclose(
        f1_per_column(true, pred), f1_score(true, pred, average=None, zero_division=0)
    )


def test_sigmoid_sets_never_empty_and_thresholded():
    probs = np.array([[0.1, 0.3, 0.2], [0.9, 0.8, 0.1], [0.5, 0.49, 0.0]])
    got = sigmoid_sets(probs)
    np.testing.assert_array_equal(got, [[0, 1, 0], [1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(
        sigmoid_sets(probs, threshold=0.85), [[0, 1, 0], [1, 0, 0], [1, 0, 0]]
    )


def test_softmax_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 6, 300))
    out = softmax_metrics(y, p, 6)
    assert out["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert out["macro_f1"] == pytest.approx(f1_score(y, p, labels=range(5), average="macro"))
    np.testing.assert_allclose(
        out["per_class_f1"], f1_score(y, p, labels=range(6), average=None, zero_division=0)
    )


def test_class_sets_and_errors():
    sets = class_sets(["A", "A;B", "C"], ["A", "B", "C"])
    np.testing.assert_array_equal(sets, [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="'D'"):
        class_sets(["A;D"], ["A"])
    with pytest.raises(ValueError, match="pred_sets"):
        set_metrics(np.zeros((3, 2), bool), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="probs"):
        sigmoid_sets(np.zeros(3))
