"""Robust accuracy over a list of budgets from one compiled, epsilon-batched attack."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from xent_jax.attacks import _common as C

__all__ = ["RobustEvaluation", "evaluate"]


class RobustEvaluation(NamedTuple):
    """Result of :func:`evaluate`.

    Attributes:
      epsilons: ``[K]`` the budgets, in the order given.
      robust_accuracy: ``[K]`` fraction of examples classified correctly under every attack
        point found at that budget or any smaller one.
      success: bool ``[K, N]``: the example is misclassified at that budget (clean error counts).
      clean_accuracy: scalar accuracy on ``x``.
    """

    epsilons: jax.Array
    robust_accuracy: jax.Array
    success: jax.Array
    clean_accuracy: jax.Array


@functools.partial(jax.jit, static_argnames=("static",))
def _score(dynamic, x_adv, x, y, order, *, static):
    """Misclassification per budget, made monotone along the sorted budgets."""
    fn = C.combine_fn(dynamic, static)
    k, n = x_adv.shape[:2]
    clean_wrong = jnp.argmax(fn(x), axis=-1) != y
    logits = fn(x_adv.reshape((k * n,) + x_adv.shape[2:]))
    wrong = (jnp.argmax(logits, axis=-1) != jnp.tile(y, k)).reshape(k, n) | clean_wrong[None, :]
    monotone = jax.lax.cummax(wrong[order].astype(jnp.int32), axis=0).astype(jnp.bool_)
    success = jnp.zeros_like(monotone).at[order].set(monotone)
    return success, jnp.mean(~success, axis=1), jnp.mean(~clean_wrong)


def evaluate(
    logits_fn: Callable[[jax.Array], jax.Array],
    x: ArrayLike,
    y: ArrayLike,
    attack: Callable[..., C.AttackResult | jax.Array],
    *,
    epsilons: Sequence[float] | ArrayLike,
) -> RobustEvaluation:
    """Runs ``attack`` at every budget in one call and scores the model on the results.

    The attack is ``jax.vmap``-ped over the budgets, so all ``K`` budgets run as one compiled
    program (and new budget values do not recompile). Each returned point is then re-scored by
    the model. An example broken at a budget is also counted as broken at every larger one (its
    adversarial point lies inside the larger ball), so success is monotone in epsilon per example;
    examples the model already gets wrong count as broken at every budget.

    Args:
      logits_fn: ``x [batch, ...] -> logits [batch, classes]`` in evaluation mode.
      x: inputs ``[N, ...]``.
      y: integer labels ``[N]``.
      attack: ``attack(logits_fn, x, y, *, eps) -> AttackResult | x_adv``, for example
        ``functools.partial(pgd, steps=10, key=key)`` or ``functools.partial(fgsm, norm="l2")``.
      epsilons: ``K`` budgets ``>= 0``.

    Returns:
      :class:`RobustEvaluation` with ``robust_accuracy [K]`` and ``success [K, N]``.

    Examples:
      >>> import functools, jax, jax.numpy as jnp
      >>> from xent_jax.attacks import fgsm
      >>> w = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
      >>> ev = evaluate(lambda x: x @ w, jnp.array([[0.6, 0.4]]), jnp.array([0]), fgsm,
      ...               epsilons=[0.0, 0.05, 0.2])
      >>> ev.robust_accuracy.tolist()
      [1.0, 1.0, 0.0]
    """
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    eps = np.asarray(epsilons, dtype=np.float64)
    if eps.ndim != 1 or eps.size == 0:
        raise ValueError(f"epsilons must be a non-empty 1-D list, got shape {eps.shape}")
    if not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(f"epsilons must be finite and >= 0, got {eps.tolist()}")
    C.check_inputs(logits_fn, x, y, (-np.inf, np.inf), loss="ce", targeted=False)
    eps_arr = jnp.asarray(eps, x.dtype)

    def one(e):
        out = attack(logits_fn, x, y, eps=e)
        return out.x_adv if isinstance(out, C.AttackResult) else out

    x_adv = jax.vmap(one)(eps_arr)
    if x_adv.shape != (eps.size,) + x.shape:
        raise ValueError(f"attack must return x_adv of shape {x.shape}, got {x_adv.shape[1:]}")
    dynamic, static = C.partition_fn(logits_fn)
    order = jnp.asarray(np.argsort(eps, kind="stable"))
    success, robust, clean = _score(dynamic, x_adv, x, y, order, static=static)
    return RobustEvaluation(eps_arr, robust, success, clean)
