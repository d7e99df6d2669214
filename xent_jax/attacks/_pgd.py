"""Projected gradient descent (Madry et al. 2018) on the attack loss, compiled end to end."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from xent_jax._keys import as_key
from xent_jax.attacks import _common as C
from xent_jax.attacks._objectives import attack_objective

__all__ = ["pgd"]


def _one_run(fn, objective, x, y, eps, alpha, lo, hi, key, *, norm, steps, random_start, targeted):
    """One PGD run from one start; returns the tracker of its best iterate."""
    x0 = jnp.clip(C.random_point(key, x, eps, norm), lo, hi) if random_start else x

    def value(xa):
        logits = fn(xa)
        per_ex = objective(logits, y)
        return jnp.sum(per_ex), (per_ex, logits)

    grad_fn = jax.value_and_grad(value, has_aux=True)

    def body(_, carry):
        x_cur, best = carry
        (_, (per_ex, logits)), g = grad_fn(x_cur)
        best = best.update(x_cur, per_ex, C.predicted_success(logits, y, targeted))
        x_next = C.project(x_cur + alpha * C.direction(g, norm), x, eps, norm)
        return jnp.clip(x_next, lo, hi), best

    x_last, best = jax.lax.fori_loop(0, steps, body, (x0, C.Tracker.start(x)))
    logits = fn(x_last)
    return best.update(x_last, objective(logits, y), C.predicted_success(logits, y, targeted))


def run_restarts(one_run: Callable[[jax.Array], C.Tracker], key, x, restarts: int) -> C.Tracker:
    """Runs ``one_run(fold_in(key, r))`` for ``r < restarts`` while some example is unbroken.

    One ``while_loop`` holds every restart, so the attack loop is compiled once whatever
    ``restarts`` is; an example broken by an earlier restart keeps its point.
    """

    def cond(carry):
        r, best = carry
        return (r < restarts) & ~jnp.all(best.success)

    def body(carry):
        r, best = carry
        new = one_run(jax.random.fold_in(key, r))
        return r + 1, best.update(new.x, new.loss, new.success)

    return jax.lax.while_loop(cond, body, (jnp.asarray(0), C.Tracker.start(x)))[1]


@functools.partial(
    jax.jit,
    static_argnames=("static", "norm", "loss", "targeted", "steps", "restarts", "random_start"),
)
def _pgd(
    dynamic,
    x,
    y,
    eps,
    alpha,
    lo,
    hi,
    key,
    *,
    static,
    norm,
    loss,
    targeted,
    steps,
    restarts,
    random_start,
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
        alpha,
        lo,
        hi,
        norm=norm,
        steps=steps,
        random_start=random_start,
        targeted=targeted,
    )
    best = run_restarts(one_run, key, x, restarts)
    return C.finish(fn, objective, best, y, targeted)


def pgd(
    logits_fn: Callable[[jax.Array], jax.Array],
    x: ArrayLike,
    y: ArrayLike,
    *,
    eps: ArrayLike,
    steps: int,
    step_size: ArrayLike | None = None,
    norm: str = "linf",
    targeted: bool = False,
    random_start: bool = True,
    restarts: int = 1,
    loss: str = "ce",
    bounds: tuple[Any, Any] = (0.0, 1.0),
    key: jax.Array,
) -> C.AttackResult:
    """Projected gradient ascent on the attack loss (Madry et al. 2018), one XLA program.

    Each restart starts at a point drawn uniformly from the eps-ball (L2: uniform in volume;
    ``random_start=False`` starts at ``x``), clipped to the box, then repeats ``steps`` times::

        x <- clip(project_eps(x + step_size * d(grad)), bounds)

    with ``d = sign`` (L-inf) or ``grad / ||grad||`` (L2, zero gradient gives no step). Every
    iterate of every restart is scored: an example counts as broken if any iterate broke it, and
    the returned point is the highest-loss breaking iterate, else the highest-loss iterate.
    Restarts stop early once every example is broken. ``success`` is recomputed by one forward
    pass on the returned points, so re-running the model on ``x_adv`` reproduces it.

    ``eps``, ``step_size``, ``bounds``, ``y`` and ``key`` are traced (new values never recompile);
    ``norm``, ``loss``, ``steps``, ``restarts``, ``targeted`` and ``random_start`` are static. The
    model is only called, never changed: put it in evaluation mode first (``model.eval()``).

    Args:
      logits_fn: ``x [batch, ...] -> logits [batch, classes]``. Pytree callables (NNX modules,
        ``functools.partial(linen_model.apply, params)``) have their parameters traced; a plain
        function is compiled in as a constant, cached by identity.
      x: inputs ``[batch, ...]`` inside ``bounds``.
      y: integer labels ``[batch]``; the target classes when ``targeted``.
      eps: budget, a finite scalar ``>= 0``.
      steps: gradient steps per restart, a Python int ``>= 1``.
      step_size: per-step move, a finite scalar ``>= 0``; default ``2.5 * eps / steps``.
      norm: ``"linf"`` or ``"l2"``.
      targeted: descend the loss toward the target labels ``y``.
      random_start: start each restart from a uniform point of the ball.
      restarts: independent starts, a Python int ``>= 1`` (more than 1 needs ``random_start``).
      loss: ``"ce"``, ``"margin"`` or ``"dlr"``.
      bounds: ``(low, high)`` box of valid inputs.
      key: PRNG key (``jax.random.key(seed)``, a raw key, or an int seed meaning
        ``jax.random.key(seed)``; ``None`` is refused). Same key, same result.

    Returns:
      :class:`AttackResult` ``(x_adv [batch, ...], success bool [batch], loss [batch])``. An
      example whose logits at ``x_adv`` are not all finite is never a success.

    Raises:
      ValueError / TypeError: naming the argument, for a bad ``norm``, ``loss``, a negative or
        non-finite ``eps`` / ``step_size``, non-int or < 1 ``steps`` / ``restarts``, a ``None``
        or empty ``x``, labels out of range, inputs outside ``bounds`` or a ``None`` key.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> w = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
      >>> r = pgd(lambda x: x @ w, jnp.array([[0.6, 0.4]]), jnp.array([0]), eps=0.2, steps=5,
      ...         key=jax.random.key(0))
      >>> bool(r.success[0])
      True
      >>> r2 = pgd(lambda x: x @ w, jnp.array([[0.6, 0.4]]), jnp.array([0]), eps=0.2, steps=5,
      ...          key=7)  # an int seed means jax.random.key(7)
      >>> bool(jnp.all(r2.x_adv == pgd(lambda x: x @ w, jnp.array([[0.6, 0.4]]),
      ...     jnp.array([0]), eps=0.2, steps=5, key=jax.random.key(7)).x_adv))
      True

    References:
      Madry et al., "Towards deep learning models resistant to adversarial attacks", ICLR 2018.
    """
    C.check_common(norm, loss, eps)
    steps = C.check_count("steps", steps)
    restarts = C.check_count("restarts", restarts)
    targeted = C.check_flag("targeted", targeted)
    random_start = C.check_flag("random_start", random_start)
    key = as_key(key, "key")
    if restarts > 1 and not random_start:
        raise ValueError(f"restarts={restarts} needs random_start=True (restarts would repeat)")
    x, y, lo, hi = C.check_inputs(logits_fn, x, y, bounds, loss=loss, targeted=targeted)
    eps = jnp.asarray(eps, x.dtype)
    if step_size is None:
        step_size = 2.5 * eps / steps
    else:
        C.check_nonnegative("step_size", step_size)
    dynamic, static = C.partition_fn(logits_fn)
    return _pgd(
        dynamic,
        x,
        y,
        eps,
        jnp.asarray(step_size, x.dtype),
        lo,
        hi,
        key,
        static=static,
        norm=norm,
        loss=loss,
        targeted=targeted,
        steps=steps,
        restarts=restarts,
        random_start=random_start,
    )
