"""Robust accuracy over a list of budgets from one compiled, epsilon-batched attack."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from xent_jax.attacks import _common as C

__all__ = ["RobustEvaluation", "evaluate"]

NONFINITE = ("raise", "count")
# Status of an example at a budget, ordered so that a running maximum over sorted budgets carries
# the evidence of every smaller ball: broken beats unknown (a point of the ball that breaks it is
# valid evidence), unknown beats robust (the model gave no prediction at some point of the ball).
_ROBUST, _NONFINITE, _BROKEN = 0, 1, 2


class RobustEvaluation(NamedTuple):
    """Result of :func:`evaluate`.

    Attributes:
      epsilons: ``[K]`` the budgets, in the order given.
      robust_accuracy: ``[K]`` fraction of examples classified correctly under every attack
        point found at that budget or any smaller one, among the examples with finite logits
        (``nonfinite`` ones are neither robust nor broken; NaN if all are).
      success: bool ``[K, N]``: the example is misclassified at that budget (clean error counts).
      clean_accuracy: scalar accuracy on ``x`` among the examples with finite clean logits.
      nonfinite: bool ``[K, N]``: the model returned NaN/inf logits on ``x`` or on an attack point
        at that budget or a smaller one, and no point broke the example. Always all False unless
        ``nonfinite="count"`` (the default raises instead).
      num_nonfinite: int ``[K]``: ``nonfinite.sum(axis=1)``.
    """

    epsilons: jax.Array
    robust_accuracy: jax.Array
    success: jax.Array
    clean_accuracy: jax.Array
    nonfinite: jax.Array
    num_nonfinite: jax.Array


@functools.partial(jax.jit, static_argnames=("static", "norm"))
def _score(dynamic, x_adv, x, y, order, lo, hi, *, static, norm):
    """Per budget and example: distance to ``x``, box excess, finiteness and status."""
    fn = C.combine_fn(dynamic, static)
    k, n = x_adv.shape[:2]
    flat = x_adv.reshape((k * n,) + x_adv.shape[2:])
    delta = (x_adv - x[None]).reshape((k * n,) + x.shape[1:])
    dist = (C.linf_norm(delta) if norm == "linf" else C.l2_norm(delta)).reshape(k, n)
    axes = tuple(range(2, x_adv.ndim))
    excess = jnp.maximum(lo - jnp.min(x_adv, axis=axes), jnp.max(x_adv, axis=axes) - hi)
    point_finite = jnp.all(jnp.isfinite(x_adv), axis=axes)

    clean_logits = fn(x)
    clean_finite = jnp.all(jnp.isfinite(clean_logits), axis=-1)
    clean_wrong = clean_finite & (jnp.argmax(clean_logits, axis=-1) != y)
    logits = fn(flat)
    finite = jnp.all(jnp.isfinite(logits), axis=-1).reshape(k, n)
    wrong = finite & (jnp.argmax(logits, axis=-1) != jnp.tile(y, k)).reshape(k, n)
    status = jnp.where(
        wrong | clean_wrong[None, :],
        _BROKEN,
        jnp.where(finite & clean_finite[None, :], _ROBUST, _NONFINITE),
    )
    status = jax.lax.cummax(status[order], axis=0)
    status = jnp.zeros_like(status).at[order].set(status)
    return dict(
        dist=dist,
        excess=excess,
        point_finite=point_finite,
        finite=finite,
        clean_finite=clean_finite,
        clean_wrong=clean_wrong,
        status=status,
    )


def _attack_default(attack: Callable, name: str) -> Any:
    """The value the attack uses for keyword ``name`` (its signature default), or None."""
    try:
        param = inspect.signature(attack).parameters.get(name)
    except (TypeError, ValueError):
        return None
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


def _resolve(attack: Callable, name: str, given: Any, check: Callable[[Any], Any]) -> Any:
    """The norm or bounds the attack promises: given explicitly, else read from its signature."""
    found = _attack_default(attack, name)
    if given is None:
        if found is None:
            raise ValueError(
                f"evaluate cannot read the attack's {name} from its signature; pass {name}= "
                "explicitly (the ball / box the attack keeps its points in)"
            )
        return check(found)
    given = check(given)
    if found is not None and check(found) != given:
        raise ValueError(f"{name}={given!r} was passed but the attack uses {name}={found!r}")
    return given


def _check_norm(norm: Any) -> str:
    C.check_choice("norm", norm, C.NORMS)
    return norm


def _violations(r: dict, eps: np.ndarray, lo: float, hi: float, norm: str, tol: float) -> None:
    """Raises a ValueError naming the attack points outside the ball, the box, or not finite."""
    n = r["dist"].shape[1]
    bad_point = ~r["point_finite"]
    if bad_point.any():
        k, i = np.argwhere(bad_point)[0]
        raise ValueError(
            f"attack returned non-finite (NaN/inf) adversarial inputs for "
            f"{int(bad_point.any(axis=0).sum())} of {n} examples ({int(bad_point.sum())} "
            f"(budget, example) pairs); first: example {i} at eps={eps[k]:g}. A NaN/inf "
            "gradient of the model is the usual cause"
        )
    allowed = eps[:, None] + tol * np.maximum(1.0, eps[:, None])
    over = r["dist"] - allowed
    if (over > 0).any():
        k, i = np.unravel_index(np.argmax(over), over.shape)
        count = int((over > 0).any(axis=0).sum())
        raise ValueError(
            f"attack returned points outside the {norm} eps-ball for {count}"
            f" of {n} examples ({int((over > 0).sum())} (budget, example) pairs); worst: example "
            f"{i} at eps={eps[k]:g} lies at distance {r['dist'][k, i]:.6g} "
            f"(tolerance {tol:g} * max(1, eps))"
        )
    box_tol = tol * max(
        1.0, abs(lo) if np.isfinite(lo) else 1.0, abs(hi) if np.isfinite(hi) else 1.0
    )
    out = r["excess"] - box_tol
    if (out > 0).any():
        k, i = np.unravel_index(np.argmax(out), out.shape)
        raise ValueError(
            f"attack returned points outside the box [{lo:g}, {hi:g}] for "
            f"{int((out > 0).any(axis=0).sum())} of {n} examples ({int((out > 0).sum())} "
            f"(budget, example) pairs); worst: example {i} at eps={eps[k]:g} is "
            f"{r['excess'][k, i]:.6g} outside (tolerance {box_tol:g})"
        )


def evaluate(
    logits_fn: Callable[[jax.Array], jax.Array],
    x: ArrayLike,
    y: ArrayLike,
    attack: Callable[..., C.AttackResult | jax.Array],
    *,
    epsilons: Sequence[float] | ArrayLike,
    norm: str | None = None,
    bounds: tuple[float, float] | None = None,
    tolerance: float = 1e-5,
    nonfinite: str = "raise",
) -> RobustEvaluation:
    """Runs ``attack`` at every budget in one call, checks its points, and scores the model.

    The attack is ``jax.vmap``-ped over the budgets, so all ``K`` budgets run as one compiled
    program (and new budget values do not recompile). Each returned point is then re-scored by
    the model. An example broken at a budget is also counted as broken at every larger one (its
    adversarial point lies inside the larger ball), so success is monotone in epsilon per example;
    examples the model already gets wrong count as broken at every budget.

    Every returned point is verified, per example and budget, before anything is scored: it must
    be finite, lie in the ``norm`` ball of radius ``eps`` around its ``x`` up to
    ``tolerance * max(1, eps)`` (distances computed in the input dtype; the default ``1e-5``
    covers float32 rounding of ``x + delta`` and of the L2 norm for inputs of magnitude about 1;
    raise it for bfloat16/float16 inputs or inputs in ``[0, 255]``),
    and lie in the box ``bounds`` up to ``tolerance * max(1, |low|, |high|)``. Otherwise a
    ``ValueError`` names how many examples fail and the worst violation: the robust accuracy of
    an attack that leaves its ball is meaningless.

    NaN/inf logits (on ``x`` or on an attack point) are never read as robust or as broken: by
    default they raise a ``ValueError`` with the counts; with ``nonfinite="count"`` such an
    example (unless a point of its ball broke it) is reported in ``nonfinite`` and left out of
    both the numerator and the denominator of ``robust_accuracy``.

    Args:
      logits_fn: ``x [batch, ...] -> logits [batch, classes]`` in evaluation mode.
      x: inputs ``[N, ...]`` inside ``bounds``, ``N >= 1``.
      y: integer labels ``[N]``.
      attack: ``attack(logits_fn, x, y, *, eps) -> AttackResult | x_adv``, for example
        ``functools.partial(pgd, steps=10, key=key)`` or ``functools.partial(fgsm, norm="l2")``.
      epsilons: ``K >= 1`` budgets, finite and ``>= 0``.
      norm: the ball the attack promises, ``"linf"`` or ``"l2"``; default: the attack's own
        ``norm`` keyword (its signature default, so ``functools.partial(pgd, norm="l2")`` gives
        ``"l2"``); must be given for an attack without one, and must agree with it otherwise.
      bounds: ``(low, high)`` box of valid inputs; default and agreement as for ``norm``.
      tolerance: slack of the ball and box checks, see above.
      nonfinite: ``"raise"`` (default) or ``"count"``.

    Returns:
      :class:`RobustEvaluation` with ``robust_accuracy [K]``, ``success [K, N]`` and
      ``nonfinite [K, N]``.

    Raises:
      ValueError: attack points outside the ball or box or not finite; non-finite logits (with
        ``nonfinite="raise"``); empty ``x`` or ``epsilons``; negative or non-finite budgets; a
        ``norm`` or ``bounds`` that cannot be read or disagrees with the attack's.
      TypeError: ``None`` or non-array ``x``/``y``, an ``attack`` that is not callable.

    Examples:
      >>> import functools, jax, jax.numpy as jnp
      >>> from xent_jax.attacks import fgsm
      >>> w = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
      >>> ev = evaluate(lambda x: x @ w, jnp.array([[0.6, 0.4]]), jnp.array([0]), fgsm,
      ...               epsilons=[0.0, 0.05, 0.2])
      >>> ev.robust_accuracy.tolist()
      [1.0, 1.0, 0.0]

      An "attack" that leaves its ball is refused:

      >>> leaky = lambda fn, x, y, *, eps: x + 2 * eps
      >>> x0, y0 = jnp.array([[0.4, 0.4]]), jnp.array([0])
      >>> evaluate(lambda x: x @ w, x0, y0, leaky, epsilons=[0.1], norm="linf",  # doctest:+ELLIPSIS
      ...          bounds=(0.0, 1.0))
      Traceback (most recent call last):
      ...
      ValueError: attack returned points outside the linf eps-ball for 1 of 1 examples ...
    """
    if not callable(attack):
        raise TypeError(f"attack must be callable (logits_fn, x, y, *, eps), got {type(attack)}")
    C.check_choice("nonfinite", nonfinite, NONFINITE)
    C.check_nonnegative("tolerance", tolerance)
    if epsilons is None:
        raise TypeError("epsilons must be a non-empty 1-D list of budgets, got None")
    try:
        eps = np.asarray(epsilons, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"epsilons must be a 1-D list of numbers, got {epsilons!r}") from err
    if eps.ndim != 1 or eps.size == 0:
        raise ValueError(f"epsilons must be a non-empty 1-D list, got shape {eps.shape}")
    if not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(f"epsilons must be finite and >= 0, got {eps.tolist()}")
    norm = _resolve(attack, "norm", norm, _check_norm)
    lo, hi = _resolve(attack, "bounds", bounds, C.check_bounds)
    x, y, _, _ = C.check_inputs(logits_fn, x, y, (lo, hi), loss="ce", targeted=False)
    eps_arr = jnp.asarray(eps, x.dtype)

    def one(e):
        out = attack(logits_fn, x, y, eps=e)
        return out.x_adv if isinstance(out, C.AttackResult) else out

    x_adv = jax.vmap(one)(eps_arr)
    if not hasattr(x_adv, "shape") or x_adv.shape != (eps.size,) + x.shape:
        got = getattr(x_adv, "shape", type(x_adv))
        raise ValueError(f"attack must return x_adv of shape {x.shape}, got {got}")
    dynamic, static = C.partition_fn(logits_fn)
    order = jnp.asarray(np.argsort(eps, kind="stable"))
    r = _score(
        dynamic,
        x_adv,
        x,
        y,
        order,
        jnp.asarray(lo, x.dtype),
        jnp.asarray(hi, x.dtype),
        static=static,
        norm=norm,
    )
    r = jax.tree_util.tree_map(np.asarray, r)
    _violations(r, np.asarray(eps_arr, np.float64), lo, hi, norm, float(tolerance))
    n = x.shape[0]
    if nonfinite == "raise" and not (r["finite"].all() and r["clean_finite"].all()):
        per_eps = ", ".join(
            f"eps={e:g}: {c}" for e, c in zip(eps, (~r["finite"]).sum(axis=1), strict=True) if c
        )
        raise ValueError(
            f"logits_fn returned non-finite (NaN/inf) logits for {int((~r['clean_finite']).sum())}"
            f" of {n} clean inputs and for attack points ({per_eps or 'none'}); they are neither "
            'robust nor broken. Pass nonfinite="count" to report them in RobustEvaluation.nonfinite'
        )
    status = r["status"]
    success = status == _BROKEN
    unknown = status == _NONFINITE
    counted = n - unknown.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        robust = np.where(
            counted > 0, (status == _ROBUST).sum(axis=1) / np.maximum(counted, 1), np.nan
        )
        clean_n = r["clean_finite"].sum()
        clean = (r["clean_finite"] & ~r["clean_wrong"]).sum() / clean_n if clean_n else np.nan
    return RobustEvaluation(
        eps_arr,
        jnp.asarray(robust, x.dtype),
        jnp.asarray(success),
        jnp.asarray(clean, x.dtype),
        jnp.asarray(unknown),
        jnp.asarray(unknown.sum(axis=1), jnp.int32),
    )
