"""Input validation shared by the losses: static checks raise eagerly, value checks use checkify.

Static properties (dtype, rank, shape, option values) are checked when the function is traced and
raise ``TypeError``/``ValueError`` naming the argument, the expected and the received value. Value
properties that depend on array contents (label range, sign of a variance) cannot raise under
``jax.jit``; they are recorded with :func:`jax.experimental.checkify.debug_check`, which costs
nothing under plain ``jit`` and raises under :func:`checked` (or ``checkify.checkify``).

Examples:
  >>> import jax.numpy as jnp
  >>> from xent_jax.losses import checked, softmax_cross_entropy_with_integer_labels
  >>> safe_ce = checked(softmax_cross_entropy_with_integer_labels)
  >>> safe_ce(jnp.zeros((2, 3)), jnp.array([0, 2])).shape
  (2,)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

__all__ = [
    "as_float_array",
    "canonical_axis",
    "check_broadcastable",
    "check_class_weights",
    "check_floating",
    "check_integer",
    "check_label_smoothing",
    "check_labels_in_range",
    "check_nonnegative",
    "check_same_shape",
    "checked",
    "compute_dtype",
    "is_concrete",
]


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
    """Returns the dtype a loss computes in: at least float32 (bf16/f16 are upcast)."""
    return np.dtype(jnp.promote_types(jnp.result_type(*dtypes), jnp.float32))


def as_float_array(x: jax.typing.ArrayLike, name: str) -> jax.Array:
    """Converts ``x`` to an array and checks that it is floating point."""
    x = jnp.asarray(x)
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


def check_label_smoothing(label_smoothing: Any) -> None:
    """Raises ``ValueError`` unless ``0 <= label_smoothing < 1`` (checked when concrete)."""
    if np.ndim(label_smoothing) != 0:
        raise ValueError(
            f"label_smoothing must be a scalar, got shape {tuple(np.shape(label_smoothing))}"
        )
    if is_concrete(label_smoothing):
        value = float(label_smoothing)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {value}")


def check_class_weights(class_weights: Any, num_classes: int) -> jax.Array:
    """Checks ``class_weights`` is a floating vector of length ``num_classes``; returns it."""
    w = jnp.asarray(class_weights)
    if not jnp.issubdtype(w.dtype, jnp.floating):
        raise TypeError(f"class_weights must have a floating dtype, got dtype {w.dtype}")
    if w.shape != (num_classes,):
        raise ValueError(
            f"class_weights must have shape ({num_classes},) (one weight per class), "
            f"got shape {w.shape}"
        )
    if is_concrete(w) and bool(np.any(np.asarray(w) < 0)):
        raise ValueError("class_weights must be non-negative, got a negative weight")
    return w


def check_nonnegative(x: jax.Array, name: str) -> None:
    """Rejects negative values: ``ValueError`` when concrete, a checkify check when traced."""
    if is_concrete(x):
        values = np.asarray(x)
        if np.any(values < 0):
            raise ValueError(
                f"{name} must be non-negative, got a minimum of {float(np.nanmin(values))}"
            )
        return
    bad = x < 0
    index = jnp.argmax(bad.reshape(-1))
    checkify.debug_check(
        ~jnp.any(bad),
        f"{name} must be non-negative, got {name}[flat index {{i}}] = {{v}}",
        i=index,
        v=x.reshape(-1)[index],
    )


def check_labels_in_range(
    labels: jax.Array, num_classes: int, *, ignore_index: int | None = None
) -> jax.Array:
    """Records a checkify check that labels lie in ``[0, num_classes)``; returns the bad mask.

    Labels equal to ``ignore_index`` are never out of range. Under plain ``jit`` the check is free;
    under :func:`checked` (or ``checkify.checkify``) it raises naming the first offending index.

    Args:
      labels: integer labels ``[...]``.
      num_classes: the size of the class axis.
      ignore_index: a label value that is skipped, or None.

    Returns:
      A boolean array ``[...]``, True where a label is out of range (and not ignored).
    """
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad = bad & (labels != ignore_index)
    if labels.size:
        flat = jnp.argmax(bad.reshape(-1))
        index = jnp.stack(jnp.unravel_index(flat, labels.shape)) if labels.ndim else flat
        checkify.debug_check(
            ~jnp.any(bad),
            f"labels out of range: labels[{{index}}] = {{value}}, expected a class index in "
            f"[0, {num_classes})" + ("" if ignore_index is None else f" or {ignore_index}"),
            index=index,
            value=labels.reshape(-1)[flat],
        )
    return bad


def checked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a loss so that its value checks raise (label range, negative variances).

    ``checked(f)(*args)`` runs ``checkify.checkify(f, errors=checkify.user_checks)`` and throws
    ``checkify.JaxRuntimeError`` naming the offending index. To check inside your own jitted code,
    use ``jax.jit(checkify.checkify(f, errors=checkify.user_checks))`` and call ``err.throw()``
    on the returned error outside ``jit``.

    Args:
      fn: any function that calls xent_jax losses.

    Returns:
      A function with the same signature and outputs that raises on a failed value check.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import checked, softmax_cross_entropy_with_integer_labels
      >>> safe_ce = checked(softmax_cross_entropy_with_integer_labels)
      >>> try:
      ...     safe_ce(jnp.zeros((2, 3)), jnp.array([0, 3]))
      ... except Exception as e:
      ...     print(type(e).__name__)
      JaxRuntimeError
    """
    checked_fn = checkify.checkify(fn, errors=checkify.user_checks)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        err, out = checked_fn(*args, **kwargs)
        err.throw()
        return out

    return wrapper
