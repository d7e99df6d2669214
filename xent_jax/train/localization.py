"""Localisation heads on frozen protein embeddings: 13-way softmax versus 12-way sigmoids.

A softmax head assumes exactly one compartment per protein (the 13 SCL2205 classes, four of which
are fixed multi-location combinations); independent sigmoids over the 12 single locations let a
protein sit in any set of compartments. Both are linear heads fitted by full-batch L-BFGS on our
cross-entropy losses with an L2 penalty chosen on a validation split, and scored with the same
set-based metrics so the two hypotheses can be compared on equal terms.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from xent_jax.bio.vocab import FIRST_RESIDUE, NUM_STANDARD
from xent_jax.losses import (
    multilabel_sigmoid_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
)


def composition_features(token_arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Amino-acid composition: the 20 standard-residue frequencies of each sequence, ``[N, 20]``."""
    out = np.zeros((len(token_arrays), NUM_STANDARD), np.float32)
    for i, t in enumerate(token_arrays):
        t = np.asarray(t)
        std = t[(t >= FIRST_RESIDUE) & (t < FIRST_RESIDUE + NUM_STANDARD)] - FIRST_RESIDUE
        counts = np.bincount(std, minlength=NUM_STANDARD).astype(np.float32)
        out[i] = counts / max(counts.sum(), 1.0)
    return out


def _standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean = train.mean(0, keepdims=True)
    std = train.std(0, keepdims=True) + 1e-6
    return [(x - mean) / std for x in (train, *others)]


def fit_linear_head(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    kind: str,
    num_classes: int | None = None,
    l2: float = 1e-3,
    steps: int = 150,
) -> dict[str, jax.Array]:
    r"""Fits a linear softmax or multi-label sigmoid head by L-BFGS.

    Minimises :math:`\frac1n\sum_i \ell(W^\top x_i + b, y_i) + \frac{\lambda}{2}\|W\|^2` with
    :math:`\ell` = ``softmax_cross_entropy_with_integer_labels`` (``kind="softmax"``, ``targets``
    int ``[n]``) or ``multilabel_sigmoid_cross_entropy`` (``kind="sigmoid"``, ``targets`` 0/1
    ``[n, labels]``). Convex, started from zero, so no seed is involved.

    Args:
      features: float ``[n, d]`` (standardise first).
      targets: see above.
      kind: ``"softmax"`` or ``"sigmoid"``.
      num_classes: softmax classes (default ``max(targets) + 1``).
      l2: the penalty :math:`\lambda`.
      steps: L-BFGS iterations.

    Returns:
      ``{"w": [d, k], "b": [k]}``.

    Examples:
      >>> x = np.array([[-1.0], [-2.0], [1.0], [2.0]], np.float32)
      >>> p = fit_linear_head(x, np.array([0, 0, 1, 1]), kind="softmax", l2=1e-2)
      >>> predict_head(p, x, kind="softmax").argmax(1).tolist()
      [0, 0, 1, 1]
    """
    x = jnp.asarray(features, jnp.float32)
    if x.ndim != 2:
        raise ValueError(f"features must be [n, d], got shape {x.shape}")
    if kind == "softmax":
        y = jnp.asarray(targets, jnp.int32)
        if y.shape != x.shape[:1]:
            raise ValueError(f"softmax targets must be int [n]={x.shape[:1]}, got {y.shape}")
        k = int(num_classes) if num_classes is not None else int(np.max(targets)) + 1
    elif kind == "sigmoid":
        y = jnp.asarray(targets, jnp.float32)
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise ValueError(
                f"sigmoid targets must be [n, labels] with n={x.shape[0]}, got {y.shape}"
            )
        k = y.shape[1]
    else:
        raise ValueError(f"kind must be 'softmax' or 'sigmoid', got {kind!r}")
    return _lbfgs(x, y, jnp.float32(l2), kind=kind, k=k, steps=int(steps))


@functools.partial(jax.jit, static_argnames=("kind", "k", "steps"))
def _lbfgs(x, y, l2, *, kind, k, steps):
    params = {"w": jnp.zeros((x.shape[1], k)), "b": jnp.zeros((k,))}

    def objective(p):
        logits = x @ p["w"] + p["b"][None, :]
        if kind == "softmax":
            data = softmax_cross_entropy_with_integer_labels(logits, y).mean()
        else:
            data = multilabel_sigmoid_cross_entropy(logits, y).mean()
        return data + 0.5 * l2 * jnp.sum(p["w"] ** 2)

    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def body(carry, _):
        p, state = carry
        value, grad = value_and_grad(p, state=state)
        updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=objective)
        return (optax.apply_updates(p, updates), state), value

    (p, _), _ = jax.lax.scan(body, (params, opt.init(params)), length=steps)
    return p


def predict_head(params: dict[str, Any], features: np.ndarray, *, kind: str) -> np.ndarray:
    """Class probabilities (softmax, rows sum to 1) or label probabilities (sigmoid), ``[n, k]``."""
    logits = jnp.asarray(features, jnp.float32) @ params["w"] + params["b"][None, :]
    if kind == "softmax":
        return np.asarray(jax.nn.softmax(logits, axis=-1))
    if kind == "sigmoid":
        return np.asarray(jax.nn.sigmoid(logits))
    raise ValueError(f"kind must be 'softmax' or 'sigmoid', got {kind!r}")


def class_sets(class_names: Sequence[str], locations: Sequence[str]) -> np.ndarray:
    """Multi-hot ``[num_classes, num_locations]``: which locations each class name contains."""
    index = {loc: j for j, loc in enumerate(locations)}
    out = np.zeros((len(class_names), len(locations)), bool)
    for i, name in enumerate(class_names):
        for part in name.split(";"):
            out[i, index[part]] = True
    return out


def sigmoid_sets(probs: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """Predicted location sets: labels above ``threshold``; the top label when none is."""
    pred = probs > threshold
    empty = ~pred.any(1)
    pred[empty, probs[empty].argmax(1)] = True
    return pred


def f1_per_column(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """F1 of each column of boolean ``[n, k]`` arrays (0 when a column has no true or predicted)."""
    tp = (true & pred).sum(0).astype(float)
    denom = true.sum(0) + pred.sum(0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def softmax_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Accuracy, macro-F1 over classes present in ``y_true``, and per-class F1."""
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


def set_metrics(true_sets: np.ndarray, pred_sets: np.ndarray) -> dict[str, Any]:
    """Multi-label metrics on boolean ``[n, labels]`` location sets.

    Returns:
      ``exact_match`` (predicted set equals the true set), ``jaccard`` (mean over proteins of
      |intersection| / |union|), ``macro_f1`` and ``per_label_f1`` over labels, and for the
      proteins with more than one true location: ``multi_count``, ``multi_predicted_several``
      (fraction for which more than one location is predicted) and ``multi_exact_match``.
    """
    true_sets = np.asarray(true_sets, bool)
    pred_sets = np.asarray(pred_sets, bool)
    if true_sets.shape != pred_sets.shape:
        raise ValueError(f"pred_sets must have shape {true_sets.shape}, got {pred_sets.shape}")
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


def compare_heads(
    features: dict[str, np.ndarray],
    class_ids: dict[str, np.ndarray],
    multi_hot: dict[str, np.ndarray],
    *,
    class_names: Sequence[str],
    locations: Sequence[str],
    l2_grid: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1),
    steps: int = 150,
) -> dict[str, Any]:
    """Fits both heads on ``train``, picks L2 on ``val``, scores on ``test``.

    Args:
      features: ``{"train", "val", "test"}`` float ``[n, d]`` (standardised here on train).
      class_ids: the same splits' 13-way class ids.
      multi_hot: the same splits' 12-way location sets.
      class_names: the class names (for turning softmax predictions into location sets).
      locations: the location names.
      l2_grid: penalties tried; the softmax head picks by validation accuracy, the sigmoid head
        by validation exact match.
      steps: L-BFGS iterations.

    Returns:
      ``{"softmax": {...}, "sigmoid": {...}}`` with :func:`softmax_metrics` (softmax only) and
      :func:`set_metrics` for both heads on ``test``, plus the chosen ``l2``.
    """
    tr, va, te = _standardize(features["train"], features["val"], features["test"])
    sets = class_sets(class_names, locations)
    k = len(class_names)
    true_te = np.asarray(multi_hot["test"], bool)

    best = None
    for l2 in l2_grid:
        p = fit_linear_head(
            tr, class_ids["train"], kind="softmax", num_classes=k, l2=l2, steps=steps
        )
        acc = float((predict_head(p, va, kind="softmax").argmax(1) == class_ids["val"]).mean())
        if best is None or acc > best[0]:
            best = (acc, l2, p)
    _, l2_soft, p_soft = best
    pred = predict_head(p_soft, te, kind="softmax").argmax(1)
    soft = {"l2": l2_soft, **softmax_metrics(np.asarray(class_ids["test"]), pred, k)}
    soft.update(set_metrics(true_te, sets[pred]))

    best = None
    for l2 in l2_grid:
        p = fit_linear_head(tr, multi_hot["train"], kind="sigmoid", l2=l2, steps=steps)
        va_sets = sigmoid_sets(predict_head(p, va, kind="sigmoid"))
        em = float((va_sets == np.asarray(multi_hot["val"], bool)).all(1).mean())
        if best is None or em > best[0]:
            best = (em, l2, p)
    _, l2_sig, p_sig = best
    pred_sets = sigmoid_sets(predict_head(p_sig, te, kind="sigmoid"))
    sig = {"l2": l2_sig, **set_metrics(true_te, pred_sets)}
    # accuracy in the softmax sense: the predicted set is exactly the true class's set
    sig["accuracy"] = sig["exact_match"]
    return {"softmax": soft, "sigmoid": sig}


def terminal_windows(
    token_arrays: Sequence[np.ndarray], *, n_term: int, c_term: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The first ``n_term`` and last ``c_term`` tokens of each tokenised sequence.

    Localisation signals sit mostly at the termini (signal and transit peptides at the N-terminus,
    peroxisomal and ER-retention motifs at the C-terminus), so pooled embeddings of both windows
    are a cheap summary of long proteins.
    """
    if n_term < 1 or c_term < 1:
        raise ValueError(f"n_term and c_term must be >= 1, got {n_term}, {c_term}")
    first = [np.asarray(t)[:n_term] for t in token_arrays]
    last = [np.asarray(t)[-c_term:] for t in token_arrays]
    return first, last
