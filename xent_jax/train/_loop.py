"""The one training loop: compiled chunks of steps, hooks, metrics log, checkpoints, exact resume.

Resume is exact: data order must be a pure function of the step (see :func:`make_batch_fn`), the
step's key is ``fold_in(key, step)``, and the checkpoint holds the state together with the partial
logging window and the last hook results. A run killed at any moment (SIGKILL included) and started
again with the same arguments ends with the same state and metrics, bit for bit, as an
uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax._keys import as_key
from xent_jax.train._checkpoint import Checkpointer
from xent_jax.train._lock import FolderLock
from xent_jax.train._metrics_log import MetricsLogger, to_json
from xent_jax.train._sharding import can_shard, data_mesh, replicate, shard_batch

__all__ = ["FitResult", "Hook", "fit", "make_batch_fn"]

State = Any
Batch = Any
StepFn = Callable[[State, Batch, jax.Array], tuple[State, Mapping[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Hook:
    """A function of the state run every ``every`` steps (and after the last step).

    Attributes:
      name: the ``split`` its results are logged under (``"eval"``, ``"val"``, ...).
      every: steps between calls; 0 means only after the last step.
      fn: ``state -> dict`` of scalars (or None), called outside ``jit`` (jit inside as needed).
    """

    name: str
    every: int
    fn: Callable[[State], Mapping[str, Any] | None]

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or self.name in ("train", "timing"):
            raise ValueError(
                f"Hook name must be a non-empty str other than train/timing, got {self.name!r}"
            )
        _check_int("Hook.every", self.every, minimum=0)
        if not callable(self.fn):
            raise TypeError(f"Hook.fn must be callable, got {type(self.fn).__name__}")


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
      state: the final state pytree.
      step: the number of steps done (``steps``).
      train: the train metrics of the last logging window (mean over its steps).
      hooks: the last result of each hook, by name (``eval_fn`` is the hook ``"eval"``).
      resumed_from: the checkpoint step the run started from (0 for a fresh run).
      seconds: wall time spent in training steps by this call (hooks and saving excluded).
      examples: examples (or tokens) processed by this call.
      totals: ``{"seconds": ..., <unit>: ...}`` over the whole run, earlier segments of a resumed
        run included (as saved in its checkpoints).
    """

    state: State
    step: int
    train: dict[str, Any]
    hooks: dict[str, dict[str, Any]]
    resumed_from: int = 0
    seconds: float = 0.0
    examples: float = 0.0
    totals: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def eval(self) -> dict[str, Any]:
        """The last result of ``eval_fn`` (the hook named ``"eval"``); empty without one."""
        return self.hooks.get("eval", {})

    @property
    def metrics(self) -> dict[str, Any]:
        """``{"step": ..., "train_<name>": ..., "<hook>_<name>": ...}`` in one flat dict."""
        out: dict[str, Any] = {"step": self.step}
        out.update({f"train_{k}": v for k, v in self.train.items()})
        for hook, values in self.hooks.items():
            out.update({f"{hook}_{k}": v for k, v in values.items()})
        return out


def _check_int(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def make_batch_fn(data: Any, *, batch_size: int, key: jax.Array | int) -> Callable[[int], Any]:
    """Minibatches of ``data`` as a pure function of the step.

    Epoch ``e`` uses the permutation drawn on the host from
    ``numpy.random.default_rng([*key_data(key), e])`` and drops the last partial batch; a batch
    size above the data size is clipped to the data size.

    Args:
      data: a pytree of arrays sharing the leading axis ``N`` (e.g. ``(images, labels)``).
      batch_size: examples per batch.
      key: the data-order PRNG key (or int seed).

    Returns:
      ``batch_fn(step) -> pytree`` with leading axis ``min(batch_size, N)``.

    Raises:
      ValueError: for empty data, leaves of different lengths or a batch size below 1.

    Examples:
      >>> fn = make_batch_fn((np.arange(10),), batch_size=4, key=0)
      >>> fn(0)[0].shape, bool((fn(3)[0] == fn(3)[0]).all())
      ((4,), True)
    """
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError("data must hold at least one array, got an empty pytree")
    n = int(np.shape(leaves[0])[0]) if np.ndim(leaves[0]) else 0
    if any(np.ndim(x) == 0 or np.shape(x)[0] != n for x in leaves):
        shapes = [np.shape(x) for x in leaves]
        raise ValueError(f"data leaves must share the leading axis, got shapes {shapes}")
    if n == 0:
        raise ValueError("data must hold at least one example, got a leading axis of 0")
    _check_int("batch_size", batch_size, minimum=1)
    entropy = [int(v) for v in np.asarray(jax.random.key_data(as_key(key))).ravel()]
    bs = min(int(batch_size), n)
    per_epoch = n // bs
    cache: dict[int, np.ndarray] = {}
    host = jax.tree.map(np.asarray, data)

    def batch_fn(step: int) -> Any:
        epoch, i = divmod(int(step), per_epoch)
        if epoch not in cache:
            cache.clear()
            cache[epoch] = np.random.default_rng([*entropy, epoch]).permutation(n)
        idx = cache[epoch][i * bs : (i + 1) * bs]
        return jax.tree.map(lambda x: x[idx], host)

    return batch_fn


# -- compiled chunks -----------------------------------------------------------------------------


def _signature(batch: Any) -> Any:
    leaves, treedef = jax.tree.flatten(batch)
    return treedef, tuple((np.shape(x), np.result_type(x)) for x in leaves)


def _stack(batches: Sequence[Any], length: int) -> Any:
    """Stacks batches on a new leading axis, padded to ``length`` by repeating the last one."""
    if batches[0] is None:
        return None
    padded = list(batches) + [batches[-1]] * (length - len(batches))
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *padded)


@dataclasses.dataclass(frozen=True)
class _Chunk:
    """``(state, batches [B, ...], key, start, n) -> (state, metrics [B, ...])``.

    Runs the first ``n`` (traced) of ``B`` stacked steps in a ``lax.fori_loop``, so one
    compilation serves every chunk length up to ``B``; rows ``n..B-1`` of the metrics are zeros.
    Without batches (``batches is None``) ``B`` is the static ``length``.
    """

    step_fn: Callable
    batched_key: bool
    length: int

    def __call__(self, state, batches, key, start, n):
        def one(state, i):
            s = start + i
            if self.batched_key:
                k = jax.vmap(lambda k: jax.random.fold_in(k, s))(key)
            else:
                k = jax.random.fold_in(key, s)
            batch = jax.tree.map(lambda b: jax.lax.dynamic_index_in_dim(b, i, 0, False), batches)
            return self.step_fn(state, batch, k)

        shapes = jax.eval_shape(one, state, jnp.int32(0))[1]
        buffers = jax.tree.map(lambda m: jnp.zeros((self.length, *m.shape), m.dtype), shapes)

        def body(i, carry):
            state, buf = carry
            state, metrics = one(state, i)
            return state, jax.tree.map(lambda b, m: b.at[i].set(m), buf, metrics)

        return jax.lax.fori_loop(0, n, body, (state, buffers))


@functools.lru_cache(maxsize=64)
def _jitted(chunk: _Chunk) -> Callable:
    return jax.jit(chunk, donate_argnums=0)


class _Compiled:
    """One jitted chunk function per buffer length (jit adds one per batch signature).

    Chunks of a hashable ``step_fn`` (a module-level function, a frozen dataclass) are cached
    across :func:`fit` calls, so a second run of the same step does not recompile.
    """

    def __init__(self, step_fn: Callable, batched_key: bool, jit: bool):
        self.step_fn, self.batched_key, self.jit = step_fn, batched_key, jit
        self._cache: dict[int, Callable] = {}

    def get(self, length: int) -> Callable:
        if length not in self._cache:
            chunk = _Chunk(self.step_fn, self.batched_key, length)
            if not self.jit:
                fn = chunk
            else:
                try:
                    fn = _jitted(chunk)
                except TypeError:  # an unhashable step_fn
                    fn = jax.jit(chunk, donate_argnums=0)
            self._cache[length] = fn
        return self._cache[length]


def _buffer_length(n: int, cap: int) -> int:
    """The power of two >= n, at most ``cap``: few distinct shapes, little padding."""
    return min(cap, 1 << max(0, (n - 1).bit_length()))


def _next_boundary(step: int, total: int, periods: Sequence[int]) -> int:
    nxt = total
    for p in periods:
        if p > 0:
            nxt = min(nxt, (step // p + 1) * p)
    return nxt


def _due(step: int, every: int, total: int) -> bool:
    return step == total or (every > 0 and step % every == 0)


# -- the loop ------------------------------------------------------------------------------------


class _Window:
    """Running sums of the train metrics since the last log line (kept in checkpoints)."""

    def __init__(self, saved: Mapping[str, Any] | None = None):
        saved = saved or {}
        self.count = int(saved.get("count", 0))
        self.sums = {k: np.asarray(v, np.float64) for k, v in saved.get("sums", {}).items()}

    def add(self, metrics: Mapping[str, np.ndarray], rows: slice) -> None:
        for k, v in metrics.items():
            part = np.asarray(v[rows], np.float64).sum(axis=0)
            self.sums[k] = self.sums[k] + part if k in self.sums else part
        self.count += rows.stop - rows.start

    def mean(self) -> dict[str, Any]:
        return {k: to_json(v / max(self.count, 1)) for k, v in self.sums.items()}

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "sums": {k: to_json(v) for k, v in self.sums.items()}}

    def clear(self) -> None:
        self.count, self.sums = 0, {}


def _count_examples(batch: Any) -> int:
    leaves = jax.tree.leaves(batch)
    return int(np.shape(leaves[0])[0]) if leaves and np.ndim(leaves[0]) else 0


def _floats(values: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise TypeError(f"{where} must return a dict of scalars, got {type(values).__name__}")
    return {str(k): to_json(v) for k, v in jax.device_get(dict(values)).items()}


def fit(
    step_fn: StepFn,
    state: State,
    batch_fn: Callable[[int], Batch] | None = None,
    *,
    steps: int,
    key: jax.Array | int,
    steps_per_call: int = 50,
    workdir: str | Path | None = None,
    checkpoint_every: int = 0,
    log_every: int = 50,
    eval_fn: Callable[[State], Mapping[str, Any] | None] | None = None,
    eval_every: int = 0,
    hooks: Sequence[Hook] = (),
    examples_per_step: int | Callable[[Batch], float] | None = None,
    unit: str = "examples",
    progress: bool = True,
    desc: str = "train",
    shard: bool | None = None,
    max_to_keep: int = 2,
    tensorboard: bool = False,
    profile: tuple[int, int] | None = None,
    jit: bool = True,
) -> FitResult:
    """Runs ``steps`` steps of ``step_fn`` in compiled chunks, with hooks, logs and checkpoints.

    Step ``s`` (0-based) computes ``step_fn(state, batch_fn(s), jax.random.fold_in(key, s))``.
    Consecutive steps run inside one ``jax.jit``-compiled loop (a ``jax.lax.fori_loop`` over a
    traced count, so one compilation serves every chunk length) of up to
    ``steps_per_call`` steps, so small models are not bound by Python dispatch; chunks end at
    every multiple of ``steps_per_call``, ``log_every``, ``checkpoint_every`` and each hook's
    period, and at the end, so results do not depend on ``steps_per_call``. Batches of one chunk
    are stacked on the host (``np.stack``); consecutive batches of different shapes (length
    buckets) run as separate chunks. After each chunk: the train metrics averaged over the steps
    since the last log line are logged every ``log_every`` steps, hooks run on their period, and
    a checkpoint is written every ``checkpoint_every`` steps; all three also happen after the
    last step.

    With ``workdir`` set, ``fit`` locks the folder (one run at a time), writes
    ``workdir/metrics.jsonl`` (records ``{"step", "split", **metrics}``; split ``"train"``, a hook's
    name, or ``"timing"`` for throughput) and ``workdir/checkpoints/``, and resumes from the newest
    checkpoint there (dropping log lines after it). Ctrl-C saves a checkpoint of the last finished
    chunk before re-raising; a SIGKILL loses at most the steps since the last checkpoint.

    Seeds as a batch axis: when ``key`` is a ``[n]`` array of keys (``jax.random.key`` of each
    seed, see :func:`xent_jax.train.seed_keys`), step ``s`` gets the ``[n]`` keys
    ``fold_in(key[i], s)``, for a ``step_fn`` vmapped over a leading seed axis of the state
    (:func:`xent_jax.train.vmap_seeds`); each seed then follows exactly its separate run.

    Args:
      step_fn: ``(state, batch, key) -> (state, metrics)``; a pure jittable function whose
        metrics are scalars (or ``[n]`` per seed).
      state: the initial state pytree (arrays; typed keys allowed). It is copied, never donated.
      batch_fn: ``step -> batch`` (numpy pytree), a pure function of the step for exact resume;
        None when the step draws its own data from the key (the batch is then ``None``).
      steps: total number of steps of the run (not the number left).
      key: PRNG key, or int seed (``jax.random.key(seed)``), or ``[n]`` keys (seeds axis).
      steps_per_call: steps per compiled call (1 runs every step as its own call).
      workdir: folder for the lock, ``metrics.jsonl``, checkpoints, TensorBoard events and
        profiles; None keeps everything in memory (no resume).
      checkpoint_every: steps between checkpoints (0: only at the end); needs ``workdir``.
      log_every: steps per train-metric log line (the mean over those steps).
      eval_fn: ``state -> dict``, shorthand for ``Hook("eval", eval_every, eval_fn)``.
      eval_every: steps between ``eval_fn`` calls (0: only at the end).
      hooks: more :class:`Hook` objects (periodic evaluation, sampling, ...).
      examples_per_step: for the throughput shown and logged: an int, or ``batch -> count``
        (e.g. tokens); default the leading size of the batch's first leaf.
      unit: the throughput's unit (``"examples"``, ``"tokens"``, ...).
      progress: show a tqdm progress bar with throughput and the last metrics.
      desc: the progress bar's label.
      shard: data parallel over all devices (state replicated, batch split on its batch axis);
        None means "when more than one device".
      max_to_keep: checkpoints kept.
      tensorboard: also write scalars to ``workdir/tensorboard`` (needs ``tensorboardX``).
      profile: ``(first, last)`` steps to trace with ``jax.profiler`` into ``workdir/profile``.
      jit: compile the chunks (False runs ``step_fn`` eagerly inside an uncompiled loop; for
        debugging).

    Returns:
      A :class:`FitResult` with the final state, the last train metrics and hook results.

    Raises:
      TypeError: for a non-int ``steps`` (or other counts), a ``key`` that is not a key or int
        seed, or a non-callable ``step_fn``/``batch_fn``.
      ValueError: for negative counts, a newest checkpoint beyond ``steps`` without one at
        ``steps``, or options that need ``workdir`` without one.
      xent_jax.train.FolderLockedError: when another live run uses ``workdir``.

    Examples:
      >>> import jax.numpy as jnp
      >>> def step(s, b, k):
      ...     w = s["w"] - 0.1 * (s["w"] - b)
      ...     return {"w": w}, {"gap": jnp.abs(w - b)}
      >>> res = fit(step, {"w": jnp.zeros(())}, lambda i: np.float32(1.0), steps=50, key=0,
      ...           progress=False)
      >>> round(float(res.state["w"]), 3), round(res.train["gap"], 3)  # gap: mean of 50 steps
      (0.995, 0.179)
    """
    if not callable(step_fn):
        raise TypeError(f"step_fn must be callable, got {type(step_fn).__name__}")
    if batch_fn is not None and not callable(batch_fn):
        raise TypeError(f"batch_fn must be callable or None, got {type(batch_fn).__name__}")
    steps = _check_int("steps", steps, minimum=0)
    steps_per_call = _check_int("steps_per_call", steps_per_call, minimum=1)
    checkpoint_every = _check_int("checkpoint_every", checkpoint_every, minimum=0)
    log_every = _check_int("log_every", log_every, minimum=1)
    eval_every = _check_int("eval_every", eval_every, minimum=0)
    max_to_keep = _check_int("max_to_keep", max_to_keep, minimum=1)
    key = as_key(key, "key", batched=True)
    hooks = list(hooks)
    if eval_fn is not None:
        hooks.insert(0, Hook("eval", eval_every, eval_fn))
    if len({h.name for h in hooks}) != len(hooks):
        raise ValueError(f"hook names must be unique, got {[h.name for h in hooks]}")
    if workdir is None and (checkpoint_every or tensorboard or profile):
        raise ValueError("checkpoint_every, tensorboard and profile need a workdir")
    if profile is not None:
        if len(profile) != 2 or not 0 <= int(profile[0]) < int(profile[1]) <= steps:
            raise ValueError(
                f"profile must be (first, last) steps with 0 <= first < last <= "
                f"steps={steps}, got {profile!r}"
            )
        profile = (int(profile[0]), int(profile[1]))

    lock = FolderLock(workdir) if workdir is not None and jax.process_index() == 0 else None
    if lock is not None:
        lock.acquire()
    try:
        return _run(
            step_fn, state, batch_fn, steps=steps, key=key, steps_per_call=steps_per_call,
            workdir=Path(workdir).resolve() if workdir is not None else None,
            checkpoint_every=checkpoint_every, log_every=log_every, hooks=hooks,
            examples_per_step=examples_per_step, unit=unit, progress=progress, desc=desc,
            shard=shard, max_to_keep=max_to_keep, tensorboard=tensorboard, profile=profile,
            jit=jit,
        )  # fmt: skip
    finally:
        if lock is not None:
            lock.release()


def _run(
    step_fn, state, batch_fn, *, steps, key, steps_per_call, workdir, checkpoint_every,
    log_every, hooks, examples_per_step, unit, progress, desc, shard, max_to_keep, tensorboard,
    profile, jit,
):  # fmt: skip
    is_main = jax.process_index() == 0
    mesh = None
    if shard or (shard is None and jax.device_count() > 1):
        mesh = data_mesh()
    state = jax.tree.map(lambda x: jnp.array(x, copy=True), state)  # never donate the caller's
    if mesh is not None:
        state = replicate(state, mesh)

    logger = ckpt = writer = None
    start, window, last_train, last_hooks, timing = 0, _Window(), {}, {}, {}
    if workdir is not None:
        logger = MetricsLogger(workdir / "metrics.jsonl")
        ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=max_to_keep)
        latest = ckpt.latest_step()
        if latest is not None:
            if latest > steps:
                if steps not in ckpt.all_steps():
                    raise ValueError(
                        f"the checkpoint in {ckpt.directory} is at step {latest}, beyond "
                        f"steps={steps}, and step {steps} is not kept (max_to_keep={max_to_keep})"
                    )
                # The run went further already: its state at `steps`, read-only (logs untouched).
                state, extra = ckpt.restore(state, step=steps)
                return FitResult(
                    state=state,
                    step=steps,
                    train=dict(extra.get("train", {})),
                    hooks={k: dict(v) for k, v in extra.get("hooks", {}).items()},
                    resumed_from=steps,
                    totals=dict(extra.get("timing", {})),
                )
            state, extra = ckpt.restore(state)
            start = latest
            window = _Window(extra.get("window"))
            timing = dict(extra.get("timing", {}))
            last_train = dict(extra.get("train", {}))
            last_hooks = {k: dict(v) for k, v in extra.get("hooks", {}).items()}
        logger.truncate_after(start)
        if tensorboard and is_main:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as e:
                raise ImportError(
                    "tensorboard=True needs tensorboardX: pip install 'xent-jax[tensorboard]'"
                ) from e
            writer = SummaryWriter(str(workdir / "tensorboard"), purge_step=start)

    compiled = _Compiled(step_fn, batched_key=key.ndim == 1, jit=jit)
    periods = [steps_per_call, log_every, checkpoint_every] + [h.every for h in hooks]
    if profile is not None:
        periods += [profile[0], profile[1]]  # chunks end at the window's edges (and multiples)
    count_fn = examples_per_step if callable(examples_per_step) else None

    def save(step: int) -> None:
        if ckpt is not None and step not in ckpt.all_steps():
            extra = {
                "train": last_train,
                "hooks": last_hooks,
                "window": window.to_json(),
                "timing": {"seconds": before.get("seconds", 0.0) + seconds,
                           unit: before.get(unit, 0.0) + examples},
            }  # fmt: skip
            ckpt.save(step, state, extra=extra)

    def emit(split: str, step: int, values: Mapping[str, Any]) -> None:
        if logger is not None:
            logger.log({"step": step, "split": split, **values})
        if writer is not None:
            for k, v in values.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    writer.add_scalar(f"{split}/{k}", v, step)

    from tqdm.auto import tqdm

    bar = tqdm(
        total=steps, initial=start, desc=desc, disable=not (progress and is_main),
        dynamic_ncols=True, unit="step",
    )  # fmt: skip
    done, seconds, examples, tracing = start, 0.0, 0.0, False
    win_seconds, win_examples = 0.0, 0.0  # throughput over the logging window
    before = dict(timing)  # seconds and examples of earlier segments of this run (resumes)
    try:
        while done < steps:
            end = _next_boundary(done, steps, periods)
            if profile is not None and done == profile[0] and workdir is not None and is_main:
                jax.profiler.start_trace(str(workdir / "profile"))
                tracing = True
            t0 = time.perf_counter()
            batches = [batch_fn(s) for s in range(done, end)] if batch_fn else [None] * (end - done)
            chunk_examples = 0.0
            for b in batches:
                if count_fn is not None:
                    chunk_examples += float(count_fn(b))
                elif examples_per_step is not None:
                    chunk_examples += float(examples_per_step)
                elif b is not None:
                    chunk_examples += _count_examples(b)
            # Runs of equal batch shapes, each one compiled chunk.
            runs, i = [], 0
            while i < len(batches):
                j = i + 1
                if batch_fn is not None:
                    sig = _signature(batches[i])
                    while j < len(batches) and _signature(batches[j]) == sig:
                        j += 1
                else:
                    j = len(batches)
                runs.append((i, j))
                i = j
            metric_parts = []
            for i, j in runs:
                length = _buffer_length(j - i, steps_per_call)
                stacked = _stack(batches[i:j], length)
                if mesh is not None and stacked is not None:
                    split = can_shard(stacked, mesh, axis=1)
                    stacked = (
                        shard_batch(stacked, mesh, axis=1) if split else replicate(stacked, mesh)
                    )
                fn = compiled.get(length)
                state, metrics = fn(state, stacked, key, jnp.int32(done + i), jnp.int32(j - i))
                metric_parts.append(metrics)
            host = jax.device_get(metric_parts)
            if tracing and end >= profile[1]:
                jax.block_until_ready(state)
                jax.profiler.stop_trace()
                tracing = False
            dt = time.perf_counter() - t0
            seconds += dt
            examples += chunk_examples
            win_seconds += dt
            win_examples += chunk_examples
            for part, (i, j) in zip(host, runs, strict=True):
                if not isinstance(part, Mapping):
                    raise TypeError(
                        f"step_fn must return (state, dict of scalars), got metrics of type "
                        f"{type(part).__name__}"
                    )
                window.add(part, slice(0, j - i))
            bar.update(end - done)
            done = end
            if _due(done, log_every, steps) and window.count:
                last_train = window.mean()
                window.clear()
                emit("train", done, last_train)
                rate = win_examples / max(win_seconds, 1e-9)
                timing = {
                    "seconds": before.get("seconds", 0.0) + seconds,
                    unit: before.get(unit, 0.0) + examples,
                }
                emit("timing", done, {f"{unit}_per_s": rate, **timing})
                win_seconds, win_examples = 0.0, 0.0
                shown = {k: v for k, v in last_train.items() if isinstance(v, float)}
                bar.set_postfix({f"{unit}/s": f"{rate:,.0f}", **shown}, refresh=False)
            for hook in hooks:
                if _due(done, hook.every, steps):
                    values = _floats(hook.fn(state), f"hook {hook.name!r}")
                    last_hooks[hook.name] = values
                    if values:
                        emit(hook.name, done, values)
            if _due(done, checkpoint_every, steps):
                save(done)
    except KeyboardInterrupt:
        if done > start:
            save(done)
        raise
    finally:
        if tracing:
            jax.profiler.stop_trace()
        bar.close()
        if writer is not None:
            writer.close()
    for hook in hooks:  # a finished run restored from its last checkpoint: hooks as saved
        if hook.name not in last_hooks:
            last_hooks[hook.name] = _floats(hook.fn(state), f"hook {hook.name!r}")
    if progress and is_main and seconds > 0 and examples > 0:
        print(
            f"{desc}: {done - start} steps in {seconds:.1f} s, "
            f"{examples / seconds:,.0f} {unit}/s" + (f" (resumed at {start})" if start else ""),
            flush=True,
        )
    return FitResult(
        state=state, step=steps, train=last_train, hooks=last_hooks, resumed_from=start,
        seconds=seconds, examples=examples,
        totals={"seconds": before.get("seconds", 0.0) + seconds,
                unit: before.get(unit, 0.0) + examples},
    )  # fmt: skip
