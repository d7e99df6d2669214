"""Seeds as a batch axis: K training runs of a small model as one ``jax.vmap``-ed program.

A state stacked over a leading seed axis (:func:`stack_seeds`), a step vmapped over it
(:func:`vmap_seeds`), one batch function per seed (:func:`stack_batch_fns`) and a ``[K]`` array of
keys (:func:`seed_keys`) given to :func:`xent_jax.train.fit` run K seeds at once; seed ``i`` then
follows exactly its separate run (``fit(step, states[i], batch_fns[i], key=seeds[i])``), up to
floating-point reassociation by the compiler.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["seed_keys", "stack_batch_fns", "stack_seeds", "unstack_seeds", "vmap_seeds"]


def seed_keys(seeds: Sequence[int]) -> jax.Array:
    """``[K]`` typed keys, ``jax.random.key(seed)`` for each int seed.

    Examples:
      >>> bool(jnp.all(jax.random.key_data(seed_keys([0, 5])[1]) ==
      ...              jax.random.key_data(jax.random.key(5))))
      True
    """
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int | np.integer) for s in seeds):
        raise TypeError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    if any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be >= 0, got {seeds!r}")
    return jnp.stack([jax.random.key(int(s)) for s in seeds])


def stack_seeds(trees: Sequence[Any]) -> Any:
    """Stacks K pytrees of equal structure along a new leading axis.

    Examples:
      >>> stack_seeds([{"w": jnp.zeros(2)}, {"w": jnp.ones(2)}])["w"].shape
      (2, 2)
    """
    trees = list(trees)
    if not trees:
        raise ValueError("trees must hold at least one pytree")
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def unstack_seeds(tree: Any) -> list[Any]:
    """Splits a pytree stacked by :func:`stack_seeds` into its K pytrees.

    Examples:
      >>> [float(t["w"]) for t in unstack_seeds({"w": jnp.arange(3.0)})]
      [0.0, 1.0, 2.0]
    """
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise ValueError("tree must hold at least one array")
    n = leaves[0].shape[0]
    return [jax.tree.map(lambda x, i=i: x[i], tree) for i in range(n)]


@dataclasses.dataclass(frozen=True)
class _SeedVmapped:
    # Hashable: vmapping an equal step again reuses fit's compiled chunks.
    step_fn: Callable
    batch_axis: int | None

    def __call__(self, state, batch, key):
        return jax.vmap(self.step_fn, in_axes=(0, self.batch_axis, 0))(state, batch, key)


def vmap_seeds(step_fn: Callable, *, batch_axis: int | None = 0) -> Callable:
    """Vmaps ``step_fn(state, batch, key)`` over a leading seed axis of state and key.

    Args:
      step_fn: a step for :func:`xent_jax.train.fit`.
      batch_axis: the batch's seed axis (0: one batch per seed, from :func:`stack_batch_fns`;
        None: one batch shared by every seed).

    Returns:
      the vmapped step; its metrics have a leading seed axis.

    Examples:
      >>> step = lambda s, b, k: (s + b, {"s": s})
      >>> new, m = vmap_seeds(step, batch_axis=None)(jnp.arange(3.0), 1.0, seed_keys([0, 1, 2]))
      >>> new.tolist()
      [1.0, 2.0, 3.0]
    """
    if not callable(step_fn):
        raise TypeError(f"step_fn must be callable, got {type(step_fn).__name__}")
    if batch_axis is not None and (isinstance(batch_axis, bool) or not isinstance(batch_axis, int)):
        raise TypeError(f"batch_axis must be an int or None, got {batch_axis!r}")
    return _SeedVmapped(step_fn, batch_axis)


def stack_batch_fns(batch_fns: Sequence[Callable[[int], Any]]) -> Callable[[int], Any]:
    """One batch function from K: ``step -> batches stacked on a leading seed axis``.

    Examples:
      >>> fn = stack_batch_fns([lambda s: np.full(2, s), lambda s: np.full(2, -s)])
      >>> fn(3).tolist()
      [[3, 3], [-3, -3]]
    """
    batch_fns = list(batch_fns)
    if not batch_fns or not all(callable(f) for f in batch_fns):
        raise TypeError("batch_fns must be a non-empty sequence of callables")

    def batch_fn(step: int) -> Any:
        parts = [f(step) for f in batch_fns]
        return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *parts)

    return batch_fn
