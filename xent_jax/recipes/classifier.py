"""The common case: an NNX classifier trained with softmax cross-entropy and an optax optimiser.

The training state is a plain pytree ``{"params", "rest", "opt_state"}`` (NNX pure dicts and the
optax state), so it can be jitted, sharded and checkpointed; the ``graphdef`` returned by
:func:`init_classifier_state` rebuilds the module (``nnx.merge``) inside the jitted step, the
split/merge pattern the Flax performance guide recommends for small models.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from xent_jax._keys import as_key
from xent_jax.losses import reduce_loss, softmax_cross_entropy_with_integer_labels
from xent_jax.train import FitResult, fit, make_batch_fn

__all__ = [
    "ClassifierTraining",
    "init_classifier_state",
    "merge_model",
    "classification_step",
    "predict",
    "apply_batched",
    "evaluate_classifier",
    "classifier_training",
    "choose_steps",
    "train_classifier",
]

Transform = Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


def init_classifier_state(
    model: nnx.Module, tx: optax.GradientTransformation
) -> tuple[nnx.GraphDef, dict[str, Any]]:
    """Splits ``model`` into a graphdef and a state pytree with a fresh optimiser state.

    Returns:
      ``(graphdef, state)`` with ``state = {"params": ..., "rest": ..., "opt_state": ...}``
      (``rest`` holds non-parameter variables such as batch statistics).

    Examples:
      >>> from xent_jax.models import MLP
      >>> graphdef, state = init_classifier_state(MLP(4, (), 3, rngs=nnx.Rngs(0)), optax.sgd(0.1))
      >>> sorted(state)
      ['opt_state', 'params', 'rest']
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    params = nnx.to_pure_dict(params)
    state = {"params": params, "rest": nnx.to_pure_dict(rest), "opt_state": tx.init(params)}
    return graphdef, state


def merge_model(graphdef: nnx.GraphDef, state: dict[str, Any]) -> nnx.Module:
    """Rebuilds the NNX module from a state made by :func:`init_classifier_state`."""
    return nnx.merge(graphdef, state["params"], state["rest"])


@dataclasses.dataclass(frozen=True)
class _ClassificationStep:
    # A hashable step: equal settings share jax.jit's compilation cache across calls.
    graphdef: nnx.GraphDef
    tx: optax.GradientTransformation
    transform: Transform | None
    label_smoothing: float

    def __call__(self, state, batch, key):
        graphdef, x, y = self.graphdef, *batch
        if self.transform is not None:
            x, y = self.transform(x, y, key)

        def loss_fn(params):
            model = nnx.merge(graphdef, params, state["rest"])
            logits = model(x)
            losses = softmax_cross_entropy_with_integer_labels(
                logits, y, label_smoothing=self.label_smoothing
            )
            return reduce_loss(losses), logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
        new_state = {"params": params, "rest": state["rest"], "opt_state": opt_state}
        return new_state, {"loss": loss, "accuracy": accuracy}


def classification_step(
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    *,
    transform: Transform | None = None,
    label_smoothing: float = 0.0,
) -> Callable[[dict, tuple, jax.Array], tuple[dict, dict]]:
    """A ``step_fn(state, (x, y), key)`` for :func:`xent_jax.train.fit`.

    The loss is ``reduce_loss(softmax_cross_entropy_with_integer_labels(model(x), y))``, the mean
    cross-entropy over the batch. ``transform(x, y, key) -> (x, y)`` runs first inside the jitted
    step (e.g. :func:`xent_jax.tasks.rotation_batch` for rotation prediction, or augmentation).
    Steps built from equal arguments compare equal, so they share compiled code.

    Returns:
      the step function; its metrics are ``loss`` and ``accuracy``.

    Examples:
      >>> from xent_jax.models import MLP
      >>> tx = optax.sgd(0.1)
      >>> graphdef, state = init_classifier_state(MLP(2, (), 2, rngs=nnx.Rngs(0)), tx)
      >>> step = classification_step(graphdef, tx)
      >>> x, y = jnp.array([[1.0, 0.0], [0.0, 1.0]]), jnp.array([0, 1])
      >>> state, m = jax.jit(step)(state, (x, y), jax.random.key(0))
      >>> sorted(m)
      ['accuracy', 'loss']
    """
    return _ClassificationStep(graphdef, tx, transform, float(label_smoothing))


def predict(
    fn: Callable[[jax.Array], jax.Array],
    inputs: Any,
    *,
    batch_size: int = 512,
    jit: bool = True,
) -> np.ndarray:
    """Applies a jittable ``fn`` over ``inputs`` in batches of exactly ``batch_size`` (padded).

    Args:
      fn: maps a batch ``[B, ...]`` to outputs ``[B, ...]`` (e.g. ``lambda x: model(x)``); it is
        jitted here, so one compilation serves every batch.
      inputs: array ``[N, ...]``.
      batch_size: batch size.
      jit: jit ``fn`` here (False when it is already jitted).

    Returns:
      numpy outputs ``[N, ...]``.

    Examples:
      >>> predict(lambda x: 2 * x, np.arange(5.0), batch_size=2).tolist()
      [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    inputs = np.asarray(inputs)
    n = inputs.shape[0]
    if n == 0:
        raise ValueError("inputs must hold at least one example")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    bs = batch_size  # always this shape (padded), so every input size shares one compilation
    jfn = jax.jit(fn) if jit else fn
    outs = []
    for i in range(0, n, bs):
        chunk = inputs[i : i + bs]
        pad = bs - chunk.shape[0]
        if pad:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
        out = np.asarray(jfn(chunk))
        outs.append(out[: bs - pad])
    return np.concatenate(outs)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _apply(graphdef, method, kwargs, state, x):
    model = nnx.merge(graphdef, *state)
    fn = model if method is None else getattr(model, method)
    return fn(x, **dict(kwargs))


def apply_batched(
    graphdef: nnx.GraphDef,
    state: Any,
    inputs: Any,
    *,
    method: str | None = None,
    batch_size: int = 512,
    **kwargs: Any,
) -> np.ndarray:
    """``nnx.merge(graphdef, *state).<method>(x, **kwargs)`` over ``inputs`` in padded batches.

    One compiled function per (graphdef, method, kwargs, batch shape) is shared by every call, so
    evaluating many models of the same architecture compiles once.

    Args:
      graphdef: from ``nnx.split``.
      state: a tuple of states (or pure dicts) that ``nnx.merge`` takes after ``graphdef``.
      inputs: ``[N, ...]``.
      method: a method name, or None for ``__call__``.
      batch_size: batch size; the last batch is padded by repeating its last example.
      **kwargs: hashable keyword arguments for the method (e.g. ``block=1``).

    Returns:
      numpy ``[N, ...]``.

    Examples:
      >>> from xent_jax.models import MLP
      >>> graphdef, state = nnx.split(MLP(3, (4,), 2, rngs=nnx.Rngs(0)))
      >>> apply_batched(graphdef, (state,), np.ones((5, 3)), batch_size=4).shape
      (5, 2)
    """
    key = tuple(sorted(kwargs.items()))
    return predict(
        lambda x: _apply(graphdef, method, key, tuple(state), x),
        inputs,
        batch_size=batch_size,
        jit=False,
    )


def evaluate_classifier(
    graphdef: nnx.GraphDef,
    state: dict[str, Any],
    images: Any,
    labels: Any,
    *,
    batch_size: int = 512,
) -> dict[str, float]:
    """Accuracy and mean cross-entropy of the classifier on ``(images, labels)``.

    Examples:
      >>> from xent_jax.models import MLP
      >>> graphdef, state = init_classifier_state(MLP(2, (), 2, rngs=nnx.Rngs(0)), optax.sgd(0.1))
      >>> sorted(evaluate_classifier(graphdef, state, np.eye(2), np.array([0, 1])))
      ['accuracy', 'loss']
    """
    logits = apply_batched(
        graphdef, (state["params"], state["rest"]), images, batch_size=batch_size
    )
    labels = np.asarray(labels)
    losses = softmax_cross_entropy_with_integer_labels(jnp.asarray(logits), jnp.asarray(labels))
    return {
        "accuracy": float(np.mean(logits.argmax(-1) == labels)),
        "loss": float(reduce_loss(losses)),
    }


@functools.cache
def _adamw(learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
    # One object per setting, so train steps built with it hash equal and share compilations.
    return optax.adamw(learning_rate, weight_decay=weight_decay)


@dataclasses.dataclass(frozen=True)
class ClassifierTraining:
    """Everything :func:`xent_jax.train.fit` needs for one classifier run.

    Made by :func:`classifier_training` (and the rotation and adversarial-training builders);
    run it with ``fit(job.step, job.state, job.batch_fn, steps=..., key=key, **job.fit_options)``
    (or ``run.fit(...)`` in an experiment), passing the same ``key`` the job was built with.

    Attributes:
      graphdef: the module's graph (``nnx.split``).
      tx: the optimiser.
      step: the step function (hashable: equal settings share compiled chunks).
      state: the initial state ``{"params", "rest", "opt_state"}``.
      batch_fn: ``step -> (x, y)`` numpy minibatches, a pure function of the step.
      fit_options: keyword arguments for ``fit`` (``eval_fn``/``eval_every`` with eval data).
    """

    graphdef: nnx.GraphDef
    tx: optax.GradientTransformation
    step: Callable[[dict, Any, jax.Array], tuple[dict, dict]]
    state: dict[str, Any]
    batch_fn: Callable[[int], Any]
    fit_options: dict[str, Any]

    def model(self, state: dict[str, Any]) -> nnx.Module:
        """The NNX module holding ``state``'s parameters, in evaluation mode."""
        model = merge_model(self.graphdef, state)
        model.eval()
        return model

    def evaluate(self, state: dict[str, Any], images: Any, labels: Any) -> dict[str, float]:
        """:func:`evaluate_classifier` of ``state`` on ``(images, labels)``."""
        return evaluate_classifier(self.graphdef, state, images, labels)

    def logits_fn(self, state: dict[str, Any]) -> Callable[[jax.Array], jax.Array]:
        """``x -> logits`` of ``state`` for attacks and evaluators (a ``functools.partial``).

        Its parameters are traced and its static part is the graphdef, compared by value, so
        the compiled code of an attack (:mod:`xent_jax.attacks`) is shared by every state of
        this architecture (an NNX module object would compile once per object). The arrays are
        handed over as host (numpy) copies, so states restored from a checkpoint (committed to a
        device) and states fresh from ``fit`` do not compile separately.
        """
        params, rest = jax.tree.map(np.asarray, (state["params"], state["rest"]))
        return functools.partial(_Logits(self.graphdef), params, rest)


@dataclasses.dataclass(frozen=True)
class _Logits:
    # (params, rest, x) -> logits; hashable by its graphdef.
    graphdef: nnx.GraphDef

    def __call__(self, params, rest, x):
        model = nnx.merge(self.graphdef, params, rest)
        model.eval()
        return model(x)


def classifier_training(
    model: nnx.Module,
    images: Any,
    labels: Any,
    *,
    key: jax.Array | int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    transform: Transform | None = None,
    eval_data: tuple[Any, Any] | None = None,
    eval_every: int = 0,
) -> ClassifierTraining:
    """Assembles a classifier run: AdamW on the mean cross-entropy, minibatches, an eval hook.

    The data order comes from ``key`` (:func:`xent_jax.train.make_batch_fn`); pass the same
    ``key`` to ``fit`` (the step keys feed ``transform``). With ``eval_data = (x, y)`` the eval
    hook reports :func:`evaluate_classifier` on it every ``eval_every`` steps and at the end;
    with ``transform`` the eval data is transformed once, with ``key``, before evaluation.

    Args:
      model: an NNX classifier ``[N, ...] -> [N, classes]`` (its variables are copied).
      images: ``[N, ...]`` training inputs.
      labels: int ``[N]``.
      key: PRNG key (or int seed) of the run.
      batch_size: examples per step.
      learning_rate, weight_decay: AdamW settings.
      transform: ``(x, y, key) -> (x, y)`` applied inside the jitted step.
      eval_data: optional ``(x, y)`` for the eval hook.
      eval_every: steps between evaluations (0: only at the end).

    Returns:
      a :class:`ClassifierTraining`.

    Examples:
      >>> from xent_jax.models import MLP
      >>> from xent_jax.train import fit
      >>> x = np.array([[1.0, 0.0], [0.0, 1.0]] * 8, np.float32); y = np.array([0, 1] * 8)
      >>> job = classifier_training(MLP(2, (), 2, rngs=nnx.Rngs(0)), x, y, key=0,
      ...                           batch_size=8, learning_rate=0.1, eval_data=(x, y))
      >>> res = fit(job.step, job.state, job.batch_fn, steps=30, key=0, progress=False,
      ...           **job.fit_options)
      >>> res.eval["accuracy"], job.evaluate(res.state, x, y)["accuracy"]
      (1.0, 1.0)
    """
    key = as_key(key)
    tx = _adamw(float(learning_rate), float(weight_decay))
    graphdef, state = init_classifier_state(model, tx)
    step = classification_step(graphdef, tx, transform=transform)
    data = (np.asarray(images), np.asarray(labels))
    batch_fn = make_batch_fn(data, batch_size=batch_size, key=key)
    fit_options: dict[str, Any] = {}
    if eval_data is not None:
        ex, ey = np.asarray(eval_data[0]), np.asarray(eval_data[1])
        if transform is not None:
            tx_x, tx_y = transform(jnp.asarray(ex), jnp.asarray(ey), key)
            ex, ey = np.asarray(tx_x), np.asarray(tx_y)

        def eval_fn(s):
            return evaluate_classifier(graphdef, s, ex, ey)

        fit_options = {"eval_fn": eval_fn, "eval_every": int(eval_every)}
    return ClassifierTraining(graphdef, tx, step, state, batch_fn, fit_options)


def choose_steps(
    fit_fn: Callable[[int], FitResult],
    steps_grid: Any,
    score_fn: Callable[[Any], float],
) -> tuple[int, Any, dict[int, float]]:
    """Trains to each length of ``steps_grid`` in turn and keeps the one ``score_fn`` likes best.

    ``fit_fn(steps)`` runs (or resumes) one training run to ``steps`` steps, e.g.
    ``lambda s: run.fit(job.step, job.state, job.batch_fn, name=..., steps=s,
    max_to_keep=len(grid))``: called with increasing lengths, each call resumes the previous
    one's checkpoint, so the grid costs one run of its longest length; re-called on a finished
    folder it reads each length back (keep every grid checkpoint: ``max_to_keep >= len(grid)``
    and ``checkpoint_every`` 0 or a divisor of every grid length that keeps them). ``score_fn``
    scores a state on validation data (higher is better); ties go to the shorter run.

    Args:
      fit_fn: ``steps -> FitResult``.
      steps_grid: candidate step counts (positive ints).
      score_fn: ``state -> float`` on validation data.

    Returns:
      ``(chosen_steps, chosen_state, {steps: score})``.

    Examples:
      >>> from xent_jax.train import fit
      >>> step = lambda w, b, k: (w + 1.0, {"w": w})
      >>> chosen, state, scores = choose_steps(
      ...     lambda s: fit(step, jnp.zeros(()), None, steps=s, key=0, progress=False),
      ...     (1, 2, 3), lambda w: -abs(float(w) - 2.0))
      >>> chosen, float(state), scores
      (2, 2.0, {1: -1.0, 2: -0.0, 3: -1.0})
    """
    grid = sorted({int(s) for s in steps_grid})
    if not grid or grid[0] < 1:
        raise ValueError(f"steps_grid must hold positive step counts, got {steps_grid!r}")
    scores: dict[int, float] = {}
    best = None
    for steps in grid:
        state = fit_fn(steps).state
        scores[steps] = float(score_fn(state))
        if best is None or scores[steps] > scores[best[0]]:
            best = (steps, state)
    return best[0], best[1], scores


def train_classifier(
    model: nnx.Module,
    images: Any,
    labels: Any,
    *,
    steps: int,
    key: jax.Array | int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    transform: Transform | None = None,
    eval_data: tuple[Any, Any] | None = None,
    eval_every: int = 0,
    workdir: str | Path | None = None,
    checkpoint_every: int = 0,
    steps_per_call: int = 50,
    log_every: int = 50,
    progress: bool = True,
    desc: str = "classifier",
    **fit_options: Any,
) -> tuple[nnx.Module, FitResult]:
    """Trains ``model`` with AdamW on mean softmax cross-entropy; returns it updated.

    A convenience over :func:`xent_jax.train.fit` + :func:`classification_step` +
    :func:`xent_jax.train.make_batch_fn`. With ``eval_data = (x, y)``, eval metrics are the
    accuracy and loss on it. With ``transform``, the eval data is transformed the same way (with
    a fixed key) before evaluation.

    Args:
      model: an NNX classifier ``[N, ...] -> [N, classes]``; updated in place.
      images: ``[N, ...]`` inputs.
      labels: int ``[N]``.
      steps: optimiser steps.
      key: PRNG key (or int seed) for the data order and the steps.
      batch_size, learning_rate, weight_decay: the AdamW run.
      transform: ``(x, y, key) -> (x, y)`` applied inside the step.
      eval_data: optional ``(x, y)`` evaluated every ``eval_every`` steps and at the end.
      eval_every, workdir, checkpoint_every, steps_per_call, log_every, progress, desc,
        **fit_options: passed to :func:`xent_jax.train.fit`.

    Returns:
      ``(model, result)``: the trained module (the input module is updated in place too) and
      the :class:`~xent_jax.train.FitResult`.

    Examples:
      >>> from xent_jax.models import MLP
      >>> x = np.array([[1.0, 0.0], [0.0, 1.0]] * 8, np.float32); y = np.array([0, 1] * 8)
      >>> model, res = train_classifier(MLP(2, (), 2, rngs=nnx.Rngs(0)), x, y, steps=30, key=0,
      ...                               learning_rate=0.1, eval_data=(x, y), progress=False)
      >>> res.eval["accuracy"]
      1.0
    """
    key = as_key(key)
    job = classifier_training(
        model,
        images,
        labels,
        key=key,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        transform=transform,
        eval_data=eval_data,
        eval_every=eval_every,
    )
    result = fit(
        job.step,
        job.state,
        job.batch_fn,
        steps=steps,
        key=key,
        workdir=workdir,
        checkpoint_every=checkpoint_every,
        steps_per_call=steps_per_call,
        log_every=log_every,
        progress=progress,
        desc=desc,
        **job.fit_options,
        **fit_options,
    )
    trained = merge_model(job.graphdef, result.state)
    nnx.update(model, nnx.state(trained))
    return model, result
