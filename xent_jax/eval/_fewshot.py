"""Few-shot evaluation: labels-per-class draws, and a linear probe scored over many draws.

:func:`fewshot_indices` draws ``per_class`` labelled examples of every class, ``draws`` times;
the same draws serve a probe on frozen features (:func:`fewshot_probe`) and a network trained from
scratch on the same labelled subsets, so the two see exactly the same labels.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from xent_jax._keys import as_key
from xent_jax.eval._metrics import Interval, mean_interval
from xent_jax.eval._probe import _check_l2, _check_positive_int, _lbfgs_many, _prepare, probe_inputs

__all__ = ["FewshotResult", "fewshot_indices", "fewshot_probe"]


def fewshot_indices(labels: ArrayLike, per_class: int, *, key: Any, draws: int = 1) -> np.ndarray:
    """Indices of ``per_class`` random examples of every class present, for each of ``draws``.

    Draw ``d`` uses ``jax.random.fold_in(key, d)``: every example gets a uniform number and each
    class keeps its ``per_class`` smallest, a uniform subset without replacement. Draw ``d`` is
    therefore the same whatever ``draws`` is, and the same key gives the same draws.

    Args:
      labels: int ``[n]`` class labels (every class present is sampled).
      per_class: labelled examples per class; every class must have at least that many.
      key: PRNG key or int seed (:func:`xent_jax._keys.as_key`).
      draws: number of independent draws.

    Returns:
      int64 ``[draws, per_class * num_classes]``; each row sorted ascending.

    Raises:
      ValueError: bad shapes, ``per_class`` or ``draws`` below 1, or a class with fewer than
        ``per_class`` examples (named).

    Examples:
      >>> idx = fewshot_indices(np.array([0, 0, 1, 1, 1]), 1, key=0, draws=3)
      >>> idx.shape, [sorted(np.array([0, 0, 1, 1, 1])[r].tolist()) for r in idx]
      ((3, 2), [[0, 1], [0, 1], [0, 1]])
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be [n], got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    per_class = _check_positive_int("per_class", per_class)
    draws = _check_positive_int("draws", draws)
    key = as_key(key, "key")
    classes, counts = np.unique(y, return_counts=True)
    if classes.size == 0:
        raise ValueError("labels must not be empty")
    short = counts < per_class
    if short.any():
        c = classes[short][0]
        raise ValueError(
            f"class {c} has {counts[short][0]} examples, fewer than per_class={per_class}"
        )
    u = np.asarray(
        jax.vmap(lambda d: jax.random.uniform(jax.random.fold_in(key, d), (y.size,)))(
            jnp.arange(draws)
        )
    )
    # position of each example within its class after sorting by (class, u)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_class = np.arange(y.size) - np.repeat(starts, counts)
    out = np.empty((draws, per_class * classes.size), np.int64)
    for d in range(draws):
        order = np.lexsort((u[d], y))
        out[d] = np.sort(order[rank_in_class < per_class])
    return out


class FewshotResult(NamedTuple):
    """Per-draw test accuracies of a few-shot probe and their interval.

    Attributes:
      accuracies: ``[draws]`` test accuracy of each draw (float64 numpy).
      interval: :func:`xent_jax.eval.mean_interval` of ``accuracies`` (Student-t over draws).
      indices: ``[draws, per_class * num_classes]`` training rows used by each draw.
    """

    accuracies: np.ndarray
    interval: Interval
    indices: np.ndarray


def fewshot_probe(
    features_train: ArrayLike,
    y_train: ArrayLike,
    features_test: ArrayLike,
    y_test: ArrayLike,
    *,
    per_class: int,
    key: Any,
    draws: int = 5,
    l2: float = 1e-3,
    steps: int = 200,
    num_classes: int | None = None,
    standardize_features: bool = True,
    level: float = 0.95,
) -> FewshotResult:
    """A linear softmax probe trained on ``per_class`` labels per class, over ``draws`` draws.

    The features are standardised with the statistics of all of ``features_train`` (no label is
    used for that, so this is fair in the few-shot setting: the unlabelled pool is known), then
    for each draw of :func:`fewshot_indices` a head is fitted by :func:`fit_linear_head` on the
    drawn rows only, and scored on all of ``features_test``. The draws are fitted as one vmapped
    program (they share a shape).

    Args:
      features_train: ``[n, d]`` the pool the labelled examples are drawn from.
      y_train: int ``[n]``.
      features_test: ``[m, d]``.
      y_test: int ``[m]``.
      per_class: labelled examples per class.
      key: PRNG key or int seed for the draws.
      draws: number of draws.
      l2: penalty on the mean cross-entropy (see :func:`fit_linear_head`).
      steps: L-BFGS iterations.
      num_classes: default ``max(label) + 1`` over both label sets.
      standardize_features: standardise first (off when features are standardised already).
      level: confidence level of the interval over draws.

    Returns:
      A :class:`FewshotResult`.

    Examples:
      >>> rng = np.random.default_rng(0); y = np.repeat([0, 1], 20)
      >>> x = (y[:, None] * 4.0 + rng.normal(size=(40, 2))).astype(np.float32)
      >>> r = fewshot_probe(x, y, x, y, per_class=2, key=0, draws=3)
      >>> r.accuracies.shape, r.interval.n, bool(r.interval.mean > 0.9)
      ((3,), 3, True)
    """
    ftr, ytr, fte, yte, num_classes = probe_inputs(
        features_train, y_train, features_test, y_test, num_classes, standardize_features
    )
    idx = fewshot_indices(ytr, per_class, key=key, draws=draws)
    xs, ys, k = _prepare(ftr[idx], ytr[idx], "softmax", num_classes)
    params, _ = _lbfgs_many(
        xs,
        ys,
        jnp.float32(_check_l2(l2)),
        kind="softmax",
        k=k,
        steps=_check_positive_int("steps", steps),
    )
    x_test = jnp.asarray(fte, jnp.float32)
    logits = jnp.einsum("nd,rdk->rnk", x_test, params["w"]) + params["b"][:, None, :]
    acc = np.asarray(jnp.mean(jnp.argmax(logits, -1) == jnp.asarray(yte)[None, :], -1), np.float64)
    return FewshotResult(acc, mean_interval(acc, level=level), idx)
