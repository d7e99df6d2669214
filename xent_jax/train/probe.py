"""Linear-probe evaluation: softmax regression on frozen features, trained with our loss."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from xent_jax.losses import reduce_loss, softmax_cross_entropy_with_integer_labels

__all__ = ["linear_probe", "standardize"]


def standardize(train: Any, *others: Any, eps: float = 1e-6) -> tuple[np.ndarray, ...]:
    """Centres and scales features by the mean and std of ``train`` (computed once)."""
    train = np.asarray(train, np.float32)
    mu, sd = train.mean(0), train.std(0) + np.float32(eps)
    return tuple((np.asarray(x, np.float32) - mu) / sd for x in (train, *others))


def _fit_softmax(x, y, num_classes: int, l2: float, steps: int):
    d = x.shape[1]
    params = {"w": jnp.zeros((d, num_classes), x.dtype), "b": jnp.zeros((num_classes,), x.dtype)}

    def objective(p):
        logits = x @ p["w"] + p["b"][None, :]
        ce = reduce_loss(softmax_cross_entropy_with_integer_labels(logits, y))
        return ce + 0.5 * l2 * jnp.sum(p["w"] ** 2)

    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def body(carry, _):
        p, s = carry
        value, grad = value_and_grad(p, state=s)
        updates, s = opt.update(grad, s, p, value=value, grad=grad, value_fn=objective)
        return (optax.apply_updates(p, updates), s), value

    (params, _), values = jax.lax.scan(body, (params, opt.init(params)), None, length=steps)
    return params, values[-1]


_fit_softmax_jit = jax.jit(_fit_softmax, static_argnums=(2, 4))


def linear_probe(
    features_train: Any,
    y_train: Any,
    features_test: Any,
    y_test: Any,
    *,
    num_classes: int | None = None,
    l2: float = 1e-3,
    steps: int = 200,
    standardize_features: bool = True,
) -> dict[str, float]:
    r"""Fits a softmax regression on frozen features and scores it on held-out features.

    Minimises the full-batch objective
    :math:`\frac1n\sum_i \mathrm{CE}(W^\top f_i + b, y_i) + \frac{\lambda}{2}\|W\|_F^2` with
    L-BFGS (optax, zoom line search) for ``steps`` iterations from zero weights; the objective is
    convex, so the result does not depend on a seed.

    Args:
      features_train: ``[n, d]``.
      y_train: int ``[n]``.
      features_test: ``[m, d]``.
      y_test: int ``[m]``.
      num_classes: number of classes; default ``max(label) + 1`` over both label sets.
      l2: :math:`\lambda`.
      steps: L-BFGS iterations.
      standardize_features: scale features by the training mean and std first.

    Returns:
      ``{"accuracy": test accuracy, "train_accuracy": ..., "objective": final objective}``.

    Examples:
      >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
      >>> linear_probe(x, y, x, y)["accuracy"]
      1.0
    """
    ftr, fte = np.asarray(features_train, np.float32), np.asarray(features_test, np.float32)
    ytr, yte = np.asarray(y_train), np.asarray(y_test)
    for name, f, y in (("features_train", ftr, ytr), ("features_test", fte, yte)):
        if f.ndim != 2:
            raise ValueError(f"{name} must be [n, d], got shape {f.shape}")
        if y.shape != f.shape[:1]:
            raise ValueError(f"labels for {name} must be [{f.shape[0]}], got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"labels for {name} must be integers, got dtype {y.dtype}")
    if ftr.shape[1] != fte.shape[1]:
        raise ValueError(f"feature sizes differ: train {ftr.shape[1]}, test {fte.shape[1]}")
    if num_classes is None:
        num_classes = int(max(ytr.max(), yte.max())) + 1
    if standardize_features:
        ftr, fte = standardize(ftr, fte)
    params, objective = _fit_softmax_jit(
        jnp.asarray(ftr), jnp.asarray(ytr, jnp.int32), int(num_classes), float(l2), int(steps)
    )
    w, b = np.asarray(params["w"]), np.asarray(params["b"])
    return {
        "accuracy": float(np.mean((fte @ w + b).argmax(-1) == yte)),
        "train_accuracy": float(np.mean((ftr @ w + b).argmax(-1) == ytr)),
        "objective": float(objective),
    }
