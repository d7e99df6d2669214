"""PGD adversarial training (Madry et al. 2018) as a step function for :func:`xent_jax.train.fit`.

The attack is :func:`xent_jax.attacks.pgd`, used as a library function: attacks stay pure
functions of a logits function and know nothing of training. This module holds the study logic
that combines them: the PGD-AT step and a builder for NNX classifiers.

References:
  Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards Deep Learning Models Resistant to
  Adversarial Attacks", ICLR 2018.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from xent_jax.attacks import pgd
from xent_jax.losses import reduce_loss, softmax_cross_entropy_with_integer_labels
from xent_jax.recipes.classifier import ClassifierTraining, classifier_training

__all__ = ["AdversarialTrainingStep", "adversarial_training", "adversarial_training_step"]

ApplyFn = Callable[[Any, dict[str, Any], jax.Array], jax.Array]

_NORMS = ("linf", "l2")
_LOSSES = ("ce", "margin", "dlr")


@dataclasses.dataclass(frozen=True)
class AdversarialTrainingStep:
    """``step(state, (x, y), key) -> (state, metrics)``: one PGD-AT update (hashable).

    Built by :func:`adversarial_training_step`; see there for the attributes. Steps built from
    equal arguments (the same ``apply_fn`` object, equal settings) compare equal, so
    :func:`xent_jax.train.fit` reuses their compiled chunks.
    """

    apply_fn: ApplyFn
    tx: optax.GradientTransformation
    eps: float
    steps: int
    step_size: float | None
    norm: str
    loss: str
    adversarial_weight: float
    bounds: tuple[float, float]
    attack_apply_fn: ApplyFn | None

    def __call__(self, state, batch, key):
        if not isinstance(state, dict) or not {"params", "opt_state"} <= set(state):
            raise ValueError("state must be a dict with 'params' and 'opt_state' entries")
        x, y = batch
        attack_apply = self.apply_fn if self.attack_apply_fn is None else self.attack_apply_fn
        frozen = jax.lax.stop_gradient(state["params"])
        model = functools.partial(attack_apply, frozen, jax.lax.stop_gradient(state))
        adv = pgd(
            model,
            x,
            y,
            eps=self.eps,
            steps=self.steps,
            step_size=self.step_size,
            norm=self.norm,
            loss=self.loss,
            bounds=self.bounds,
            key=key,
        )
        x_adv = jax.lax.stop_gradient(adv.x_adv)
        w = self.adversarial_weight

        def objective(params):
            both = self.apply_fn(params, state, jnp.concatenate([x, x_adv]))
            clean, attacked = jnp.split(both, 2)
            total = reduce_loss(softmax_cross_entropy_with_integer_labels(attacked, y))
            if w < 1.0:
                clean_loss = reduce_loss(softmax_cross_entropy_with_integer_labels(clean, y))
                total = (1.0 - w) * clean_loss + w * total
            return total, (clean, attacked)

        (value, (clean, attacked)), grads = jax.value_and_grad(objective, has_aux=True)(
            state["params"]
        )
        updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"])
        new_state = dict(
            state, params=optax.apply_updates(state["params"], updates), opt_state=opt_state
        )
        metrics = {
            "loss": value,
            "clean_accuracy": jnp.mean(jnp.argmax(clean, axis=-1) == y),
            "adv_accuracy": jnp.mean(jnp.argmax(attacked, axis=-1) == y),
        }
        return new_state, metrics


def _real(name: str, value: Any, *, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not (low <= float(value) <= high) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number in [{low}, {high}], got {value}")
    return float(value)


def adversarial_training_step(
    apply_fn: ApplyFn,
    tx: optax.GradientTransformation,
    *,
    eps: float,
    steps: int = 7,
    step_size: float | None = None,
    norm: str = "linf",
    loss: str = "ce",
    adversarial_weight: float = 1.0,
    bounds: tuple[float, float] = (0.0, 1.0),
    attack_apply_fn: ApplyFn | None = None,
) -> AdversarialTrainingStep:
    """Builds ``step(state, (x, y), key) -> (state, metrics)`` for PGD adversarial training.

    Each step attacks the batch with :func:`xent_jax.attacks.pgd` (random start, ``steps`` steps
    of size ``step_size``, default ``2.5 eps / steps``) against the current parameters, held
    fixed, then takes one optimiser step on the mean cross-entropy

    ``(1 - w) CE(f(x), y) + w CE(f(x_adv), y)``, ``w = adversarial_weight`` (1: Madry's PGD-AT).

    The state is a dict with at least ``"params"`` and ``"opt_state"`` (``tx.init(params)``);
    other entries (e.g. ``"rest"`` of :func:`xent_jax.recipes.init_classifier_state`) are passed
    to ``apply_fn`` and returned unchanged. The attack sees the parameters as traced arrays, so
    the step compiles once.

    Args:
      apply_fn: ``(params, state, x) -> logits [batch, classes]`` used for the update.
      tx: the optax optimiser whose state is ``state["opt_state"]``.
      eps: attack budget (``>= 0``).
      steps: PGD steps per training step.
      step_size: PGD step; default ``2.5 * eps / steps``.
      norm: ``"linf"`` or ``"l2"``.
      loss: the loss the attack ascends (``"ce"``, ``"margin"``, ``"dlr"``).
      adversarial_weight: weight ``w`` of the adversarial term in ``[0, 1]``.
      bounds: input box ``(low, high)``.
      attack_apply_fn: the evaluation-mode forward the attack uses (default ``apply_fn``), for
        models with dropout or batch norm.

    Returns:
      an :class:`AdversarialTrainingStep` with metrics ``loss``, ``clean_accuracy`` and
      ``adv_accuracy`` (on the batch, before the update).

    Raises:
      ValueError: for a bad ``norm``, ``loss``, ``eps``, ``steps``, ``step_size``,
        ``adversarial_weight`` or ``bounds`` (named).
      TypeError: for non-numeric settings or non-callable functions.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> apply = lambda params, state, x: x @ params["w"]
      >>> tx = optax.sgd(0.1)
      >>> params = {"w": jnp.zeros((2, 3))}
      >>> step = adversarial_training_step(apply, tx, eps=0.1, steps=2)
      >>> state = {"params": params, "opt_state": tx.init(params)}
      >>> batch = (jnp.array([[0.2, 0.9]]), jnp.array([1]))
      >>> state, m = jax.jit(step)(state, batch, jax.random.key(0))
      >>> sorted(m)
      ['adv_accuracy', 'clean_accuracy', 'loss']

    References:
      Madry et al., "Towards deep learning models resistant to adversarial attacks", ICLR 2018.
    """
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable, got {type(apply_fn).__name__}")
    if attack_apply_fn is not None and not callable(attack_apply_fn):
        raise TypeError(f"attack_apply_fn must be callable, got {type(attack_apply_fn).__name__}")
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    eps = _real("eps", eps)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be an int, got {type(steps).__name__} {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if step_size is not None:
        step_size = _real("step_size", step_size)
    w = _real("adversarial_weight", adversarial_weight, high=1.0)
    if not (isinstance(bounds, tuple | list) and len(bounds) == 2):
        raise TypeError(f"bounds must be a pair (low, high), got {bounds!r}")
    lo, hi = (_real(f"bounds[{i}]", b, low=-math.inf) for i, b in enumerate(bounds))
    if not lo < hi:
        raise ValueError(f"bounds must satisfy low < high, got {tuple(bounds)}")
    return AdversarialTrainingStep(
        apply_fn, tx, eps, int(steps), step_size, norm, loss, w, (lo, hi), attack_apply_fn
    )


@dataclasses.dataclass(frozen=True)
class _MergedApply:
    # (params, state, x) -> logits of an NNX classifier state; hashable by its graphdef.
    graphdef: nnx.GraphDef

    def __call__(self, params, state, x):
        return nnx.merge(self.graphdef, params, state["rest"])(x)


def adversarial_training(
    model: nnx.Module,
    images: Any,
    labels: Any,
    *,
    key: jax.Array | int,
    eps: float,
    attack_steps: int = 7,
    step_size: float | None = None,
    norm: str = "linf",
    adversarial_weight: float = 1.0,
    bounds: tuple[float, float] = (0.0, 1.0),
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    eval_data: tuple[Any, Any] | None = None,
    eval_every: int = 0,
) -> ClassifierTraining:
    """Assembles a PGD-AT run of an NNX classifier for ``fit``.

    :func:`xent_jax.recipes.classifier_training` (AdamW, minibatches from ``key``, the clean
    eval hook on ``eval_data``) with its step replaced by :func:`adversarial_training_step`
    (``steps=attack_steps``). Pass the same ``key`` to ``fit``: step ``s`` attacks with
    ``fold_in(key, s)``. For models without dropout or batch norm (the attack uses the same
    forward as the update).

    Args:
      model: an NNX classifier ``[N, ...] -> [N, classes]`` (its variables are copied).
      images: ``[N, ...]`` inputs in ``bounds``.
      labels: int ``[N]``.
      key: PRNG key (or int seed) of the run.
      eps, step_size, norm, adversarial_weight, bounds: as in
        :func:`adversarial_training_step`; ``attack_steps`` is its ``steps``.
      batch_size, learning_rate, weight_decay: the AdamW run.
      eval_data, eval_every: the clean-accuracy eval hook.

    Returns:
      a :class:`~xent_jax.recipes.ClassifierTraining` whose step is an
      :class:`AdversarialTrainingStep`.

    Examples:
      >>> import numpy as np
      >>> from xent_jax.models import MLP
      >>> from xent_jax.train import fit
      >>> x = np.random.default_rng(0).random((32, 4), np.float32); y = (x[:, 0] > 0.5) * 1
      >>> job = adversarial_training(MLP(4, (8,), 2, rngs=nnx.Rngs(0)), x, y, key=0,
      ...                            eps=0.05, attack_steps=2, batch_size=16)
      >>> res = fit(job.step, job.state, job.batch_fn, steps=4, key=0, progress=False)
      >>> sorted(res.train)
      ['adv_accuracy', 'clean_accuracy', 'loss']
    """
    job = classifier_training(
        model,
        images,
        labels,
        key=key,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        eval_data=eval_data,
        eval_every=eval_every,
    )
    step = adversarial_training_step(
        _MergedApply(job.graphdef),
        job.tx,
        eps=eps,
        steps=attack_steps,
        step_size=step_size,
        norm=norm,
        adversarial_weight=adversarial_weight,
        bounds=bounds,
    )
    return dataclasses.replace(job, step=step)
