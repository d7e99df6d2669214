"""Ridge regression read-outs on frozen features, scored by R^2, with grouped cross-validation.

Float64 numpy closed forms (the feature counts are small). Features are standardised with the
one standardisation (:func:`xent_jax.eval.standardize`: training mean and std) before the
penalty is applied, so one ``l2`` grid suits every feature set; the intercept is not penalised.
Here ``l2`` multiplies ``||w||^2`` against the *sum* of squared errors, exactly scikit-learn's
``Ridge(alpha=l2)`` (the linear probes' ``l2`` is on the *mean* loss instead).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence

import numpy as np
from jax.typing import ArrayLike

from xent_jax.eval._standardize import _mean_scale

__all__ = ["RidgeModel", "group_folds", "r2_score", "ridge_cv", "ridge_fit"]


@dataclasses.dataclass(frozen=True)
class RidgeModel:
    """A fitted ridge model: ``y = ((x - mean) / scale) @ weights + bias``.

    Attributes:
      mean: ``[d]`` training feature means.
      scale: ``[d]`` training feature stds (1 for constant columns).
      weights: ``[d]`` coefficients on the standardised features.
      bias: the intercept (training target mean).
      l2: the penalty it was fitted with.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    l2: float

    def predict(self, x: ArrayLike) -> np.ndarray:
        """Predictions ``[n]`` for features ``[n, d]``."""
        x = _check_x(x, "x")
        if x.shape[1] != self.weights.shape[0]:
            raise ValueError(f"x must have {self.weights.shape[0]} features, got {x.shape[1]}")
        return ((x - self.mean) / self.scale) @ self.weights + self.bias


def _check_x(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D], got shape {x.shape}")
    return x


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = _check_x(x, "x")
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape [{x.shape[0]}] to match x, got shape {y.shape}")
    return x, y


def ridge_fit(x: ArrayLike, y: ArrayLike, *, l2: float = 1.0) -> RidgeModel:
    """Fits ridge regression on standardised features.

    Minimises ``||y - z w - b||^2 + l2 ||w||^2`` with ``z = standardize(x)`` (training mean and
    std; constant columns keep scale 1), i.e. ``sklearn.linear_model.Ridge(alpha=l2)`` on
    ``StandardScaler().fit_transform(x)``.

    Args:
      x: features ``[N, D]``.
      y: targets ``[N]``.
      l2: non-negative penalty.

    Returns:
      A :class:`RidgeModel`.

    Examples:
      >>> x = np.arange(10.0)[:, None]; m = ridge_fit(x, 2 * x[:, 0] + 1, l2=0.0)
      >>> np.round(m.predict(np.array([[20.0]])), 6).tolist()
      [41.0]
    """
    x, y = _check_xy(x, y)
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not l2 >= 0:
        raise ValueError(f"l2 must be a non-negative number, got {l2!r}")
    mean, scale = _mean_scale(x, "x")
    z = (x - mean) / scale
    y_mean = float(y.mean())
    gram = z.T @ z + l2 * np.eye(z.shape[1])
    weights = np.linalg.lstsq(gram, z.T @ (y - y_mean), rcond=None)[0]
    return RidgeModel(mean=mean, scale=scale, weights=weights, bias=y_mean, l2=float(l2))


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (can be negative).

    Examples:
      >>> r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
      1.0
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape or y_true.size < 2:
        raise ValueError(
            f"y_true and y_pred must be equal 1-D shapes of length >= 2, got {y_true.shape} "
            f"and {y_pred.shape}"
        )
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot == 0.0:
        raise ValueError("y_true is constant, so R^2 is undefined")
    return 1.0 - float(np.sum((y_true - y_pred) ** 2)) / ss_tot


def group_folds(groups: ArrayLike, n_folds: int) -> list[np.ndarray]:
    """Splits distinct group ids round-robin (sorted) into ``n_folds`` held-out index sets.

    Examples:
      >>> [f.tolist() for f in group_folds(np.array([5, 5, 7, 9, 9]), 2)]
      [[0, 1, 3, 4], [2]]
    """
    groups = np.asarray(groups)
    units = np.unique(groups)
    if n_folds < 2 or n_folds > units.size:
        raise ValueError(f"n_folds must be in [2, {units.size}] (number of groups), got {n_folds}")
    return [np.flatnonzero(np.isin(groups, units[k::n_folds])) for k in range(n_folds)]


def ridge_cv(
    x: ArrayLike,
    y: ArrayLike,
    groups: ArrayLike,
    *,
    l2_grid: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3),
    n_folds: int = 4,
) -> tuple[RidgeModel, dict[float, float]]:
    """Chooses ``l2`` by grouped K-fold R^2 (pooled over folds) and refits on all rows.

    Grouping by source (e.g. image) keeps rows of one source out of their own validation fold.
    Ties in R^2 go to the larger penalty.

    Args:
      x: features ``[N, D]``.
      y: targets ``[N]``.
      groups: ``[N]`` group ids (e.g. image index).
      l2_grid: candidate penalties.
      n_folds: folds, at most the number of distinct groups.

    Returns:
      ``(model, scores)``: the model refitted with the best ``l2`` on all rows, and the pooled
      cross-validated R^2 of every ``l2``.

    Examples:
      >>> rng = np.random.default_rng(0); x = rng.normal(size=(40, 3))
      >>> y = x @ np.array([1.0, -2.0, 0.5]); g = np.arange(40) % 5
      >>> model, scores = ridge_cv(x, y, g, l2_grid=(1e-3, 10.0), n_folds=5)
      >>> model.l2
      0.001
    """
    x, y = _check_xy(x, y)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups must have shape {y.shape}, got shape {groups.shape}")
    if not l2_grid:
        raise ValueError("l2_grid must hold at least one value")
    folds = group_folds(groups, n_folds)
    scores: dict[float, float] = {}
    for l2 in l2_grid:
        pred = np.empty_like(y)
        for test in folds:
            train = np.setdiff1d(np.arange(y.size), test)
            pred[test] = ridge_fit(x[train], y[train], l2=l2).predict(x[test])
        scores[float(l2)] = r2_score(y, pred)
    best = max(scores, key=lambda a: (scores[a], a))
    return ridge_fit(x, y, l2=best), scores
