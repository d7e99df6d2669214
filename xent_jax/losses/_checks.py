"""Input validation shared by the losses: static checks raise eagerly, value checks in checked mode.

Static properties (dtype, rank, shape, option values) are checked when the function is traced and
raise ``TypeError``/``ValueError`` naming the argument, the expected and the received value.

Value properties that depend on array contents (a label out of range, a smoothing factor outside
``[0, 1]``, a negative class weight or ``pos_weight``, a NaN or ``+inf`` input) cannot raise under
``jax.jit``. They are recorded with :func:`jax.experimental.checkify.debug_check` only in
**checked mode**, which is off by default, so that a plain ``jit`` of a loss carries no check at
all (a ``debug_check`` in a jitted function costs about 0.7 ms per call on CPU even when unused,
because it disables JAX's fast dispatch path). Turn it on with :func:`checked`:

* ``checked(fn)(*args)`` runs ``fn`` with the checks recorded and raises
  ``checkify.JaxRuntimeError`` (a ``ValueError``) whose message names the argument, the offending
  index and value;
* ``with checked(): ...`` records the checks in everything traced inside the block (the setting is
  part of ``jax.jit``'s cache key, so a function jitted outside the block is retraced inside it);
  combine it with ``jax.jit(checkify.checkify(f, errors=checkify.user_checks))`` and
  ``err.throw()`` to check inside your own jitted code.

Where a value check concerns a concrete (not traced) option, such as a Python float
``label_smoothing`` or a concrete ``class_weights`` array, it raises ``ValueError`` eagerly in
every mode.

Examples:
  >>> import jax.numpy as jnp
  >>> from xent_jax.losses import checked, softmax_cross_entropy_with_integer_labels
  >>> safe_ce = checked(softmax_cross_entropy_with_integer_labels)
  >>> safe_ce(jnp.zeros((2, 3)), jnp.array([0, 2])).shape
  (2,)
"""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

__all__ = [
    "as_array",
    "as_float_array",
    "broadcast_arrays",
    "broadcast_where",
    "canonical_axes",
    "canonical_axis",
    "check_broadcastable",
    "check_class_weights",
    "check_finite",
    "check_floating",
    "check_in_range",
    "check_integer",
    "check_label_smoothing",
    "check_labels_in_range",
    "check_nonnegative",
    "check_same_shape",
    "checked",
    "checks_enabled",
    "compute_dtype",
    "flatten_axes",
    "is_concrete",
    "value_check",
]

# Part of jax.jit's cache key: a function traced with checks on is never reused with checks off.
_CHECKS = jax.make_user_context(default_value=False)


def checks_enabled() -> bool:
    """True inside :func:`checked` (value checks are then recorded with checkify)."""
    return bool(_CHECKS.value)


def is_concrete(x: Any) -> bool:
    """Returns True when ``x`` holds concrete values (not a tracer under jit/grad/vmap)."""
    return not isinstance(x, jax.core.Tracer)


def _dtype_of(x: Any) -> np.dtype:
    return jnp.result_type(x) if not hasattr(x, "dtype") else np.dtype(x.dtype)


def check_floating(x: Any, name: str) -> None:
    """Raises ``TypeError`` unless ``x`` has a floating dtype."""
    dtype = _dtype_of(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name} must have a floating dtype, got dtype {dtype}")


def check_integer(x: Any, name: str) -> None:
    """Raises ``TypeError`` unless ``x`` has an integer dtype."""
    dtype = _dtype_of(x)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"{name} must have an integer dtype (class indices), got dtype {dtype}")


def compute_dtype(*dtypes: Any) -> np.dtype:
    """Returns the dtype a loss computes in: at least float32 (bf16/f16 are upcast).

    Integer and boolean dtypes (labels that optax casts) do not raise the precision: only floating
    dtypes take part, and float32 is the floor.
    """
    floats = [d for d in dtypes if jnp.issubdtype(np.dtype(d), jnp.floating)]
    return np.dtype(jnp.promote_types(jnp.result_type(*floats) if floats else jnp.float32, "f4"))


def as_array(x: jax.typing.ArrayLike, name: str) -> jax.Array:
    """Converts ``x`` to an array; ``None`` is refused with a ``TypeError`` naming ``name``."""
    if x is None:
        raise TypeError(f"{name} must be an array, got None")
    return jnp.asarray(x)


def as_float_array(x: jax.typing.ArrayLike, name: str) -> jax.Array:
    """Converts ``x`` to an array (:func:`as_array`) and checks that it is floating point."""
    x = as_array(x, name)
    check_floating(x, name)
    return x


def canonical_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    """Returns ``axis`` as a non-negative int, or raises naming it."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"{name} must be an int, got {axis!r} of type {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name} must be in [{-ndim}, {ndim}) for an array of rank {ndim}, got {axis}"
        )
    return int(axis) % ndim


def canonical_axes(axis: Any, ndim: int, name: str = "axis", *, allow_none: bool = True):
    """Returns ``axis`` (an int, a tuple of ints, or None for all axes) as a sorted-free tuple.

    The order of a tuple is kept (it defines the flattening order of the class axes, as in optax).

    Raises:
      TypeError: for another type (None too when ``allow_none`` is False).
      ValueError: for an axis out of range or a repeated axis.
    """
    if axis is None:
        if not allow_none:
            raise TypeError(f"{name} must be an int or a tuple of ints, got None")
        return tuple(range(ndim))
    if isinstance(axis, tuple | list):
        axes = tuple(canonical_axis(operator.index(a), ndim, name) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name} must not repeat an axis, got {axis}")
        return axes
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        kinds = "an int, a tuple of ints" + (" or None" if allow_none else "")
        raise TypeError(f"{name} must be {kinds}, got {axis!r} of type {type(axis).__name__}")
    return (canonical_axis(axis, ndim, name),)


def flatten_axes(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """Moves ``axes`` last (in the given order) and flattens them into one trailing axis.

    A no-op (no transpose) when ``axes`` is already the single last axis.
    """
    ndim = x.ndim
    if axes == (ndim - 1,):
        return x
    batch = tuple(a for a in range(ndim) if a not in axes)
    if batch + axes != tuple(range(ndim)):
        x = jnp.transpose(x, batch + axes)
    return x.reshape(tuple(x.shape[: len(batch)]) + (-1,))


def check_same_shape(a: Any, b: Any, names: tuple[str, str]) -> None:
    """Raises ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if tuple(np.shape(a)) != tuple(np.shape(b)):
        raise ValueError(
            f"{names[1]} must have the same shape as {names[0]} {tuple(np.shape(a))}, "
            f"got {tuple(np.shape(b))}"
        )


def check_broadcastable(x: Any, shape: Sequence[int], name: str, target: str) -> None:
    """Raises ``ValueError`` unless ``x`` broadcasts (numpy rules) to ``shape``."""
    xs = tuple(np.shape(x))
    try:
        out = np.broadcast_shapes(xs, tuple(shape))
    except ValueError:
        out = None
    if out != tuple(shape):
        raise ValueError(
            f"{name} must broadcast to the shape of {target} {tuple(shape)}, got shape {xs}"
        )


def broadcast_arrays(arrays: dict[str, jax.Array]) -> tuple[tuple[int, ...], list[jax.Array]]:
    """Broadcasts arrays explicitly (numpy rules), naming them when their shapes do not match.

    Explicit ``jnp.broadcast_to`` keeps the losses usable under
    ``jax_numpy_rank_promotion="raise"``; arrays already of the common shape are left untouched.

    Returns:
      ``(shape, arrays)``.
    """
    shapes = {name: tuple(a.shape) for name, a in arrays.items()}
    try:
        shape = tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        described = ", ".join(f"{n} {s}" for n, s in shapes.items())
        raise ValueError(f"the shapes must broadcast together, got {described}") from None
    return shape, [a if a.shape == shape else jnp.broadcast_to(a, shape) for a in arrays.values()]


def broadcast_where(
    where: Any, shape: tuple[int, ...], axes: tuple[int, ...] | None = None, name: str = "where"
) -> jax.Array | None:
    """Returns ``where`` as a boolean array of ``shape``, or None.

    As in optax, a ``where`` of lower rank than ``shape`` first gets size-1 dimensions at ``axes``
    (a per-example mask), then it broadcasts (numpy rules).

    Raises:
      TypeError: for a non-boolean mask. ValueError: for a shape that does not broadcast.
    """
    if where is None:
        return None
    where = jnp.asarray(where)
    if where.dtype != jnp.bool_:
        raise TypeError(f"{name} must be a boolean mask, got dtype {where.dtype}")
    original = tuple(where.shape)
    if axes is not None and where.ndim == len(shape) - len(axes):
        where = jnp.expand_dims(where, tuple(sorted(axes)))
    try:
        out = tuple(np.broadcast_shapes(tuple(where.shape), shape))
    except ValueError:
        out = None
    if out != tuple(shape):
        batch = tuple(s for i, s in enumerate(shape) if axes is None or i not in axes)
        raise ValueError(
            f"{name} must broadcast to the shape {tuple(shape)}"
            + (f" or to the batch shape {batch}" if axes is not None else "")
            + f", got shape {original}"
        )
    return where if where.shape == tuple(shape) else jnp.broadcast_to(where, shape)


def value_check(pred: jax.Array, message: str, **fmt: Any) -> None:
    """Records a checkify check in checked mode (nothing otherwise).

    ``message`` may contain ``{name}`` fields filled from ``fmt`` (arrays) when the check fails.
    """
    if checks_enabled():
        checkify.debug_check(pred, message, **fmt)


def _first_index(bad: jax.Array) -> tuple[jax.Array, jax.Array]:
    flat = jnp.argmax(bad.reshape(-1))
    index = jnp.stack(jnp.unravel_index(flat, bad.shape)) if bad.ndim > 1 else flat
    return flat, index


def check_in_range(
    x: jax.Array,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    where: jax.Array | None = None,
    high_inclusive: bool = True,
) -> None:
    """Checked mode: raises (naming ``name`` and the first offending index) unless ``x`` lies in
    ``[low, high]`` (NaN is out of range). Entries with ``where == False`` are not checked."""
    if not checks_enabled() or np.size(x) == 0:
        return
    x = jnp.asarray(x)
    ok = jnp.ones(x.shape, bool) if low is None else x >= low
    if high is not None:
        ok = ok & ((x <= high) if high_inclusive else (x < high))
    if low is None and high is None:
        ok = ~jnp.isnan(x)
    bad = ~ok if where is None else (~ok) & where
    flat, index = _first_index(bad)
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    expected = f"[{lo}, {hi}{']' if high_inclusive else ')'}"
    where_text = f"{name}[{{index}}]" if x.ndim else name
    checkify.debug_check(
        ~jnp.any(bad),
        f"{name} out of range: {where_text} = {{value}}, expected a value in {expected}",
        index=index,
        value=x.reshape(-1)[flat],
    )


def check_finite(
    x: jax.Array,
    name: str,
    *,
    where: jax.Array | None = None,
    allow_neg_inf: bool = False,
    allow_inf: bool = False,
) -> None:
    """Checked mode: raises naming ``name`` and the first index of a NaN or infinite entry.

    ``allow_neg_inf`` admits ``-inf`` (the "class does not exist" convention of logits),
    ``allow_inf`` both infinities (only NaN is refused); entries with ``where == False`` are not
    checked.
    """
    if not checks_enabled() or np.size(x) == 0:
        return
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_:
        return
    bad = jnp.isnan(x)
    if not allow_inf:
        bad = bad | (x == jnp.inf)
    if not (allow_inf or allow_neg_inf):
        bad = bad | (x == -jnp.inf)
    if where is not None:
        bad = bad & where
    flat, index = _first_index(bad)
    allowed = "non-NaN" if allow_inf else ("finite or -inf" if allow_neg_inf else "finite")
    checkify.debug_check(
        ~jnp.any(bad),
        f"non-finite input: {name}[{{index}}] = {{value}}, expected {allowed} values",
        index=index,
        value=x.reshape(-1)[flat],
    )


def check_label_smoothing(label_smoothing: Any, name: str = "label_smoothing") -> None:
    """``0 <= label_smoothing <= 1``: ``ValueError`` when concrete, checked mode when traced."""
    if label_smoothing is None or isinstance(label_smoothing, str):
        raise TypeError(f"{name} must be a number in [0, 1], got {label_smoothing!r}")
    if np.ndim(label_smoothing) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {tuple(np.shape(label_smoothing))}")
    if is_concrete(label_smoothing):
        value = float(label_smoothing)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    else:
        check_in_range(label_smoothing, name, 0.0, 1.0)


def check_class_weights(class_weights: Any, num_classes: int) -> jax.Array:
    """Checks ``class_weights`` is a floating vector of length ``num_classes``; returns it.

    Negative weights raise ``ValueError`` when concrete; negative or NaN weights fail the
    check in checked mode.
    """
    w = jnp.asarray(class_weights)
    if not jnp.issubdtype(w.dtype, jnp.floating):
        raise TypeError(f"class_weights must have a floating dtype, got dtype {w.dtype}")
    if w.shape != (num_classes,):
        raise ValueError(
            f"class_weights must have shape ({num_classes},) (one weight per class), "
            f"got shape {w.shape}"
        )
    check_nonnegative(w, "class_weights")
    return w


def check_nonnegative(x: jax.Array, name: str) -> None:
    """Rejects negative values: ``ValueError`` when concrete; checked mode: negative or NaN."""
    if is_concrete(x):
        # NaN is not rejected here (NaN in, NaN out); checked mode reports it.
        values = np.asarray(x, dtype=np.float64) if np.size(x) else np.zeros(0)
        if np.any(values < 0):
            raise ValueError(
                f"{name} must be non-negative, got a value of {float(np.nanmin(values))}"
            )
        return
    if not checks_enabled() or np.size(x) == 0:
        return
    bad = ~(x >= 0)  # NaN is bad too
    flat = jnp.argmax(bad.reshape(-1))
    checkify.debug_check(
        ~jnp.any(bad),
        f"{name} must be non-negative, got {name}[flat index {{i}}] = {{v}}",
        i=flat,
        v=x.reshape(-1)[flat],
    )


def check_labels_in_range(
    labels: jax.Array, num_classes: int, *, ignore_index: int | None = None, name: str = "labels"
) -> jax.Array:
    """Returns the mask of out-of-range labels and, in checked mode, records a check on it.

    Labels equal to ``ignore_index`` are never out of range. Under plain ``jit`` the check is
    absent; under :func:`checked` it raises naming the first offending index.

    Args:
      labels: integer labels ``[...]``.
      num_classes: the size of the class axis.
      ignore_index: a label value that is skipped, or None.
      name: the argument name used in the message.

    Returns:
      A boolean array ``[...]``, True where a label is out of range (and not ignored).
    """
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad = bad & (labels != ignore_index)
    if labels.size and checks_enabled():
        flat, index = _first_index(bad)
        checkify.debug_check(
            ~jnp.any(bad),
            f"{name} out of range: {name}[{{index}}] = {{value}}, expected a class index in "
            f"[0, {num_classes})" + ("" if ignore_index is None else f" or {ignore_index}"),
            index=index,
            value=labels.reshape(-1)[flat],
        )
    return bad


@contextlib.contextmanager
def _checks_on() -> Iterator[None]:
    with _CHECKS(True):
        yield


def checked(fn: Callable[..., Any] | None = None) -> Any:
    """Checked mode: value checks that raise (labels, smoothing, weights, non-finite inputs).

    ``checked(fn)`` returns a function with ``fn``'s signature that runs
    ``checkify.checkify(fn, errors=checkify.user_checks)`` with the checks recorded and throws
    ``checkify.JaxRuntimeError`` (a ``ValueError``) naming the failed check, the argument, the
    first offending index and its value. ``checked()`` (no argument) is a context manager that
    records the checks in everything traced inside it, for use with your own
    ``checkify.checkify`` (see the module docstring). Outside checked mode the losses carry no
    value check at all.

    What each loss checks is listed in its docstring under "Checked mode".

    Args:
      fn: any function that calls xent_jax losses, or None for the context manager.

    Returns:
      The checked function, or a context manager when ``fn`` is None.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jax.experimental import checkify
      >>> from xent_jax.losses import checked, softmax_cross_entropy_with_integer_labels
      >>> safe_ce = checked(softmax_cross_entropy_with_integer_labels)
      >>> try:
      ...     safe_ce(jnp.zeros((2, 3)), jnp.array([0, 3]))
      ... except checkify.JaxRuntimeError as e:
      ...     print(str(e).splitlines()[0])
      labels out of range: labels[1] = 3, expected a class index in [0, 3) (`check` failed)
      >>> f = jax.jit(checkify.checkify(softmax_cross_entropy_with_integer_labels,
      ...                               errors=checkify.user_checks))
      >>> with checked():
      ...     err, loss = f(jnp.zeros((2, 3)), jnp.array([0, 5]))
      >>> err.get() is not None
      True
    """
    if fn is None:
        return _checks_on()
    checked_fn = checkify.checkify(fn, errors=checkify.user_checks)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _CHECKS(True):
            err, out = checked_fn(*args, **kwargs)
        err.throw()
        return out

    return wrapper
