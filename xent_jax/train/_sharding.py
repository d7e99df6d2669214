"""Data-parallel helpers: a 1-D device mesh, replicated state, batches split on the leading axis.

With one device these are no-ops in effect (a 1-device mesh), so code written with them runs
unchanged on a laptop and on several accelerators. On several hosts (after
``jax.distributed.initialize()``) each process passes its own slice of the batch and
:func:`shard_batch` assembles the global array with
``jax.make_array_from_process_local_data``. ``jax.jit`` partitions the step from the input
shardings (GSPMD): gradients are averaged across devices by the compiler.

Examples:
  >>> import jax.numpy as jnp
  >>> mesh = data_mesh()
  >>> batch = shard_batch({"x": jnp.zeros((jax.device_count() * 2, 3))}, mesh)
  >>> batch["x"].shape
  (2, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["DATA_AXIS", "data_mesh", "replicate", "shard_batch", "can_shard"]

DATA_AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None, *, axis_name: str = DATA_AXIS) -> Mesh:
    """A 1-D mesh over ``devices`` (all of ``jax.devices()`` by default) named ``axis_name``."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must be a non-empty sequence of jax devices, got none")
    return Mesh(np.asarray(devices), (axis_name,))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places every leaf of ``tree`` whole on every device of ``mesh``."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def can_shard(batch: Any, mesh: Mesh, *, axis: int = 0) -> bool:
    """Whether every leaf has an ``axis`` divisible by the mesh size."""
    n = mesh.devices.size
    leaves = jax.tree.leaves(batch)
    return bool(leaves) and all(np.ndim(x) > axis and np.shape(x)[axis] % n == 0 for x in leaves)


def shard_batch(batch: Any, mesh: Mesh, *, axis: int = 0, axis_name: str = DATA_AXIS) -> Any:
    """Splits every leaf of ``batch`` along ``axis`` across the devices of ``mesh``.

    Args:
      batch: a pytree of arrays.
      mesh: from :func:`data_mesh`.
      axis: the batch axis (1 for a stack of batches ``[steps, batch, ...]``).
      axis_name: the mesh axis.

    Raises:
      ValueError: when a leaf's ``axis`` is not divisible by the number of devices.
    """
    n = mesh.devices.size
    for path, x in jax.tree_util.tree_flatten_with_path(batch)[0]:
        if np.ndim(x) <= axis or np.shape(x)[axis] % n:
            raise ValueError(
                f"batch leaf {jax.tree_util.keystr(path)} must have an axis {axis} divisible by "
                f"the {n} devices, got shape {np.shape(x)}"
            )
    sharding = NamedSharding(mesh, PartitionSpec(*([None] * axis), axis_name))
    if jax.process_count() > 1:  # each host holds its own slice of the global batch
        return jax.tree.map(
            lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch
        )
    return jax.device_put(batch, sharding)
