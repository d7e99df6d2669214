"""PGD adversarial training (Madry et al. 2018) as a ``train_step`` for ``xent_jax.train.fit``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from xent_jax.attacks import _common as C
from xent_jax.attacks._pgd import pgd
from xent_jax.losses import reduce_loss, softmax_cross_entropy_with_integer_labels

__all__ = ["adversarial_training_step"]

ApplyFn = Callable[[Any, dict[str, Any], jax.Array], jax.Array]


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
) -> Callable[[dict[str, Any], tuple[jax.Array, jax.Array], jax.Array], tuple[dict, dict]]:
    """Builds ``train_step(state, (x, y), key) -> (state, metrics)`` for PGD adversarial training.

    Each step attacks the batch with :func:`xent_jax.attacks.pgd` (random start, ``steps`` steps
    of size ``step_size``, default ``2.5 eps / steps``) against the current parameters, held
    fixed, then takes one optimiser step on the mean cross-entropy

    ``(1 - w) CE(f(x), y) + w CE(f(x_adv), y)``, ``w = adversarial_weight`` (1: Madry's PGD-AT).

    The state is a dict with at least ``"params"`` and ``"opt_state"`` (``tx.init(params)``);
    other entries (e.g. ``"rest"`` of :func:`xent_jax.train.init_classifier_state`) are passed to
    ``apply_fn`` and returned unchanged. The attack sees the parameters as traced arrays, so the
    step compiles once.

    Args:
      apply_fn: ``(params, state, x) -> logits [batch, classes]`` used for the update.
      tx: the optax optimiser whose state is ``state["opt_state"]``.
      eps: attack budget (``>= 0``).
      steps: PGD steps per training step.
      step_size: PGD step; default ``2.5 * eps / steps``.
      norm: ``"linf"`` or ``"l2"``.
      loss: the loss the attack ascends (``"ce"``, ``"margin"``, ``"dlr"``).
      adversarial_weight: weight ``w`` of the adversarial term in ``[0, 1]``.
      bounds: input box.
      attack_apply_fn: the evaluation-mode forward the attack uses (default ``apply_fn``), for
        models with dropout or batch norm.

    Returns:
      ``train_step`` with metrics ``loss``, ``clean_accuracy`` and ``adv_accuracy`` (on the batch,
      before the update).

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
    C.check_common(norm, loss, eps)
    steps = C.check_count("steps", steps)
    if not 0.0 <= float(adversarial_weight) <= 1.0:
        raise ValueError(f"adversarial_weight must be in [0, 1], got {adversarial_weight}")
    attack_apply = apply_fn if attack_apply_fn is None else attack_apply_fn
    w = float(adversarial_weight)

    def train_step(state, batch, key):
        if not isinstance(state, dict) or not {"params", "opt_state"} <= set(state):
            raise ValueError("state must be a dict with 'params' and 'opt_state' entries")
        x, y = batch
        frozen = jax.lax.stop_gradient(state["params"])
        model = functools.partial(attack_apply, frozen, jax.lax.stop_gradient(state))
        adv = pgd(
            model,
            x,
            y,
            eps=eps,
            steps=steps,
            step_size=step_size,
            norm=norm,
            loss=loss,
            bounds=bounds,
            key=key,
        )
        x_adv = jax.lax.stop_gradient(adv.x_adv)

        def objective(params):
            both = apply_fn(params, state, jnp.concatenate([x, x_adv]))
            clean, attacked = jnp.split(both, 2)
            adv_loss = reduce_loss(softmax_cross_entropy_with_integer_labels(attacked, y))
            total = adv_loss
            if w < 1.0:
                clean_loss = reduce_loss(softmax_cross_entropy_with_integer_labels(clean, y))
                total = (1.0 - w) * clean_loss + w * adv_loss
            return total, (clean, attacked)

        (value, (clean, attacked)), grads = jax.value_and_grad(objective, has_aux=True)(
            state["params"]
        )
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        new_state = dict(
            state, params=optax.apply_updates(state["params"], updates), opt_state=opt_state
        )
        metrics = {
            "loss": value,
            "clean_accuracy": jnp.mean(jnp.argmax(clean, axis=-1) == y),
            "adv_accuracy": jnp.mean(jnp.argmax(attacked, axis=-1) == y),
        }
        return new_state, metrics

    return train_step
