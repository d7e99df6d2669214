"""The one linear probe: a softmax or multi-label sigmoid head on frozen features, fitted by L-BFGS.

The objective is convex and the fit starts from zero weights, so no seed is involved; features
are standardised with :func:`xent_jax.eval.standardize` (the one standardisation) first.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from xent_jax.eval._standardize import standardize
from xent_jax.losses import (
    multilabel_sigmoid_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
)

__all__ = ["fit_linear_head", "linear_probe", "predict_head"]

_KINDS = ("softmax", "sigmoid")


def _check_kind(kind: Any) -> str:
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'softmax' or 'sigmoid', got {kind!r}")
    return kind


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_l2(l2: Any) -> float:
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not l2 >= 0:
        raise ValueError(f"l2 must be a non-negative number, got {l2!r}")
    return float(l2)


def _solve(x, y, l2, kind: str, k: int, steps: int):
    """L-BFGS (optax, zoom line search) for ``steps`` iterations; returns (params, objective)."""
    params = {"w": jnp.zeros((x.shape[1], k), jnp.float32), "b": jnp.zeros((k,), jnp.float32)}

    def objective(p):
        logits = x @ p["w"] + p["b"][None, :]
        if kind == "softmax":
            data = jnp.mean(softmax_cross_entropy_with_integer_labels(logits, y))
        else:
            data = jnp.mean(multilabel_sigmoid_cross_entropy(logits, y))
        return data + 0.5 * l2 * jnp.sum(p["w"] ** 2)

    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def body(carry, _):
        p, state = carry
        value, grad = value_and_grad(p, state=state)
        updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=objective)
        return (optax.apply_updates(p, updates), state), None

    (params, _), _ = jax.lax.scan(body, (params, opt.init(params)), length=steps)
    return params, objective(params)


@functools.partial(jax.jit, static_argnames=("kind", "k", "steps"))
def _lbfgs(x, y, l2, *, kind, k, steps):
    return _solve(x, y, l2, kind, k, steps)


@functools.partial(jax.jit, static_argnames=("kind", "k", "steps"))
def _lbfgs_many(xs, ys, l2, *, kind, k, steps):
    """One fit per leading index of ``xs [r, n, d]``, ``ys [r, n, ...]`` (vmapped, one program)."""
    return jax.vmap(lambda x, y: _solve(x, y, l2, kind, k, steps))(xs, ys)


def _prepare(features: ArrayLike, targets: ArrayLike, kind: str, num_classes: int | None):
    """Checks and converts ``features [..., n, d]`` and targets; returns (x, y, k)."""
    x = np.asarray(features)
    if x.ndim < 2:
        raise ValueError(f"features must be [n, d], got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise TypeError(f"features must be real numbers, got dtype {x.dtype}")
    t = np.asarray(targets)
    if kind == "softmax":
        if t.shape != x.shape[:-1]:
            raise ValueError(f"softmax targets must be int {list(x.shape[:-1])}, got {t.shape}")
        if not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"softmax targets must be integers, got dtype {t.dtype}")
        k = (
            int(t.max()) + 1
            if num_classes is None
            else _check_positive_int("num_classes", num_classes)
        )
        if t.size and (t.min() < 0 or t.max() >= k):
            raise ValueError(f"softmax targets must lie in [0, {k}), got [{t.min()}, {t.max()}]")
        y = jnp.asarray(t, jnp.int32)
    else:
        if t.ndim != x.ndim or t.shape[:-1] != x.shape[:-1]:
            raise ValueError(
                f"sigmoid targets must be [n, labels] with n={x.shape[-2]}, got {t.shape}"
            )
        k = t.shape[-1]
        if num_classes is not None and num_classes != k:
            raise ValueError(f"num_classes={num_classes} disagrees with targets [n, {k}]")
        y = jnp.asarray(t, jnp.float32)
    return jnp.asarray(x, jnp.float32), y, k


def fit_linear_head(
    features: ArrayLike,
    targets: ArrayLike,
    *,
    kind: str = "softmax",
    num_classes: int | None = None,
    l2: float = 1e-3,
    steps: int = 200,
) -> dict[str, jax.Array]:
    r"""Fits a linear softmax or multi-label sigmoid head by full-batch L-BFGS.

    Minimises :math:`\frac1n\sum_i \ell(W^\top x_i + b, y_i) + \frac{\lambda}{2}\|W\|_F^2` (the
    bias is not penalised) with :math:`\ell` = ``softmax_cross_entropy_with_integer_labels``
    (``kind="softmax"``, ``targets`` int ``[n]``) or ``multilabel_sigmoid_cross_entropy``
    (``kind="sigmoid"``, ``targets`` 0/1 ``[n, labels]``), for ``steps`` L-BFGS iterations
    (optax, zoom line search) from zero weights. The objective is convex, so no seed is
    involved. It equals scikit-learn's ``LogisticRegression(C=1 / (n * l2))`` (multinomial for
    softmax; one binary model per label for sigmoid). ``l2`` is traced, so a grid of penalties
    compiles once.

    Args:
      features: float ``[n, d]`` (standardise first: :func:`xent_jax.eval.standardize`).
      targets: int ``[n]`` (softmax) or 0/1 ``[n, labels]`` (sigmoid).
      kind: ``"softmax"`` or ``"sigmoid"``.
      num_classes: softmax classes (default ``max(targets) + 1``).
      l2: the penalty :math:`\lambda \ge 0` (on the mean loss).
      steps: L-BFGS iterations.

    Returns:
      ``{"w": [d, k], "b": [k]}`` float32.

    Raises:
      ValueError: bad ``kind``, shapes, label range, ``l2`` or ``steps``.
      TypeError: non-integer softmax targets.

    Examples:
      >>> x = np.array([[-1.0], [-2.0], [1.0], [2.0]], np.float32)
      >>> p = fit_linear_head(x, np.array([0, 0, 1, 1]), kind="softmax", l2=1e-2)
      >>> predict_head(p, x).argmax(1).tolist()
      [0, 0, 1, 1]
    """
    kind = _check_kind(kind)
    x, y, k = _prepare(features, targets, kind, num_classes)
    if x.ndim != 2:
        raise ValueError(f"features must be [n, d], got shape {x.shape}")
    params, _ = _lbfgs(
        x,
        y,
        jnp.float32(_check_l2(l2)),
        kind=kind,
        k=k,
        steps=_check_positive_int("steps", steps),
    )
    return params


def predict_head(
    params: dict[str, ArrayLike], features: ArrayLike, *, kind: str = "softmax"
) -> jax.Array:
    """Probabilities of a fitted head: softmax rows (sum to 1) or independent sigmoids.

    Args:
      params: ``{"w": [d, k], "b": [k]}`` from :func:`fit_linear_head`.
      features: ``[n, d]``, standardised like the training features.
      kind: ``"softmax"`` or ``"sigmoid"``.

    Returns:
      ``[n, k]`` probabilities.

    Examples:
      >>> p = {"w": jnp.array([[1.0, -1.0]]), "b": jnp.zeros(2)}
      >>> predict_head(p, jnp.array([[0.0]])).tolist()
      [[0.5, 0.5]]
    """
    kind = _check_kind(kind)
    w, b = jnp.asarray(params["w"]), jnp.asarray(params["b"])
    x = jnp.asarray(features, w.dtype)
    if x.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"features must be [n, {w.shape[0]}], got shape {x.shape}")
    logits = x @ w + b[None, :]
    return jax.nn.softmax(logits, axis=-1) if kind == "softmax" else jax.nn.sigmoid(logits)


def probe_inputs(
    features_train: ArrayLike,
    y_train: ArrayLike,
    features_test: ArrayLike,
    y_test: ArrayLike,
    num_classes: int | None,
    standardize_features: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Checks a probe's train/test features and labels by name; returns them ready to fit.

    Returns ``(features_train, y_train, features_test, y_test, num_classes)`` as numpy arrays,
    the features standardised with the training statistics when ``standardize_features``, and
    ``num_classes`` inferred from the labels when None.
    """
    ftr, fte = np.asarray(features_train), np.asarray(features_test)
    ytr, yte = np.asarray(y_train), np.asarray(y_test)
    for name, f, yy in (("features_train", ftr, ytr), ("features_test", fte, yte)):
        if f.ndim != 2:
            raise ValueError(f"{name} must be [n, d], got shape {f.shape}")
        if yy.shape != f.shape[:1]:
            raise ValueError(f"labels for {name} must be [{f.shape[0]}], got shape {yy.shape}")
        if not np.issubdtype(yy.dtype, np.integer):
            raise TypeError(f"labels for {name} must be integers, got dtype {yy.dtype}")
    if ftr.shape[1] != fte.shape[1]:
        raise ValueError(f"feature sizes differ: train {ftr.shape[1]}, test {fte.shape[1]}")
    if num_classes is None:
        num_classes = int(max(ytr.max(), yte.max())) + 1
    if standardize_features:
        ftr, fte = standardize(ftr, fte)
    return ftr, ytr, fte, yte, num_classes


def linear_probe(
    features_train: ArrayLike,
    y_train: ArrayLike,
    features_test: ArrayLike,
    y_test: ArrayLike,
    *,
    num_classes: int | None = None,
    l2: float = 1e-3,
    steps: int = 200,
    standardize_features: bool = True,
) -> dict[str, float]:
    r"""Fits a softmax head on frozen training features and scores it on held-out features.

    :func:`standardize` (training statistics) then :func:`fit_linear_head` (``kind="softmax"``).

    Args:
      features_train: ``[n, d]``.
      y_train: int ``[n]``.
      features_test: ``[m, d]``.
      y_test: int ``[m]``.
      num_classes: number of classes; default ``max(label) + 1`` over both label sets.
      l2: :math:`\lambda` on the mean cross-entropy.
      steps: L-BFGS iterations.
      standardize_features: scale features by the training mean and std first (turn off when
        they are standardised already).

    Returns:
      ``{"accuracy": test accuracy, "train_accuracy": ..., "objective": final objective}``.

    Examples:
      >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
      >>> linear_probe(x, y, x, y)["accuracy"]
      1.0
    """
    ftr, ytr, fte, yte, num_classes = probe_inputs(
        features_train, y_train, features_test, y_test, num_classes, standardize_features
    )
    x, y, k = _prepare(ftr, ytr, "softmax", num_classes)
    params, objective = _lbfgs(
        x,
        y,
        jnp.float32(_check_l2(l2)),
        kind="softmax",
        k=k,
        steps=_check_positive_int("steps", steps),
    )
    w, b = np.asarray(params["w"]), np.asarray(params["b"])
    return {
        "accuracy": float(np.mean((np.asarray(fte, np.float32) @ w + b).argmax(-1) == yte)),
        "train_accuracy": float(np.mean((np.asarray(x) @ w + b).argmax(-1) == ytr)),
        "objective": float(objective),
    }
