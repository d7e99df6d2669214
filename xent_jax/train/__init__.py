"""The training engine: one ``fit`` loop, checkpoints, the metrics log, locks, sharding, seeds.

The engine knows no study: a study supplies a step function ``(state, batch, key) -> (state,
metrics)`` and a batch function ``step -> batch`` (see :mod:`xent_jax.recipes` for the classifier,
rotation, GAN, masked-LM and adversarial-training steps)::

    result = fit(
        step_fn, state, batch_fn,       # the study's step, its initial state, its data order
        steps=1000, key=0,              # total steps; PRNG key (or int seed)
        steps_per_call=50,              # steps per compiled call (one lax.fori_loop)
        workdir="runs/a",               # lock, metrics.jsonl, checkpoints/, resume
        checkpoint_every=200, log_every=50,
        eval_fn=evaluate, eval_every=200,
    )
    result.state, result.train, result.eval

A run killed at any point and started again with the same arguments resumes from its newest
checkpoint and ends with the same state and metrics, bit for bit.
"""

from xent_jax.train._checkpoint import Checkpointer, CheckpointError
from xent_jax.train._lock import FolderLock, FolderLockedError
from xent_jax.train._loop import FitResult, Hook, fit, make_batch_fn
from xent_jax.train._metrics_log import MalformedLogError, MetricsLogger, read_metrics
from xent_jax.train._seeds import (
    seed_keys,
    stack_batch_fns,
    stack_seeds,
    unstack_seeds,
    vmap_seeds,
)
from xent_jax.train._sharding import data_mesh, replicate, shard_batch

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "FitResult",
    "FolderLock",
    "FolderLockedError",
    "Hook",
    "MalformedLogError",
    "MetricsLogger",
    "data_mesh",
    "fit",
    "make_batch_fn",
    "read_metrics",
    "replicate",
    "seed_keys",
    "shard_batch",
    "stack_batch_fns",
    "stack_seeds",
    "unstack_seeds",
    "vmap_seeds",
]
