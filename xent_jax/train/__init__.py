"""Training engine: the fit loop, checkpoints, metrics, classifier helpers, probes, sharding.

The loop (``xent_jax.train.fit``)::

    result = fit(
        train_step,            # (state, batch, key) -> (state, metrics: dict of scalars); jitted
        state,                 # any pytree of arrays (typed keys as jax.random.key_data(key))
        batch_fn,              # step -> batch; a pure function of step (make_batch_fn does this)
        num_steps=1000,        # total steps of the run (a resumed run counts from its checkpoint)
        key=0,                 # PRNG key or int seed; step s gets jax.random.fold_in(key, s)
        ckpt_dir=None,         # folder for orbax checkpoints; resumes from the newest one there
        ckpt_every=0,          # steps between checkpoints (0: only at the end); Ctrl-C also saves
        eval_fn=None,          # state -> dict of scalars, called outside jit
        eval_every=0,          # steps between evals (0: only at the end)
        log_every=1,           # steps between train-metric log lines
        metrics_path=None,     # metrics.jsonl file (or folder): {"step", "split", **metrics} lines
        progress=True, desc="train", jit=True,
        shard=None,            # data parallel over all devices (None: when >1 device)
        max_to_keep=2,
    )
    result.state, result.train, result.eval, result.metrics  # final state and last metrics

A run killed at any point (SIGKILL, or SIGINT, which also saves) and restarted with the same
arguments continues from the newest checkpoint and ends with exactly the same state and metrics.

For an NNX classifier::

    graphdef, state = init_classifier_state(model, tx)       # {"params","rest","opt_state"}
    step = classification_step(graphdef, tx, transform=None)  # mean softmax CE, our losses
    result = fit(step, state, make_batch_fn((x, y), batch_size=128, seed=0), num_steps=...)
    model = merge_model(graphdef, result.state)

or simply ``model, result = train_classifier(model, x, y, num_steps=...)``. Custom steps (GAN
alternating updates, masked LM, adversarial training) write their own ``train_step`` over any
state pytree and reuse :func:`fit` as is.

Also: :func:`linear_probe` (softmax regression on frozen features, L-BFGS, our loss),
:func:`pretrain_rotation` / :func:`rotation_accuracy` / :func:`extract_features` (RotNet
pretraining on unlabelled images), :class:`Checkpointer`, :class:`MetricsLogger`, and the sharding
helpers :func:`data_mesh`, :func:`replicate`, :func:`shard_batch`.
"""

from xent_jax.train.checkpoint import Checkpointer
from xent_jax.train.classifier import (
    apply_batched,
    classification_step,
    evaluate_classifier,
    init_classifier_state,
    merge_model,
    predict,
    train_classifier,
)
from xent_jax.train.gan import GANConfig, GANTrainer, train_gan
from xent_jax.train.localization import compare_heads, fit_linear_head
from xent_jax.train.loop import FitResult, fit, make_batch_fn
from xent_jax.train.metrics import MetricsLogger, read_metrics
from xent_jax.train.mlm import embed_sequences, masked_perplexity, train_mlm
from xent_jax.train.pretext import extract_features, pretrain_rotation, rotation_accuracy
from xent_jax.train.probe import linear_probe, standardize
from xent_jax.train.sharding import data_mesh, replicate, shard_batch

__all__ = [
    "compare_heads",
    "embed_sequences",
    "fit_linear_head",
    "masked_perplexity",
    "train_mlm",
    "Checkpointer",
    "apply_batched",
    "FitResult",
    "GANConfig",
    "GANTrainer",
    "MetricsLogger",
    "classification_step",
    "data_mesh",
    "evaluate_classifier",
    "extract_features",
    "fit",
    "init_classifier_state",
    "linear_probe",
    "make_batch_fn",
    "merge_model",
    "predict",
    "pretrain_rotation",
    "read_metrics",
    "replicate",
    "rotation_accuracy",
    "shard_batch",
    "standardize",
    "train_classifier",
    "train_gan",
]
