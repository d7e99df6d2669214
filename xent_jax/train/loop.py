"""The generic training loop: jitted steps, progress bar, metrics log, checkpoints and resume.

Resume is exact: data order must be a pure function of the step (see :func:`make_batch_fn`) and
the step's key is ``fold_in(key, step)``, so a run restarted from a checkpoint replays the same
batches and keys and ends with the same state and metrics as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from xent_jax.train.checkpoint import Checkpointer
from xent_jax.train.metrics import MetricsLogger, _to_json
from xent_jax.train.sharding import can_shard, data_mesh, replicate, shard_batch

__all__ = ["FitResult", "fit", "make_batch_fn"]

State = Any
Batch = Any


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
      state: the final state pytree.
      step: the number of steps done (``num_steps``).
      train: the last logged train metrics (floats).
      eval: the last eval metrics (floats; empty without ``eval_fn``).
      resumed_from: the checkpoint step the run started from (0 for a fresh run).
    """

    state: State
    step: int
    train: dict[str, Any]
    eval: dict[str, Any]
    resumed_from: int = 0

    @property
    def metrics(self) -> dict[str, Any]:
        """``{"step": ..., "train_<name>": ..., "eval_<name>": ...}`` in one flat dict."""
        out: dict[str, Any] = {"step": self.step}
        out.update({f"train_{k}": v for k, v in self.train.items()})
        out.update({f"eval_{k}": v for k, v in self.eval.items()})
        return out


def make_batch_fn(data: Any, *, batch_size: int, seed: int = 0) -> Callable[[int], Any]:
    """Minibatches of ``data`` as a pure function of the step.

    Epoch ``e`` uses the permutation drawn from ``numpy.random.default_rng([seed, e])`` and drops
    the last partial batch; a batch size above the data size is clipped to the data size.

    Args:
      data: a pytree of arrays sharing the leading axis ``N`` (e.g. ``(images, labels)``).
      batch_size: examples per batch.
      seed: the data-order seed.

    Returns:
      ``batch_fn(step) -> pytree`` with leading axis ``min(batch_size, N)``.

    Examples:
      >>> fn = make_batch_fn((np.arange(10),), batch_size=4, seed=0)
      >>> fn(0)[0].shape, (fn(3)[0] == fn(3)[0]).all()
      ((4,), np.True_)
    """
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError("data must hold at least one array")
    n = int(np.shape(leaves[0])[0])
    if any(np.shape(x)[0] != n for x in leaves):
        shapes = [np.shape(x) for x in leaves]
        raise ValueError(f"data leaves must share the leading axis, got shapes {shapes}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    bs = min(batch_size, n)
    per_epoch = n // bs
    cache: dict[int, np.ndarray] = {}
    host = jax.tree.map(np.asarray, data)

    def batch_fn(step: int) -> Any:
        epoch, i = divmod(int(step), per_epoch)
        if epoch not in cache:
            cache.clear()
            cache[epoch] = np.random.default_rng([seed, epoch]).permutation(n)
        idx = cache[epoch][i * bs : (i + 1) * bs]
        return jax.tree.map(lambda x: x[idx], host)

    return batch_fn


@functools.lru_cache(maxsize=8)
def _cached_jit(fn: Callable) -> Callable:
    return jax.jit(fn)


def _jit(fn: Callable) -> Callable:
    """``jax.jit(fn)``, reusing one compiled wrapper for equal hashable steps across calls."""
    try:
        return _cached_jit(fn)
    except TypeError:  # unhashable step
        return jax.jit(fn)


def _floats(metrics: dict[str, Any]) -> dict[str, Any]:
    return {str(k): _to_json(v) for k, v in jax.device_get(metrics).items()}


def _every(step: int, every: int, last: int) -> bool:
    return step == last or (every > 0 and step % every == 0)


def fit(
    train_step: Callable[[State, Batch, jax.Array], tuple[State, dict[str, Any]]],
    state: State,
    batch_fn: Callable[[int], Batch],
    *,
    num_steps: int,
    key: jax.Array | int = 0,
    ckpt_dir: str | Path | None = None,
    ckpt_every: int = 0,
    eval_fn: Callable[[State], dict[str, Any]] | None = None,
    eval_every: int = 0,
    log_every: int = 1,
    metrics_path: str | Path | None = None,
    progress: bool = True,
    desc: str = "train",
    jit: bool = True,
    shard: bool | None = None,
    max_to_keep: int = 2,
) -> FitResult:
    """Runs ``num_steps`` of ``train_step``, logging, evaluating, checkpointing and resuming.

    Step ``s`` (0-based) calls ``train_step(state, batch_fn(s), jax.random.fold_in(key, s))``; the
    step is jitted once (``jit=True``). After the ``s+1``-th step: train metrics are logged every
    ``log_every`` steps, ``eval_fn(state)`` runs every ``eval_every`` steps, and a checkpoint is
    written every ``ckpt_every`` steps; all three also happen after the last step. With
    ``ckpt_dir`` set, a run finds the newest checkpoint there and continues from it (dropping log
    lines after it). Ctrl-C (KeyboardInterrupt) saves a checkpoint of the last finished step
    before re-raising; a SIGKILL loses at most ``ckpt_every`` steps. When more than one device is
    present (or ``shard=True``), the state is replicated and each batch split across devices.

    Args:
      train_step: ``(state, batch, key) -> (state, metrics)``; a pure function of arrays whose
        metrics are scalars.
      state: the initial state pytree (arrays only; typed keys as ``jax.random.key_data``).
      batch_fn: ``step -> batch``; must be a pure function of the step for exact resume.
      num_steps: total number of steps of the run (not the number left).
      key: PRNG key (or int seed) for the steps.
      ckpt_dir: checkpoint folder; None disables checkpoints and resume.
      ckpt_every: steps between checkpoints (0: only at the end).
      eval_fn: ``state -> dict`` of scalars, called outside jit (jit inside it as needed).
      eval_every: steps between evaluations (0: only at the end).
      log_every: steps between train-metric log lines.
      metrics_path: a ``.jsonl`` file (or folder) for :class:`MetricsLogger`; None: no file.
      progress: show a tqdm progress bar.
      desc: the progress bar's label.
      jit: jit ``train_step``.
      shard: data-parallel over all devices; None means "when more than one device".
      max_to_keep: checkpoints kept.

    Returns:
      A :class:`FitResult` with the final state and the last train and eval metrics.

    Examples:
      >>> import jax.numpy as jnp
      >>> step = lambda s, b, k: ({"w": s["w"] - 0.1 * (s["w"] - b)}, {"gap": jnp.abs(s["w"] - b)})
      >>> res = fit(step, {"w": jnp.zeros(())}, lambda i: jnp.ones(()), num_steps=50,
      ...           progress=False)
      >>> round(float(res.state["w"]), 3)
      0.995
    """
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    for name, value in (("ckpt_every", ckpt_every), ("eval_every", eval_every)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    if isinstance(key, int):
        key = jax.random.key(key)
    mesh = None
    if shard or (shard is None and jax.device_count() > 1):
        mesh = data_mesh()
        state = replicate(state, mesh)
    logger = MetricsLogger(metrics_path) if metrics_path is not None else None
    ckpt = Checkpointer(ckpt_dir, max_to_keep=max_to_keep) if ckpt_dir is not None else None
    start, last_train, last_eval = 0, {}, {}
    if ckpt is not None and ckpt.latest_step() is not None:
        start = int(ckpt.latest_step())
        if start > num_steps:
            raise ValueError(
                f"checkpoint in {ckpt.directory} is at step {start}, beyond num_steps={num_steps}"
            )
        state, extra = ckpt.restore(state)
        last_train, last_eval = extra.get("train", {}), extra.get("eval", {})
        if logger is not None:
            logger.truncate_after(start)
    step_fn = _jit(train_step) if jit else train_step

    def save(step: int) -> None:
        if ckpt is not None and step not in ckpt.all_steps():
            ckpt.save(step, state, extra={"train": last_train, "eval": last_eval})

    from tqdm.auto import tqdm

    bar = tqdm(total=num_steps, initial=start, desc=desc, disable=not progress, dynamic_ncols=True)
    done = start
    try:
        for step in range(start, num_steps):
            batch = batch_fn(step)
            if mesh is not None:
                split = can_shard(batch, mesh)
                batch = shard_batch(batch, mesh) if split else replicate(batch, mesh)
            state, metrics = step_fn(state, batch, jax.random.fold_in(key, step))
            done = step + 1
            bar.update(1)
            if _every(done, log_every, num_steps):
                last_train = _floats(metrics)
                if logger is not None:
                    logger.log({"step": done, "split": "train", **last_train})
                bar.set_postfix({k: v for k, v in last_train.items() if isinstance(v, float)})
            if eval_fn is not None and _every(done, eval_every, num_steps):
                last_eval = _floats(eval_fn(state))
                if logger is not None:
                    logger.log({"step": done, "split": "eval", **last_eval})
            if _every(done, ckpt_every, num_steps):
                save(done)
    except KeyboardInterrupt:
        if done > start:
            save(done)
        raise
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()
    if eval_fn is not None and not last_eval and num_steps == start:
        last_eval = _floats(eval_fn(state))
    return FitResult(
        state=state, step=num_steps, train=last_train, eval=last_eval, resumed_from=start
    )
