"""Per-example losses that attacks ascend: cross-entropy, logit margin and DLR.

Every function maps logits ``[batch, classes]`` and integer labels ``[batch]`` to a loss ``[batch]``
that grows as the model gets *more wrong* about ``labels``. An untargeted attack ascends
``loss(logits, y)``; a targeted attack ascends ``-loss(logits, t)`` (see :func:`attack_objective`).
NaN or inf logits propagate to the loss (never a finite value). Shapes and dtypes are checked on
every call; label ranges when the labels are concrete (an eager call), not under ``jit``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from xent_jax.losses import softmax_cross_entropy_with_integer_labels

__all__ = [
    "LOSSES",
    "attack_objective",
    "ce_loss",
    "dlr_loss",
    "margin_loss",
    "targeted_dlr_loss",
]

LOSSES = ("ce", "margin", "dlr")
_TINY = 1e-12


def _check(
    logits: ArrayLike, labels: ArrayLike, *, min_classes: int, what: str
) -> tuple[jax.Array, jax.Array]:
    """Static checks: logits ``[batch, classes >= min_classes]``, integer labels ``[batch]``."""
    for name, value in (("logits", logits), ("labels", labels)):
        if value is None:
            raise TypeError(f"{what}: {name} must be an array, got None")
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    if not jnp.issubdtype(logits.dtype, jnp.floating):
        raise TypeError(f"{what}: logits must be floating, got dtype {logits.dtype}")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"{what}: labels must be integers, got dtype {labels.dtype}")
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"{what}: expected logits [batch, classes] and labels [batch], got logits "
            f"{logits.shape} and labels {labels.shape}"
        )
    if logits.shape[1] < min_classes:
        raise ValueError(
            f"{what} needs logits with >= {min_classes} classes, got shape {logits.shape}"
        )
    if not isinstance(labels, jax.core.Tracer) and labels.size:
        # Known now (eager call): refuse labels the gather would silently clamp. Under jit the
        # check is skipped (the attacks check their labels before compiling).
        lab = np.asarray(labels)
        bad = np.flatnonzero((lab < 0) | (lab >= logits.shape[1]))
        if bad.size:
            raise ValueError(
                f"{what}: labels must be in [0, {logits.shape[1]}); labels[{bad[0]}] = "
                f"{int(lab[bad[0]])} is out of range"
            )
    return logits, labels


def _true_and_best_other(logits: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns ``z[y]`` and ``max_{j != y} z[j]``, both ``[batch]``."""
    num_classes = logits.shape[-1]
    onehot = jax.nn.one_hot(labels, num_classes, dtype=jnp.bool_)
    z_true = jnp.sum(jnp.where(onehot, logits, 0.0), axis=-1)
    z_other = jnp.max(jnp.where(onehot, jnp.finfo(logits.dtype).min, logits), axis=-1)
    return z_true, z_other


def ce_loss(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Softmax cross-entropy ``logsumexp(z) - z[y]`` per example.

    Args:
      logits: ``[batch, classes]`` with ``classes >= 1``.
      labels: integer ``[batch]``.

    Returns:
      ``[batch]`` float losses.

    Examples:
      >>> import jax.numpy as jnp
      >>> ce_loss(jnp.array([[0.0, 0.0]]), jnp.array([1]))  # log 2
      Array([0.6931472], dtype=float32)
    """
    logits, labels = _check(logits, labels, min_classes=1, what="ce loss")
    return softmax_cross_entropy_with_integer_labels(logits, labels)


def margin_loss(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Logit margin ``max_{j != y} z_j - z_y`` (Carlini and Wagner): positive iff misclassified.

    Args:
      logits: ``[batch, classes]`` with ``classes >= 2``.
      labels: integer ``[batch]``.

    Returns:
      ``[batch]`` margins.

    Examples:
      >>> import jax.numpy as jnp
      >>> margin_loss(jnp.array([[3.0, 1.0, 0.0]]), jnp.array([0]))
      Array([-2.], dtype=float32)
    """
    logits, labels = _check(logits, labels, min_classes=2, what="margin loss")
    z_true, z_other = _true_and_best_other(logits, labels)
    return z_other - z_true


def dlr_loss(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Difference of logits ratio (Croce and Hein 2020), untargeted.

    ``DLR(z, y) = (max_{j != y} z_j - z_y) / (z_pi1 - z_pi3)`` with ``z_pi1 >= z_pi2 >= ...`` the
    sorted logits. This is AutoAttack's ``-dlr`` (we ascend it). It is invariant to ``z -> a z + b``
    for ``a > 0``, so it cannot be gamed by rescaling logits. Needs at least 3 classes.

    Args:
      logits: ``[batch, classes]`` with ``classes >= 3``.
      labels: integer ``[batch]``.

    Returns:
      ``[batch]`` values in about ``[-1, 1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> dlr_loss(jnp.array([[3.0, 1.0, 0.0]]), jnp.array([0]))
      Array([-0.6666667], dtype=float32)

    References:
      Croce and Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
      parameter-free attacks", ICML 2020.
    """
    logits, labels = _check(logits, labels, min_classes=3, what="dlr loss")
    z_true, z_other = _true_and_best_other(logits, labels)
    top = jax.lax.top_k(logits, 3)[0]
    return (z_other - z_true) / (top[..., 0] - top[..., 2] + _TINY)


def targeted_dlr_loss(logits: ArrayLike, targets: ArrayLike) -> jax.Array:
    """Targeted DLR: ``(max_{j != t} z_j - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``.

    A targeted attack *descends* it (ascends its negative). AutoAttack's targeted DLR compares the
    target with the true class; here, since only the target is given, it is compared with its
    strongest competitor, which is the true class for a correctly classified input. Scale and shift
    invariant like :func:`dlr_loss`. Needs at least 4 classes.

    Args:
      logits: ``[batch, classes]`` with ``classes >= 4``.
      targets: integer target classes ``[batch]``.

    Returns:
      ``[batch]`` values.

    Examples:
      >>> import jax.numpy as jnp
      >>> targeted_dlr_loss(jnp.array([[4.0, 2.0, 1.0, 0.0]]), jnp.array([1]))
      Array([0.5714286], dtype=float32)
    """
    logits, targets = _check(logits, targets, min_classes=4, what="targeted dlr loss")
    z_target, z_other = _true_and_best_other(logits, targets)
    top = jax.lax.top_k(logits, 4)[0]
    return (z_other - z_target) / (top[..., 0] - 0.5 * (top[..., 2] + top[..., 3]) + _TINY)


def attack_objective(loss: str, *, targeted: bool) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The per-example function an attack *ascends*.

    Args:
      loss: ``"ce"``, ``"margin"`` or ``"dlr"``.
      targeted: if True the labels are targets and the objective is ``-loss(logits, target)``
        (targeted DLR for ``"dlr"``), so ascending it moves the prediction toward the target.

    Returns:
      ``objective(logits [batch, classes], labels [batch]) -> [batch]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> attack_objective("margin", targeted=True)(jnp.array([[3.0, 1.0]]), jnp.array([1]))
      Array([-2.], dtype=float32)
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not targeted:
        return {"ce": ce_loss, "margin": margin_loss, "dlr": dlr_loss}[loss]
    base = {"ce": ce_loss, "margin": margin_loss, "dlr": targeted_dlr_loss}[loss]
    return lambda logits, labels: -base(logits, labels)
