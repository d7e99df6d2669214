"""Atomic, verified, exact checkpoints of array pytrees, backed by orbax.

The only module of xent_jax that touches orbax. A checkpoint of step ``s`` is the folder
``DIR/<s>/`` holding the arrays (an orbax ``StandardCheckpointer`` tree under ``state/``) and a
``manifest.json``: for every leaf its tree path, dtype, shape and the sha256 of its bytes, plus
the JSON ``extra`` dict given to :meth:`Checkpointer.save`. Both are written (by process 0, from
host copies of the arrays; the other processes wait at a barrier) into a temporary folder that is
renamed to ``DIR/<s>`` only when complete, so a process killed mid-save leaves no step folder.

On restore every array is checked against the manifest (dtype, shape and checksum): a flipped bit,
a truncated file or an unreadable array raises :class:`CheckpointError` naming the folder and step.
A step folder without a manifest (left by a crash outside this class, or copied in half) is ignored
with a warning, and the newest complete step is used. Leaves are restored bit for bit with their
dtypes (float32/16, bfloat16, int, bool, typed PRNG keys); a ``state_like`` whose dtypes or
shapes differ from the saved ones (a model of another size) is refused with an error naming the
leaf.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

PyTree = Any

__all__ = ["Checkpointer", "CheckpointError"]

_MANIFEST = "manifest.json"
_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored as asked: corrupt, incomplete or of another shape."""


def _quiet_orbax() -> None:
    for name in ("orbax", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _leaf_names(n: int) -> list[str]:
    return [f"leaf_{i:06d}" for i in range(n)]


def _host_leaf(path: str, leaf: Any) -> tuple[np.ndarray, str | None]:
    """Returns the leaf as a numpy array and, for a typed PRNG key, the name of its impl."""
    if isinstance(leaf, jax.Array):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            impl = str(jax.random.key_impl(leaf))
            return np.asarray(jax.random.key_data(leaf)), impl
        return np.asarray(leaf), None
    if isinstance(leaf, np.ndarray | np.generic | bool | int | float):
        return np.asarray(leaf), None
    raise TypeError(
        f"state leaf {path} must be an array (jax.Array or numpy), got {type(leaf).__name__}"
    )


def _like(path: str, leaf: Any) -> tuple[tuple[int, ...], str, str | None]:
    """Shape, dtype name and key impl that ``leaf`` of a ``state_like`` asks for."""
    if isinstance(leaf, jax.Array | jax.ShapeDtypeStruct) and jax.dtypes.issubdtype(
        leaf.dtype, jax.dtypes.prng_key
    ):
        if isinstance(leaf, jax.ShapeDtypeStruct):
            raise TypeError(
                f"state_like leaf {path}: give a real key array, not a ShapeDtypeStruct"
            )
        data = jax.random.key_data(leaf)
        return tuple(data.shape), str(data.dtype), str(jax.random.key_impl(leaf))
    if isinstance(leaf, jax.ShapeDtypeStruct | jax.Array | np.ndarray | np.generic):
        return tuple(leaf.shape), str(np.dtype(leaf.dtype)), None
    if isinstance(leaf, bool | int | float):
        arr = np.asarray(leaf)
        return tuple(arr.shape), str(arr.dtype), None
    raise TypeError(
        f"state_like leaf {path} must be an array or jax.ShapeDtypeStruct, "
        f"got {type(leaf).__name__}"
    )


def _orbax_checkpointer(processes: set[int] | None):
    _quiet_orbax()
    import orbax.checkpoint as ocp

    if jax.process_count() == 1:
        return ocp.StandardCheckpointer()
    # Host copies of replicated arrays: one process writes (or each reads) on its own.
    options = ocp.options.MultiprocessingOptions(
        primary_host=min(processes), active_processes=processes
    )
    return ocp.StandardCheckpointer(multiprocessing_options=options)


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    return int(step)


class Checkpointer:
    """Saves and restores ``(step, state, extra)`` in a folder, keeping the newest few.

    Args:
      directory: folder for the checkpoints; created if absent. A path that is a file is refused.
      max_to_keep: how many of the newest checkpoints to keep (older ones are deleted).

    Raises:
      ValueError: for ``max_to_keep < 1`` or a ``directory`` that is an existing file.

    Examples:
      >>> import tempfile, jax.numpy as jnp
      >>> ckpt = Checkpointer(tempfile.mkdtemp())
      >>> ckpt.save(10, {"w": jnp.ones(3), "n": jnp.int32(4)}, extra={"epoch": 1})
      >>> state, extra = ckpt.restore({"w": jnp.zeros(3), "n": jnp.int32(0)})
      >>> ckpt.latest_step(), extra["epoch"], int(state["n"])
      (10, 1, 4)
    """

    def __init__(self, directory: str | Path, *, max_to_keep: int = 2):
        if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ValueError(f"max_to_keep must be a positive int, got {max_to_keep!r}")
        directory = Path(directory).expanduser().resolve()
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"checkpoint directory {directory} exists and is not a folder")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.max_to_keep = max_to_keep
        self._warned: set[str] = set()

    # -- bookkeeping ---------------------------------------------------------------------------
    def _step_dirs(self) -> dict[int, Path]:
        out = {}
        for p in self.directory.iterdir():
            if p.is_dir() and p.name.isdigit():
                out[int(p.name)] = p
        return out

    def all_steps(self) -> list[int]:
        """Returns the steps of the complete checkpoints (those with a manifest), oldest first."""
        steps = []
        for step, path in sorted(self._step_dirs().items()):
            if (path / _MANIFEST).is_file():
                steps.append(step)
            elif str(path) not in self._warned:
                self._warned.add(str(path))
                warnings.warn(
                    f"ignoring incomplete checkpoint folder {path} (no {_MANIFEST}); "
                    "using the newest complete step instead",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return steps

    def latest_step(self) -> int | None:
        """Returns the newest complete checkpoint's step, or None when there is none."""
        steps = self.all_steps()
        return steps[-1] if steps else None

    # -- save ----------------------------------------------------------------------------------
    def save(self, step: int, state: PyTree, *, extra: dict | None = None) -> None:
        """Writes a checkpoint for ``step``; returns once it is complete on disk.

        Args:
          step: non-negative training step; must not already be saved.
          state: a pytree whose leaves are arrays (jax or numpy, any dtype, typed PRNG keys too).
          extra: JSON-serialisable dict stored beside the state (e.g. the last metrics).

        Raises:
          ValueError: for a negative or already-saved step.
          TypeError: for a non-array leaf or a non-dict ``extra``.
        """
        step = _check_step(step)
        if extra is not None and not isinstance(extra, dict):
            raise TypeError(f"extra must be a dict or None, got {type(extra).__name__}")
        if jax.process_index() != 0:  # process 0 writes host copies; the others wait for it
            _barrier(f"xent_jax_checkpoint_{step}")
            return
        if step in self.all_steps():
            raise ValueError(f"a checkpoint for step {step} already exists in {self.directory}")
        flat, _ = jax.tree_util.tree_flatten_with_path(state)
        paths = [jax.tree_util.keystr(p) for p, _ in flat]
        hosted = [_host_leaf(p, leaf) for p, (_, leaf) in zip(paths, flat, strict=True)]
        extra_json = json.dumps(dict(extra or {}), allow_nan=True)  # fail before writing anything
        manifest = {
            "format": _FORMAT,
            "step": step,
            "leaves": [
                {
                    "path": p,
                    "dtype": str(arr.dtype),
                    "shape": list(arr.shape),
                    "sha256": _digest(arr),
                    "key_impl": impl,
                }
                for p, (arr, impl) in zip(paths, hosted, strict=True)
            ],
            "extra": json.loads(extra_json),
        }
        final = self.directory / str(step)
        if final.exists():  # an incomplete folder of the same step: replace it
            shutil.rmtree(final)
        tmp = self.directory / f".tmp-{step}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        items = dict(zip(_leaf_names(len(hosted)), (a for a, _ in hosted), strict=True))
        if items:
            with _orbax_checkpointer({0}) as ckptr:
                ckptr.save(tmp / "state", items)
                ckptr.wait_until_finished()
        with open(tmp / _MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        self._prune()
        _barrier(f"xent_jax_checkpoint_{step}")

    def _prune(self) -> None:
        complete = self.all_steps()
        for step in complete[: -self.max_to_keep]:
            shutil.rmtree(self.directory / str(step), ignore_errors=True)
        for p in self.directory.glob(".tmp-*"):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(p, ignore_errors=True)

    # -- restore -------------------------------------------------------------------------------
    def read_manifest(self, step: int | None = None) -> dict:
        """Returns the manifest of ``step`` (newest when None): leaves, dtypes, checksums, extra."""
        steps = self.all_steps()
        if step is None:
            if not steps:
                raise FileNotFoundError(f"no checkpoint in {self.directory}")
            step = steps[-1]
        step = _check_step(step)
        if step not in steps:
            raise FileNotFoundError(
                f"no checkpoint for step {step} in {self.directory}; have {steps}"
            )
        path = self.directory / str(step) / _MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"checkpoint manifest {path} (step {step}) is unreadable: {e}"
            ) from None
        if manifest.get("format") != _FORMAT or "leaves" not in manifest:
            raise CheckpointError(f"checkpoint manifest {path} (step {step}) has an unknown format")
        return manifest

    def restore(self, state_like: PyTree, step: int | None = None) -> tuple[PyTree, dict]:
        """Reads a checkpoint into the structure of ``state_like``, verifying every array.

        Args:
          state_like: a pytree with the saved structure; its leaves (arrays or
            ``jax.ShapeDtypeStruct``) must have the saved shapes and dtypes; jax arrays also give
            the sharding the restored leaf is placed with.
          step: which checkpoint; the newest complete one when None.

        Returns:
          ``(state, extra)``: the restored pytree and the ``extra`` dict given to :meth:`save`.

        Raises:
          FileNotFoundError: when there is no such checkpoint.
          CheckpointError: (a ``ValueError``) when the saved structure, a dtype or a shape differs
            from ``state_like``, or an array fails its checksum or cannot be read.
        """
        manifest = self.read_manifest(step)
        step = int(manifest["step"])
        where = f"checkpoint step {step} in {self.directory}"
        saved = manifest["leaves"]
        flat, treedef = jax.tree_util.tree_flatten_with_path(state_like)
        paths = [jax.tree_util.keystr(p) for p, _ in flat]
        if paths != [leaf["path"] for leaf in saved]:
            raise CheckpointError(
                f"{where} has a different structure: saved {len(saved)} leaves "
                f"{[s['path'] for s in saved][:4]}..., got {len(paths)} leaves {paths[:4]}..."
            )
        for p, (_, leaf), s in zip(paths, flat, saved, strict=True):
            shape, dtype, impl = _like(p, leaf)
            if list(shape) != s["shape"] or dtype != s["dtype"] or impl != s.get("key_impl"):
                raise CheckpointError(
                    f"{where}: leaf {p} was saved as {s['dtype']}{s['shape']}"
                    f"{' key ' + s['key_impl'] if s.get('key_impl') else ''}, but the state to "
                    f"restore into has {dtype}{list(shape)}{' key ' + impl if impl else ''}"
                )
        arrays = self._read_arrays(step, saved, where)
        leaves = []
        for p, (_, leaf), s, arr in zip(paths, flat, saved, arrays, strict=True):
            if _digest(arr) != s["sha256"]:
                raise CheckpointError(
                    f"{where}: leaf {p} fails its sha256 check (the file under "
                    f"{self.directory / str(step) / 'state'} is corrupt)"
                )
            if s.get("key_impl"):
                out = jax.random.wrap_key_data(arr, impl=s["key_impl"])
            else:
                out = arr
            if isinstance(leaf, jax.Array):
                out = jax.device_put(out, leaf.sharding)
            elif isinstance(leaf, jax.ShapeDtypeStruct) and leaf.sharding is not None:
                out = jax.device_put(out, leaf.sharding)
            elif isinstance(leaf, np.generic | bool | int | float):
                out = arr[()] if isinstance(leaf, np.generic) else arr
            leaves.append(out)
        return jax.tree_util.tree_unflatten(treedef, leaves), dict(manifest.get("extra", {}))

    def _read_arrays(self, step: int, saved: list[dict], where: str) -> list[np.ndarray]:
        if not saved:
            return []
        target = {
            name: np.zeros(s["shape"], np.dtype(s["dtype"]))
            for name, s in zip(_leaf_names(len(saved)), saved, strict=True)
        }
        try:
            with _orbax_checkpointer({jax.process_index()}) as ckptr:
                got = ckptr.restore(self.directory / str(step) / "state", target)
        except Exception as e:  # orbax/tensorstore raise many types for damaged files
            raise CheckpointError(f"{where} cannot be read ({type(e).__name__}: {e})") from e
        out = []
        for name, s in zip(_leaf_names(len(saved)), saved, strict=True):
            arr = np.asarray(got[name])
            if str(arr.dtype) != s["dtype"] or list(arr.shape) != s["shape"]:
                raise CheckpointError(
                    f"{where}: leaf {s['path']} came back as {arr.dtype}{list(arr.shape)}, "
                    f"saved as {s['dtype']}{s['shape']}"
                )
            out.append(arr)
        return out

    def close(self) -> None:
        """Nothing is held open between calls; kept for ``with`` blocks and symmetry."""

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
