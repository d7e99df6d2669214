"""Ridge regression read-outs on frozen features, scored by R^2, with grouped cross-validation.

Float64 numpy closed forms (the feature counts are small). Features are standardised with the
training mean and standard deviation before the penalty is applied, so one ``alpha`` grid suits
every feature set; the intercept is not penalised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class RidgeModel:
    """A fitted ridge model: ``y = ((x - mean) / scale) @ weights + bias``."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    alpha: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions ``[N]`` for features ``[N, D]``."""
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


def ridge_fit(x: np.ndarray, y: np.ndarray, *, alpha: float = 1.0) -> RidgeModel:
    """Fits ridge regression on standardised features.

    Minimises ``||y - z w - b||^2 + alpha ||w||^2`` with ``z = (x - mean(x)) / std(x)`` (columns
    with zero spread keep scale 1).

    Args:
      x: features ``[N, D]``.
      y: targets ``[N]``.
      alpha: non-negative penalty.

    Returns:
      A :class:`RidgeModel`.

    Examples:
      >>> x = np.arange(10.0)[:, None]; m = ridge_fit(x, 2 * x[:, 0] + 1, alpha=0.0)
      >>> np.round(m.predict(np.array([[20.0]])), 6).tolist()
      [41.0]
    """
    x, y = _check_xy(x, y)
    if alpha < 0:
        raise ValueError(f"alpha must be non-negative, got {alpha}")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    z = (x - mean) / scale
    y_mean = float(y.mean())
    gram = z.T @ z + alpha * np.eye(z.shape[1])
    weights = np.linalg.lstsq(gram, z.T @ (y - y_mean), rcond=None)[0]
    return RidgeModel(mean=mean, scale=scale, weights=weights, bias=y_mean, alpha=float(alpha))


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
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


def group_folds(groups: np.ndarray, n_folds: int) -> list[np.ndarray]:
    """Splits distinct group ids round-robin (sorted) into ``n_folds`` held-out index sets."""
    groups = np.asarray(groups)
    units = np.unique(groups)
    if n_folds < 2 or n_folds > units.size:
        raise ValueError(f"n_folds must be in [2, {units.size}] (number of groups), got {n_folds}")
    return [np.flatnonzero(np.isin(groups, units[k::n_folds])) for k in range(n_folds)]


def ridge_cv(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    alphas: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3),
    n_folds: int = 4,
) -> tuple[RidgeModel, dict[float, float]]:
    """Chooses ``alpha`` by grouped K-fold R^2 (pooled over folds) and refits on all rows.

    Grouping by source image keeps patches of one image out of their own validation fold.

    Args:
      x: features ``[N, D]``.
      y: targets ``[N]``.
      groups: ``[N]`` group ids (e.g. image index).
      alphas: candidate penalties.
      n_folds: folds, at most the number of distinct groups.

    Returns:
      ``(model, scores)``: the model refitted with the best alpha on all rows, and the pooled
      cross-validated R^2 of every alpha.

    Examples:
      >>> rng = np.random.default_rng(0); x = rng.normal(size=(40, 3))
      >>> y = x @ np.array([1.0, -2.0, 0.5]); g = np.arange(40) % 5
      >>> model, scores = ridge_cv(x, y, g, alphas=(1e-3, 10.0), n_folds=5)
      >>> model.alpha
      0.001
    """
    x, y = _check_xy(x, y)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups must have shape {y.shape}, got shape {groups.shape}")
    if not alphas:
        raise ValueError("alphas must hold at least one value")
    folds = group_folds(groups, n_folds)
    scores: dict[float, float] = {}
    for alpha in alphas:
        pred = np.empty_like(y)
        for test in folds:
            train = np.setdiff1d(np.arange(y.size), test)
            pred[test] = ridge_fit(x[train], y[train], alpha=alpha).predict(x[test])
        scores[float(alpha)] = r2_score(y, pred)
    best = max(scores, key=lambda a: (scores[a], a))
    return ridge_fit(x, y, alpha=best), scores
