"""Shared machinery of the attacks: callable handling, input checks and L-inf / L2 geometry."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax.attacks._objectives import LOSSES

NORMS = ("linf", "l2")
_TINY = 1e-12


class AttackResult(NamedTuple):
    """What an iterative attack returns (a pytree).

    Attributes:
      x_adv: ``[batch, ...]`` adversarial inputs, inside the eps-ball around ``x`` and the box.
      success: bool ``[batch]``: the model's prediction on ``x_adv`` differs from the label
        (untargeted) or equals the target (targeted); always False where the logits at
        ``x_adv`` are not all finite (a NaN is never read as "broken").
      loss: ``[batch]`` value of the ascended objective at ``x_adv`` (``-loss`` when targeted).
    """

    x_adv: jax.Array
    success: jax.Array
    loss: jax.Array


# --------------------------------------------------------------------------- callables
class _Static:
    """Hashable holder of the non-array part of a callable (compared by value, else identity)."""

    def __init__(self, treedef: Any, leaves: tuple[Any, ...]):
        self.treedef = treedef
        self.leaves = leaves
        try:
            self._hash = hash((treedef, leaves))
            self._by_value = True
        except TypeError:
            self._hash = hash((treedef, tuple(id(leaf) for leaf in leaves)))
            self._by_value = False

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Static) or self.treedef != other.treedef:
            return False
        if self._by_value and other._by_value:
            return self.leaves == other.leaves
        return len(self.leaves) == len(other.leaves) and all(
            a is b for a, b in zip(self.leaves, other.leaves, strict=True)
        )


def partition_fn(logits_fn: Callable) -> tuple[list[Any], _Static]:
    """Splits a callable into its array leaves (traced) and the rest (static, hashed).

    An NNX module, an Equinox module, a ``jax.tree_util.Partial`` or a ``functools.partial`` (for
    example ``functools.partial(linen_model.apply, params)``) has its arrays traced, so new
    parameter values never trigger a recompile and are never stale. A plain function is static:
    whatever it closes over is compiled in, as with ``jax.jit`` itself.
    """
    if not callable(logits_fn):
        raise TypeError(f"logits_fn must be callable (x -> logits), got {type(logits_fn)}")
    if isinstance(logits_fn, functools.partial):
        logits_fn = jax.tree_util.Partial(logits_fn.func, *logits_fn.args, **logits_fn.keywords)
    leaves, treedef = jax.tree_util.tree_flatten(logits_fn)
    is_array = [isinstance(leaf, jax.Array | np.ndarray) for leaf in leaves]
    dynamic = [leaf if a else None for leaf, a in zip(leaves, is_array, strict=True)]
    static = tuple(None if a else leaf for leaf, a in zip(leaves, is_array, strict=True))
    return dynamic, _Static(treedef, static)


def combine_fn(dynamic: list[Any], static: _Static) -> Callable:
    """Inverse of :func:`partition_fn`."""
    leaves = [d if s is None else s for d, s in zip(dynamic, static.leaves, strict=True)]
    return jax.tree_util.tree_unflatten(static.treedef, leaves)


# --------------------------------------------------------------------------- checks
def _concrete(value: Any) -> np.ndarray | None:
    """A numpy copy of ``value`` if it is known now (not a tracer), else None."""
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return None


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_flag(name: str, value: Any) -> bool:
    """A real bool (``targeted="no"`` would otherwise be truthy)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"{name} must be a Python int >= {minimum}, got {type(value).__name__} {value!r}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _scalar(name: str, value: Any) -> np.ndarray | None:
    """The concrete real scalar ``value`` as a numpy 0-d array; None when traced."""
    if value is None or isinstance(value, str | bool | np.bool_):
        raise TypeError(f"{name} must be a real scalar, got {type(value).__name__} {value!r}")
    arr = _concrete(value)
    if arr is None:
        return None
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a real scalar, got dtype {arr.dtype}")
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}")
    return arr


def check_nonnegative(name: str, value: Any, *, strict: bool = False) -> None:
    """Checks ``value >= 0`` (``> 0`` if strict) and finite when concrete; traced values pass."""
    arr = _scalar(name, value)
    if arr is None:
        return
    bad = not np.isfinite(arr) or (arr <= 0 if strict else arr < 0)
    if bad:
        expected = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be finite and {expected}, got {arr.item()}")


def check_unit_interval(name: str, value: Any) -> None:
    """Checks ``0 <= value <= 1`` when concrete (NaN refused); traced values pass."""
    arr = _scalar(name, value)
    if arr is not None and not 0.0 <= float(arr) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {arr.item()}")


def check_array(name: str, value: Any) -> jax.Array:
    """``jnp.asarray(value)``, refusing None and non-numeric objects by name."""
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        return jnp.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}") from err


def check_inputs(
    logits_fn: Callable,
    x: Any,
    y: Any,
    bounds: Any,
    *,
    loss: str,
    targeted: bool,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Validates ``x``, ``y`` and ``bounds``; returns them as arrays ``(x, y, lo, hi)``.

    Shapes and dtypes are always checked (``None``, an empty batch and zero classes are refused by
    name); values (label range, finite inputs inside the box) only when they are concrete, i.e.
    not traced by an enclosing ``jit``.
    """
    if not callable(logits_fn):
        raise TypeError(f"logits_fn must be callable (x -> logits), got {type(logits_fn)}")
    x = check_array("x", x)
    y = check_array("y", y)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x must be a floating array, got dtype {x.dtype}")
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
    if x.ndim < 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be [batch, ...] and y [batch]; got x {x.shape} and y {y.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"x must hold at least one example, got an empty batch of shape {x.shape}")
    if not (isinstance(bounds, tuple | list) and len(bounds) == 2):
        raise TypeError(f"bounds must be a pair (low, high), got {bounds!r}")
    _scalar("bounds[0]", bounds[0])
    _scalar("bounds[1]", bounds[1])
    lo = jnp.asarray(bounds[0], x.dtype)
    hi = jnp.asarray(bounds[1], x.dtype)
    if lo.ndim or hi.ndim:
        raise ValueError(f"bounds must be scalars, got shapes {lo.shape} and {hi.shape}")
    out = jax.eval_shape(logits_fn, jax.ShapeDtypeStruct(x.shape, x.dtype))
    if not hasattr(out, "shape") or out.shape[:1] != x.shape[:1] or len(out.shape) != 2:
        got = getattr(out, "shape", type(out))
        raise ValueError(f"logits_fn must map x {x.shape} to logits [batch, classes], got {got}")
    num_classes = out.shape[1]
    if num_classes == 0:
        raise ValueError(f"logits_fn returned zero classes: logits of shape {out.shape}")
    need = 4 if (loss == "dlr" and targeted) else 3 if loss == "dlr" else 2
    if num_classes < need:
        kind = "targeted dlr" if targeted else loss
        raise ValueError(f"loss {kind!r} needs >= {need} classes, got {num_classes}")
    lo_c, hi_c, y_c, x_c = _concrete(lo), _concrete(hi), _concrete(y), _concrete(x)
    if lo_c is not None and hi_c is not None and not lo_c < hi_c:
        raise ValueError(f"bounds must satisfy low < high, got {tuple(bounds)}")
    if y_c is not None and y_c.size and (y_c.min() < 0 or y_c.max() >= num_classes):
        bad = int(np.flatnonzero((y_c < 0) | (y_c >= num_classes))[0])
        raise ValueError(
            f"labels must be in [0, {num_classes}); y[{bad}] = {int(y_c[bad])} is out of range"
        )
    if x_c is not None and x_c.size and not np.all(np.isfinite(x_c)):
        count = int(np.sum(~np.isfinite(x_c)))
        raise ValueError(f"x must be finite, got {count} NaN/inf values")
    if x_c is not None and lo_c is not None and hi_c is not None and x_c.size:
        if not np.all((x_c >= lo_c) & (x_c <= hi_c)):
            raise ValueError(
                f"x must lie inside bounds {tuple(bounds)}, got values in "
                f"[{float(np.nanmin(x_c))}, {float(np.nanmax(x_c))}]"
            )
    return x, y, lo, hi


def check_common(norm: str, loss: str, eps: Any) -> None:
    check_choice("norm", norm, NORMS)
    check_choice("loss", loss, LOSSES)
    check_nonnegative("eps", eps)


def check_bounds(bounds: Any) -> tuple[float, float]:
    """``bounds`` as a concrete pair of floats ``low < high`` (infinities allowed)."""
    if not (isinstance(bounds, tuple | list) and len(bounds) == 2):
        raise TypeError(f"bounds must be a pair (low, high), got {bounds!r}")
    lo, hi = (_scalar(f"bounds[{i}]", b) for i, b in enumerate(bounds))
    if lo is None or hi is None:
        raise TypeError(f"bounds must be concrete numbers here, got {bounds!r}")
    if not float(lo) < float(hi):
        raise ValueError(f"bounds must satisfy low < high, got {tuple(bounds)}")
    return float(lo), float(hi)


# --------------------------------------------------------------------------- geometry
def per_example(v: jax.Array, x: jax.Array) -> jax.Array:
    """Reshapes ``[batch]`` to ``[batch, 1, ...]`` so it multiplies ``x`` without rank promotion."""
    return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


def l2_norm(v: jax.Array) -> jax.Array:
    """Per-example Euclidean norm over all but the first axis: ``[batch, ...] -> [batch]``."""
    return jnp.sqrt(jnp.sum(jnp.square(v), axis=tuple(range(1, v.ndim))))


def linf_norm(v: jax.Array) -> jax.Array:
    """Per-example max-abs norm over all but the first axis: ``[batch, ...] -> [batch]``."""
    return jnp.max(jnp.abs(v), axis=tuple(range(1, v.ndim)))


def direction(g: jax.Array, norm: str) -> jax.Array:
    """Steepest-ascent unit step: ``sign(g)`` (L-inf) or ``g / ||g||`` (L2; zero stays zero)."""
    if norm == "linf":
        return jnp.sign(g)
    n = l2_norm(g)
    return g / per_example(jnp.where(n > 0, n, 1.0), g)


def project(x_new: jax.Array, x: jax.Array, eps: jax.Array, norm: str) -> jax.Array:
    """Projects ``x_new`` onto the eps-ball (L-inf or L2) centred at ``x``."""
    if norm == "linf":
        return jnp.clip(x_new, x - eps, x + eps)
    delta = x_new - x
    n = l2_norm(delta)
    factor = jnp.minimum(1.0, eps / jnp.where(n > 0, n, 1.0))
    return x + delta * per_example(factor.astype(x.dtype), x)


def random_point(key: jax.Array, x: jax.Array, eps: jax.Array, norm: str) -> jax.Array:
    """A point drawn uniformly from the eps-ball around each example (L2: uniform in volume)."""
    if norm == "linf":
        return x + eps * jax.random.uniform(key, x.shape, x.dtype, -1.0, 1.0)
    k_dir, k_rad = jax.random.split(key)
    g = jax.random.normal(k_dir, x.shape, x.dtype)
    dim = math.prod(x.shape[1:])
    radius = jax.random.uniform(k_rad, x.shape[:1], x.dtype) ** (1.0 / dim)
    return x + direction(g, "l2") * per_example(eps * radius, x)


def predicted_success(logits: jax.Array, y: jax.Array, targeted: bool) -> jax.Array:
    """Whether the prediction is wrong (untargeted) or the target; never for non-finite logits.

    ``argmax`` of a NaN row is the NaN's index, so without the finiteness test a model that
    returns NaN would read as broken (or as hitting the target).
    """
    pred = jnp.argmax(logits, axis=-1)
    hit = pred == y if targeted else pred != y
    return hit & jnp.all(jnp.isfinite(logits), axis=-1)


class Tracker(NamedTuple):
    """Keeps, per example, the best iterate by (success, loss) in lexicographic order."""

    x: jax.Array
    loss: jax.Array
    success: jax.Array

    @staticmethod
    def start(x: jax.Array) -> Tracker:
        n = x.shape[0]
        return Tracker(x, jnp.full((n,), -jnp.inf, x.dtype), jnp.zeros((n,), jnp.bool_))

    def update(self, x: jax.Array, loss: jax.Array, success: jax.Array) -> Tracker:
        better = (success & ~self.success) | ((success == self.success) & (loss > self.loss))
        return Tracker(
            jnp.where(per_example(better, x), x, self.x),
            jnp.where(better, loss, self.loss),
            self.success | success,
        )


def finish(
    fn: Callable, objective: Callable, best: Tracker, y: jax.Array, targeted: bool
) -> AttackResult:
    """Re-runs the model once on the returned points so that ``success`` is what it predicts."""
    logits = fn(best.x)
    return AttackResult(best.x, predicted_success(logits, y, targeted), objective(logits, y))
