"""Set-based metrics for multi-label predictions (and the softmax metrics they are compared with).

A softmax head predicts one class, which may stand for a fixed set of labels (a class name such as
``"Cytoplasm;Nucleus"``); a sigmoid head predicts any set. :func:`class_sets` turns classes into
label sets and :func:`sigmoid_sets` turns sigmoid probabilities into sets, so both heads are
scored by the same :func:`set_metrics`. Host-side numpy functions of boolean arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from jax.typing import ArrayLike

__all__ = ["class_sets", "f1_per_column", "set_metrics", "sigmoid_sets", "softmax_metrics"]


def class_sets(class_names: Sequence[str], locations: Sequence[str]) -> np.ndarray:
    """Multi-hot ``[num_classes, num_labels]``: which labels each ``;``-joined class name holds.

    Args:
      class_names: names such as ``"Nucleus"`` or ``"Cytoplasm;Nucleus"``.
      locations: the label names; every part of every class name must be one of them.

    Returns:
      bool ``[len(class_names), len(locations)]``.

    Examples:
      >>> class_sets(["A", "A;B", "B"], ["A", "B"]).astype(int).tolist()
      [[1, 0], [1, 1], [0, 1]]
    """
    index = {loc: j for j, loc in enumerate(locations)}
    out = np.zeros((len(class_names), len(locations)), bool)
    for i, name in enumerate(class_names):
        for part in name.split(";"):
            if part not in index:
                raise ValueError(f"class {name!r} names {part!r}, which is not in locations")
            out[i, index[part]] = True
    return out


def sigmoid_sets(probs: ArrayLike, *, threshold: float = 0.5) -> np.ndarray:
    """Predicted label sets: labels above ``threshold``; the top label when none is.

    Args:
      probs: ``[n, labels]`` independent label probabilities.
      threshold: a label is predicted when its probability exceeds this.

    Returns:
      bool ``[n, labels]``, every row with at least one label.

    Examples:
      >>> sigmoid_sets(np.array([[0.9, 0.6, 0.1], [0.2, 0.4, 0.3]])).astype(int).tolist()
      [[1, 1, 0], [0, 1, 0]]
    """
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"probs must be [n, labels], got shape {probs.shape}")
    pred = probs > threshold
    empty = ~pred.any(1)
    pred[empty, probs[empty].argmax(1)] = True
    return pred


def f1_per_column(true: ArrayLike, pred: ArrayLike) -> np.ndarray:
    """F1 of each column of boolean ``[n, k]`` arrays (0 when a column has no true or predicted).

    Examples:
      >>> f1_per_column(np.array([[1, 0], [1, 0]], bool), np.array([[1, 0], [0, 0]], bool))
      array([0.66666667, 0.        ])
    """
    true, pred = np.asarray(true, bool), np.asarray(pred, bool)
    if true.ndim != 2 or true.shape != pred.shape:
        raise ValueError(
            f"true and pred must be equal [n, k] shapes, got {true.shape}, {pred.shape}"
        )
    tp = (true & pred).sum(0).astype(float)
    denom = true.sum(0) + pred.sum(0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def softmax_metrics(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> dict[str, Any]:
    """Accuracy, macro-F1 over the classes present in ``y_true``, and per-class F1.

    Args:
      y_true: int ``[n]``.
      y_pred: int ``[n]``.
      num_classes: number of classes.

    Returns:
      ``{"accuracy", "macro_f1", "per_class_f1": list of num_classes floats}``.

    Examples:
      >>> softmax_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)["macro_f1"]
      0.6666666666666666
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must be equal [n], got {y_true.shape}, {y_pred.shape}")
    eye = np.eye(num_classes, dtype=bool)
    f1 = f1_per_column(eye[y_true], eye[y_pred])
    present = np.bincount(y_true, minlength=num_classes) > 0
    return {
        "accuracy": float((y_true == y_pred).mean()),
        "macro_f1": float(f1[present].mean()),
        "per_class_f1": f1.tolist(),
    }


def _frac(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else 0.0


def set_metrics(true_sets: ArrayLike, pred_sets: ArrayLike) -> dict[str, Any]:
    """Multi-label metrics on boolean ``[n, labels]`` label sets.

    Args:
      true_sets: bool ``[n, labels]``.
      pred_sets: bool ``[n, labels]``.

    Returns:
      ``exact_match`` (predicted set equals the true set; scikit-learn's subset accuracy),
      ``jaccard`` (mean over rows of |intersection| / |union|, 1 when both are empty),
      ``macro_f1`` over the labels present in ``true_sets`` and ``per_label_f1``, and for the
      rows with more than one true label: ``multi_count``, ``multi_predicted_several`` (fraction
      for which more than one label is predicted) and ``multi_exact_match``.

    Examples:
      >>> t = np.array([[1, 1], [0, 1]], bool); p = np.array([[1, 0], [0, 1]], bool)
      >>> m = set_metrics(t, p); m["exact_match"], m["jaccard"], m["multi_count"]
      (0.5, 0.75, 1)
    """
    true_sets = np.asarray(true_sets, bool)
    pred_sets = np.asarray(pred_sets, bool)
    if true_sets.ndim != 2 or true_sets.shape != pred_sets.shape:
        raise ValueError(
            f"pred_sets must have the shape of true_sets [n, labels] {true_sets.shape}, "
            f"got {pred_sets.shape}"
        )
    inter = (true_sets & pred_sets).sum(1)
    union = (true_sets | pred_sets).sum(1)
    exact = (true_sets == pred_sets).all(1)
    f1 = f1_per_column(true_sets, pred_sets)
    multi = true_sets.sum(1) > 1
    return {
        "exact_match": float(exact.mean()),
        "jaccard": float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0))),
        "macro_f1": float(f1[true_sets.any(0)].mean()),
        "per_label_f1": f1.tolist(),
        "multi_count": int(multi.sum()),
        "multi_predicted_several": _frac(pred_sets[multi].sum(1) > 1),
        "multi_exact_match": _frac(exact[multi]),
    }
