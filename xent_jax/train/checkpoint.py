"""Atomic, exact checkpoints of array pytrees, backed by orbax.

A checkpoint is a folder ``DIR/<step>/`` written by an ``orbax.checkpoint.CheckpointManager``.
Orbax writes into a temporary folder and renames it only when every file is written, so a process
killed mid-save leaves at most a temporary folder that :class:`Checkpointer` ignores (and deletes on
the next start). Saving is synchronous: when :meth:`Checkpointer.save` returns, the checkpoint is
on disk.

The state is flattened into its leaves before saving, so any pytree works (NNX pure dicts, optax
states with named tuples, nested lists); :meth:`Checkpointer.restore` unflattens the saved leaves
into the structure of ``state_like``. Leaves are restored bit for bit with their dtypes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jax
import numpy as np

PyTree = Any

__all__ = ["Checkpointer"]


def _quiet_orbax() -> None:
    for name in ("orbax", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _leaf_names(n: int) -> list[str]:
    return [f"leaf_{i:06d}" for i in range(n)]


def _check_leaf(path: str, leaf: Any) -> Any:
    if isinstance(leaf, jax.Array):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            raise TypeError(
                f"state leaf {path} is a typed PRNG key; checkpoint states hold arrays only, "
                "store jax.random.key_data(key) instead"
            )
        return leaf
    if isinstance(leaf, np.ndarray | np.generic | int | float | bool):
        return np.asarray(leaf)
    raise TypeError(
        f"state leaf {path} must be an array (jax.Array or numpy), got {type(leaf).__name__}"
    )


class Checkpointer:
    """Saves and restores ``(step, state, extra)`` in a folder, keeping the newest few.

    Args:
      directory: folder for the checkpoints; created if absent.
      max_to_keep: how many of the newest checkpoints to keep (older ones are deleted).

    Examples:
      >>> import tempfile, jax.numpy as jnp
      >>> ckpt = Checkpointer(tempfile.mkdtemp())
      >>> ckpt.save(10, {"w": jnp.ones(3)}, extra={"epoch": 1})
      >>> state, extra = ckpt.restore({"w": jnp.zeros(3)})
      >>> ckpt.latest_step(), extra["epoch"]
      (10, 1)
      >>> ckpt.close()
    """

    def __init__(self, directory: str | Path, *, max_to_keep: int = 2):
        if not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ValueError(f"max_to_keep must be a positive int, got {max_to_keep!r}")
        _quiet_orbax()
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = Path(directory).expanduser().resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            enable_async_checkpointing=False,
            create=True,
            cleanup_tmp_directories=True,
        )
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "extra")
        )

    def latest_step(self) -> int | None:
        """Returns the newest complete checkpoint's step, or None when there is none."""
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        """Returns the steps of the complete checkpoints, oldest first."""
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: PyTree, *, extra: dict | None = None) -> None:
        """Writes a checkpoint for ``step``; returns once it is complete on disk.

        Args:
          step: non-negative training step; must not already be saved.
          state: a pytree whose leaves are arrays (typed PRNG keys: store ``key_data``).
          extra: JSON-serialisable dict stored beside the state (e.g. the last metrics).

        Raises:
          ValueError: for a negative or already-saved step.
          TypeError: for a non-array leaf or a non-dict ``extra``.
        """
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        step = int(step)
        if extra is not None and not isinstance(extra, dict):
            raise TypeError(f"extra must be a dict or None, got {type(extra).__name__}")
        if step in self._manager.all_steps():
            raise ValueError(f"a checkpoint for step {step} already exists in {self.directory}")
        flat, _ = jax.tree_util.tree_flatten_with_path(state)
        paths = [jax.tree_util.keystr(p) for p, _ in flat]
        leaves = [_check_leaf(p, leaf) for p, (_, leaf) in zip(paths, flat, strict=True)]
        items = dict(zip(_leaf_names(len(leaves)), leaves, strict=True))
        meta = {"user": dict(extra or {}), "paths": paths}
        ocp = self._ocp
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(items), extra=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, state_like: PyTree, step: int | None = None) -> tuple[PyTree, dict]:
        """Reads a checkpoint into the structure of ``state_like``.

        Args:
          state_like: a pytree with the saved structure; its leaves (arrays or
            ``jax.ShapeDtypeStruct``) give shapes, dtypes and, for jax arrays, shardings.
          step: which checkpoint; the newest when None.

        Returns:
          ``(state, extra)``: the restored pytree and the ``extra`` dict given to :meth:`save`.

        Raises:
          FileNotFoundError: when there is no such checkpoint.
          ValueError: when the saved structure differs from ``state_like``.
        """
        steps = self._manager.all_steps()
        if step is None:
            step = self._manager.latest_step()
            if step is None:
                raise FileNotFoundError(f"no checkpoint in {self.directory}")
        elif step not in steps:
            raise FileNotFoundError(
                f"no checkpoint for step {step} in {self.directory}; have {sorted(steps)}"
            )
        ocp = self._ocp
        meta = self._manager.restore(step, args=ocp.args.Composite(extra=ocp.args.JsonRestore()))[
            "extra"
        ]
        flat, treedef = jax.tree_util.tree_flatten_with_path(state_like)
        paths = [jax.tree_util.keystr(p) for p, _ in flat]
        if paths != list(meta["paths"]):
            raise ValueError(
                f"checkpoint step {step} in {self.directory} has a different structure: expected "
                f"{len(meta['paths'])} leaves {meta['paths'][:4]}..., got {len(paths)} leaves "
                f"{paths[:4]}..."
            )
        targets = {}
        for name, (_, leaf) in zip(_leaf_names(len(flat)), flat, strict=True):
            if isinstance(leaf, jax.Array | jax.ShapeDtypeStruct):
                targets[name] = leaf
            else:
                targets[name] = np.asarray(leaf)
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(targets))
        )["state"]
        leaves = [restored[name] for name in _leaf_names(len(flat))]
        return jax.tree_util.tree_unflatten(treedef, leaves), dict(meta["user"])

    def close(self) -> None:
        """Waits for pending work and releases the manager."""
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
