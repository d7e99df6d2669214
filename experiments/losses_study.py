"""The losses study: softmax regression on sklearn digits with xent_jax's cross-entropy.

Protocol: a seeded split of the 1,797 digits into train / validation / test; multinomial logistic
regression trained with our loss by the engine's ``fit`` (full-batch Adam); the number of steps
chosen on validation loss among ``steps_grid`` (each longer run resumes the previous one); the test
split read once with the chosen model. On the test predictions: accuracy, the identity
H(p, q) = H(p) + KL(p || q), and ``jax.grad`` of our mean loss against the closed form
X^T (softmax - onehot) / N. Baseline: the majority class of the training split. Config, command
and expected result: ``configs/losses_study.py``.
"""

from __future__ import annotations

NAME = "losses"
DESCRIPTION = "softmax regression on sklearn digits with our loss: accuracy, H=H+KL, exact gradient"
ORDER = 10
CONFIG = "losses_study"


def run(run):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from xent_jax.data import load_digits, train_test_split
    from xent_jax.losses import (
        cross_entropy,
        information_identity_error,
        reduce_loss,
        softmax_cross_entropy_with_integer_labels,
        softmax_regression_gradient,
    )
    from xent_jax.train import read_metrics

    cfg = run.config
    images, labels = load_digits()
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    y = np.asarray(labels, np.int32)
    if cfg.n_limit:
        x, y = x[: cfg.n_limit], y[: cfg.n_limit]
    n_train = int(round(len(x) * (1 - cfg.test_fraction)))
    (x_tr, y_tr), (x_te, y_te) = train_test_split(x, y, n_train=n_train, seed=run.seed)
    n_fit = int(round(len(x_tr) * (1 - cfg.val_fraction)))
    (x_fit, y_fit), (x_val, y_val) = train_test_split(x_tr, y_tr, n_train=n_fit, seed=run.seed)
    num_classes = 10

    def loss_fn(params, xb, yb):
        logits = xb @ params["w"] + params["b"][None, :]
        return reduce_loss(softmax_cross_entropy_with_integer_labels(logits, yb)), logits

    tx = optax.adam(cfg.learning_rate)
    params = {
        "w": jnp.zeros((x.shape[1], num_classes), jnp.float32),
        "b": jnp.zeros((num_classes,), jnp.float32),
    }
    state = {"params": params, "opt_state": tx.init(params)}

    def step_fn(state, batch, key):
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"], *batch)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        accuracy = jnp.mean(jnp.argmax(logits, -1) == batch[1])
        return {"params": params, "opt_state": opt_state}, {"loss": loss, "accuracy": accuracy}

    full_batch = (x_fit, y_fit)
    val_loss = jax.jit(lambda p: loss_fn(p, jnp.asarray(x_val), jnp.asarray(y_val))[0])
    candidates = {}
    for steps in sorted(cfg.steps_grid):  # each run resumes the previous one's checkpoint
        res = run.fit(step_fn, state, lambda s: full_batch, name="train", steps=steps,
                      log_every=cfg.log_every, max_to_keep=len(cfg.steps_grid))  # fmt: skip
        candidates[steps] = (float(val_loss(res.state["params"])), res.state["params"])
    chosen = min(candidates, key=lambda s: (candidates[s][0], s))
    params = candidates[chosen][1]

    @jax.jit
    def evaluate(params, x, y):  # the test split, read once
        test_loss, logits = loss_fn(params, x, y)
        q = jax.nn.softmax(logits, axis=-1)
        eps = cfg.label_smoothing
        smoothed = (1 - eps) * jax.nn.one_hot(y, num_classes) + eps / num_classes
        pairs = [(smoothed, q), (jnp.roll(q, 1, axis=0), q)]
        identity = jnp.max(jnp.stack([information_identity_error(a, b) for a, b in pairs]))
        largest_ce = jnp.max(jnp.stack([jnp.max(cross_entropy(a, b)) for a, b in pairs]))
        autodiff = jax.grad(lambda p: loss_fn(p, x, y)[0])(params)
        closed_w, closed_b = softmax_regression_gradient(params["w"], params["b"], x, y)
        gradient = jnp.maximum(
            jnp.max(jnp.abs(autodiff["w"] - closed_w)), jnp.max(jnp.abs(autodiff["b"] - closed_b))
        )
        accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
        return test_loss, accuracy, identity, largest_ce, gradient, jnp.max(jnp.abs(closed_w))

    values = evaluate(params, jnp.asarray(x_te), jnp.asarray(y_te))
    test_loss, accuracy, identity_error, largest_ce, gradient_error, grad_scale = map(float, values)
    majority = int(np.bincount(y_tr).argmax())
    train_log = read_metrics(run.workdir("train"), split="train")
    fig, axes = _curve(train_log, candidates, chosen)
    run.save_figure(fig, "training_curve")
    return {
        "n_train": len(x_fit),
        "n_val": len(x_val),
        "n_test": len(x_te),
        "chosen_steps": chosen,
        "val_loss": candidates[chosen][0],
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "majority_baseline_accuracy": float(np.mean(y_te == majority)),
        "identity_max_abs_error": identity_error,
        "identity_max_rel_error": identity_error / max(1.0, largest_ce),
        "identity_largest_cross_entropy": largest_ce,
        "gradient_max_abs_error": gradient_error,
        "gradient_max_abs": grad_scale,
    }


def _curve(train_log, candidates, chosen):
    from xent_jax.experiment import figure

    fig, axes = figure(figsize=(5, 3.2))
    ax = axes[0, 0]
    ax.plot([r["step"] for r in train_log], [r["loss"] for r in train_log], label="train loss")
    steps = sorted(candidates)
    ax.plot(steps, [candidates[s][0] for s in steps], "o-", label="validation loss")
    ax.axvline(chosen, color="grey", ls="--", lw=1, label=f"chosen: {chosen} steps")
    ax.set_xlabel("step")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig, axes


def headline(summary) -> str:
    return (
        f"test acc {summary.fmt('test_accuracy', scale=100)}% "
        f"(majority {summary.fmt('majority_baseline_accuracy', scale=100)}%), "
        f"|H(p,q)-H(p)-KL| <= {max(summary.values('identity_max_rel_error')):.0e} rel., "
        f"|grad - X^T(softmax-onehot)/N| <= {max(summary.values('gradient_max_abs_error')):.0e}"
    )
