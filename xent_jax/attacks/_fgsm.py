"""Fast gradient (sign) method: one step of gradient ascent on the attack loss."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from xent_jax.attacks import _common as C
from xent_jax.attacks._objectives import attack_objective

__all__ = ["fgsm"]


@functools.partial(jax.jit, static_argnames=("static", "norm", "loss", "targeted"))
def _fgsm(dynamic, x, y, eps, lo, hi, *, static, norm, loss, targeted):
    fn = C.combine_fn(dynamic, static)
    objective = attack_objective(loss, targeted=targeted)
    g = jax.grad(lambda xa: jnp.sum(objective(fn(xa), y)))(x)
    x_adv = x + eps * C.direction(g, norm)
    return jnp.clip(x_adv, lo, hi)


def fgsm(
    logits_fn: Callable[[jax.Array], jax.Array],
    x: ArrayLike,
    y: ArrayLike,
    *,
    eps: ArrayLike,
    norm: str = "linf",
    targeted: bool = False,
    bounds: tuple[Any, Any] = (0.0, 1.0),
    loss: str = "ce",
) -> jax.Array:
    """Fast gradient method (Goodfellow et al. 2015): ``x + eps * d`` clipped to the box.

    ``d = sign(grad)`` for ``norm="linf"`` (FGSM) and ``d = grad / ||grad||`` for ``norm="l2"``
    (so the L2 step has length exactly ``eps`` before clipping; a zero gradient gives no step).
    The gradient is of the per-example attack loss summed over the batch, ascended (untargeted)
    or descended toward ``y`` as targets (``targeted=True``). One forward and one backward pass,
    compiled; ``eps`` and ``bounds`` are traced, so new values do not recompile.

    Args:
      logits_fn: any function ``x [batch, ...] -> logits [batch, classes]`` in evaluation mode
        (an NNX module, ``functools.partial(linen_model.apply, params)``, a plain function).
      x: inputs ``[batch, ...]`` inside ``bounds``.
      y: integer labels ``[batch]`` (targets when ``targeted``).
      eps: budget, a finite scalar ``>= 0``.
      norm: ``"linf"`` or ``"l2"``.
      targeted: move toward ``y`` instead of away from it.
      bounds: ``(low, high)`` box the inputs live in.
      loss: ``"ce"``, ``"margin"`` or ``"dlr"`` (see :func:`xent_jax.attacks.attack_objective`).

    Returns:
      Adversarial inputs, same shape and dtype as ``x``. A NaN/inf gradient is not repaired: it
      gives a NaN ``x_adv`` for that example, which :func:`evaluate` refuses loudly.

    Examples:
      >>> import jax.numpy as jnp
      >>> w = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
      >>> fgsm(lambda x: x @ w, jnp.array([[0.6, 0.4]]), jnp.array([0]), eps=0.1)
      Array([[0.5, 0.5]], dtype=float32)

    References:
      Goodfellow, Shlens and Szegedy, "Explaining and harnessing adversarial examples", ICLR 2015.
    """
    C.check_common(norm, loss, eps)
    targeted = C.check_flag("targeted", targeted)
    x, y, lo, hi = C.check_inputs(logits_fn, x, y, bounds, loss=loss, targeted=targeted)
    dynamic, static = C.partition_fn(logits_fn)
    eps = jnp.asarray(eps, x.dtype)
    return _fgsm(dynamic, x, y, eps, lo, hi, static=static, norm=norm, loss=loss, targeted=targeted)
