"""Auto-PGD (Croce and Hein 2020): step-size-free PGD with momentum and checkpoints."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from xent_jax._keys import as_key
from xent_jax.attacks import _common as C
from xent_jax.attacks._objectives import attack_objective
from xent_jax.attacks._pgd import run_restarts

__all__ = ["apgd", "apgd_checkpoints"]


def apgd_checkpoints(steps: int) -> tuple[int, ...]:
    """Iteration counts after which APGD checks progress and may halve the step size.

    ``w_1 = 0.22 N``, then intervals shrink by ``0.03 N`` down to at least ``0.06 N``
    (integer parts, each at least 1, as in AutoAttack); checkpoints beyond ``N`` are dropped.

    Args:
      steps: the number of iterations ``N >= 1``.

    Returns:
      Increasing 1-based iteration counts.

    Examples:
      >>> apgd_checkpoints(100)
      (22, 41, 57, 70, 80, 87, 93, 99)
    """
    steps = C.check_count("steps", steps)
    interval = max(22 * steps // 100, 1)
    decrease = max(3 * steps // 100, 1)
    minimum = max(6 * steps // 100, 1)
    points, at = [], interval
    while at <= steps:
        points.append(at)
        interval = max(interval - decrease, minimum)
        at += interval
    return tuple(points)


def _schedule(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per iteration ``i`` (0-based): is ``i + 1`` a checkpoint, and the interval it closes."""
    is_ckpt = np.zeros(steps, bool)
    length = np.ones(steps, np.int32)
    prev = 0
    for point in apgd_checkpoints(steps):
        is_ckpt[point - 1] = True
        length[point - 1] = point - prev
        prev = point
    return is_ckpt, length


def _start(key, x, eps, norm):
    """AutoAttack's start: a random point on the boundary of the ball (L-inf: scaled to max eps)."""
    if norm == "linf":
        t = jax.random.uniform(key, x.shape, x.dtype, -1.0, 1.0)
        scale = C.linf_norm(t)
    else:
        t = jax.random.normal(key, x.shape, x.dtype)
        scale = C.l2_norm(t)
    return x + eps * t / C.per_example(jnp.where(scale > 0, scale, 1.0), x)


def _one_run(fn, objective, x, y, eps, lo, hi, key, *, norm, steps, targeted, rho, momentum):
    is_ckpt, length = (jnp.asarray(a) for a in _schedule(steps))

    def value(xa):
        logits = fn(xa)
        per_ex = objective(logits, y)
        return jnp.sum(per_ex), (per_ex, logits)

    grad_fn = jax.value_and_grad(value, has_aux=True)

    def to_feasible(z):
        return jnp.clip(C.project(z, x, eps, norm), lo, hi)

    x_adv = jnp.clip(_start(key, x, eps, norm), lo, hi)
    (_, (loss, logits)), grad = grad_fn(x_adv)
    best = C.Tracker.start(x).update(x_adv, loss, C.predicted_success(logits, y, targeted))
    n = x.shape[0]
    step = jnp.full((n,), 2.0, x.dtype) * eps
    state = dict(
        x_adv=x_adv,
        x_old=x_adv,
        grad=grad,
        step=step,
        best=best,
        x_max=x_adv,
        loss_max=loss,
        grad_max=grad,  # highest-loss point (restart target)
        prev_loss=loss,
        increases=jnp.zeros((n,), jnp.int32),
        loss_max_last=loss,
        reduced_last=jnp.ones((n,), jnp.bool_),
    )

    def body(i, s):
        a = jnp.where(i > 0, jnp.asarray(momentum, x.dtype), jnp.asarray(1.0, x.dtype))
        z = to_feasible(s["x_adv"] + C.per_example(s["step"], x) * C.direction(s["grad"], norm))
        x_new = to_feasible(s["x_adv"] + (z - s["x_adv"]) * a + (s["x_adv"] - s["x_old"]) * (1 - a))
        (_, (loss, logits)), grad = grad_fn(x_new)
        best = s["best"].update(x_new, loss, C.predicted_success(logits, y, targeted))
        improved = loss > s["loss_max"]
        ex = functools.partial(C.per_example, improved)
        x_max = jnp.where(ex(x), x_new, s["x_max"])
        grad_max = jnp.where(ex(x), grad, s["grad_max"])
        loss_max = jnp.where(improved, loss, s["loss_max"])
        increases = s["increases"] + (loss > s["prev_loss"]).astype(jnp.int32)

        # Checkpoint: halve the step and go back to the best point where progress stalled.
        ckpt = is_ckpt[i]
        oscillating = increases.astype(x.dtype) <= rho * length[i].astype(x.dtype)
        stalled = ~s["reduced_last"] & (s["loss_max_last"] >= loss_max)
        halve = ckpt & (oscillating | stalled)
        hx = C.per_example(halve, x)
        return dict(
            x_adv=jnp.where(hx, x_max, x_new),
            x_old=s["x_adv"],
            grad=jnp.where(hx, grad_max, grad),
            step=jnp.where(halve, s["step"] / 2, s["step"]),
            best=best,
            x_max=x_max,
            loss_max=loss_max,
            grad_max=grad_max,
            prev_loss=loss,
            increases=jnp.where(ckpt, 0, increases),
            loss_max_last=jnp.where(ckpt, loss_max, s["loss_max_last"]),
            reduced_last=jnp.where(ckpt, oscillating | stalled, s["reduced_last"]),
        )

    return jax.lax.fori_loop(0, steps, body, state)["best"]


@functools.partial(
    jax.jit, static_argnames=("static", "norm", "loss", "targeted", "steps", "restarts")
)
def _apgd(
    dynamic, x, y, eps, lo, hi, key, rho, momentum, *, static, norm, loss, targeted, steps, restarts
):
    fn = C.combine_fn(dynamic, static)
    objective = attack_objective(loss, targeted=targeted)
    one_run = functools.partial(
        _one_run,
        fn,
        objective,
        x,
        y,
        eps,
        lo,
        hi,
        norm=norm,
        steps=steps,
        targeted=targeted,
        rho=rho,
        momentum=momentum,
    )
    best = run_restarts(one_run, key, x, restarts)
    return C.finish(fn, objective, best, y, targeted)


def apgd(
    logits_fn: Callable[[jax.Array], jax.Array],
    x: ArrayLike,
    y: ArrayLike,
    *,
    eps: ArrayLike,
    steps: int = 100,
    norm: str = "linf",
    loss: str = "ce",
    targeted: bool = False,
    restarts: int = 1,
    bounds: tuple[Any, Any] = (0.0, 1.0),
    rho: float = 0.75,
    momentum: float = 0.75,
    key: jax.Array,
) -> C.AttackResult:
    """Auto-PGD (Croce and Hein 2020) with CE or DLR loss, L-inf or L2, one XLA program.

    Starts on a random point of the ball's boundary with step ``2 eps``. Each iteration takes a
    projected gradient step ``z`` and then the momentum step
    ``x <- P(x + momentum (z - x) + (1 - momentum) (x - x_prev))`` (no momentum on the first).
    At the checkpoints :func:`apgd_checkpoints` an example whose loss increased in at most
    ``rho`` of the iterations since the last checkpoint, or whose best loss did not improve while
    the step was not halved last time, has its step halved and restarts from its best point.
    Success and the returned point follow :func:`pgd`: any iterate of any restart that breaks an
    example counts, else the highest-loss iterate is returned; restarts stop once all are broken.

    Args:
      logits_fn: ``x [batch, ...] -> logits [batch, classes]`` (see :func:`pgd`).
      x: inputs ``[batch, ...]`` inside ``bounds``.
      y: integer labels ``[batch]`` (targets when ``targeted``).
      eps: budget, a finite scalar ``>= 0``.
      steps: iterations per restart, a Python int ``>= 1`` (static).
      norm: ``"linf"`` or ``"l2"``.
      loss: ``"ce"`` or ``"dlr"`` (DLR needs >= 3 classes, targeted DLR >= 4); ``"margin"`` also
        works.
      targeted: move toward the targets ``y``.
      restarts: independent random starts, a Python int ``>= 1``.
      bounds: ``(low, high)`` box.
      rho: oscillation threshold of the checkpoint test, a fraction in ``[0, 1]``.
      momentum: weight of the new step, in ``[0, 1]`` (0.75 in the paper; 1 is no momentum).
      key: PRNG key (a typed key, a raw key or an int seed meaning ``jax.random.key(seed)``;
        ``None`` is refused).

    Returns:
      :class:`AttackResult`. An example whose logits at ``x_adv`` are not all finite is never
      a success.

    Raises:
      ValueError / TypeError: naming the argument, for ``rho`` or ``momentum`` outside
        ``[0, 1]``, and as :func:`pgd` for ``eps``, ``steps``, ``restarts``, ``norm``, ``loss``,
        the inputs and the key.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> w = jnp.eye(3)
      >>> r = apgd(lambda x: x @ w, jnp.array([[0.6, 0.4, 0.3]]), jnp.array([0]), eps=0.2,
      ...          steps=10, key=jax.random.key(0))
      >>> bool(r.success[0])
      True
      >>> apgd(lambda x: x @ w, jnp.array([[0.6, 0.4, 0.3]]), jnp.array([0]), eps=0.2,
      ...      momentum=1.5, key=0)
      Traceback (most recent call last):
      ...
      ValueError: momentum must be in [0, 1], got 1.5

    References:
      Croce and Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
      parameter-free attacks", ICML 2020.
    """
    C.check_common(norm, loss, eps)
    steps = C.check_count("steps", steps)
    restarts = C.check_count("restarts", restarts)
    targeted = C.check_flag("targeted", targeted)
    C.check_unit_interval("rho", rho)
    C.check_unit_interval("momentum", momentum)
    key = as_key(key, "key")
    x, y, lo, hi = C.check_inputs(logits_fn, x, y, bounds, loss=loss, targeted=targeted)
    dynamic, static = C.partition_fn(logits_fn)
    return _apgd(
        dynamic,
        x,
        y,
        jnp.asarray(eps, x.dtype),
        lo,
        hi,
        key,
        jnp.asarray(rho, x.dtype),
        jnp.asarray(momentum, x.dtype),
        static=static,
        norm=norm,
        loss=loss,
        targeted=targeted,
        steps=steps,
        restarts=restarts,
    )
