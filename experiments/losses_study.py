"""The losses study: softmax regression on sklearn digits with xent_jax's cross-entropy.

Trains multinomial logistic regression with our loss through optax and the engine's ``fit`` loop,
then prints and returns the test accuracy, the largest error of the identity
H(p, q) = H(p) + KL(p || q) on the model's predictions, and the largest difference between
``jax.grad`` of our mean loss and the closed form X^T (softmax - onehot) / N. The configuration,
command, runtime and expected result are in ``configs/losses_study.py``.
"""

from __future__ import annotations

import importlib.util
import pathlib

NAME = "losses"
DESCRIPTION = "softmax regression on sklearn digits with our loss: accuracy, H=H+KL, exact gradient"
ORDER = 10


def _config(size: str) -> dict:
    path = pathlib.Path(__file__).with_name("configs") / "losses_study.py"
    spec = importlib.util.spec_from_file_location("xent_configs.losses_study", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(size)


def _plot(records: list[dict], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if r.get("split") == "train"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss")
    ax.plot([r["step"] for r in train], [1 - r["accuracy"] for r in train], label="train error")
    ax.set_xlabel("step")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from xent_jax.data import load_digits, train_test_split
    from xent_jax.losses import (
        cross_entropy,
        reduce_loss,
        softmax_cross_entropy_with_integer_labels,
    )
    from xent_jax.losses.diagnostics import (
        information_identity_error,
        softmax_regression_gradient,
    )
    from xent_jax.train import fit, read_metrics

    cfg = _config(size)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images, labels = load_digits()
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    y = np.asarray(labels, np.int32)
    if cfg["n_limit"]:
        x, y = x[: cfg["n_limit"]], y[: cfg["n_limit"]]
    n_train = int(round(len(x) * (1 - cfg["test_fraction"])))
    (x_tr, y_tr), (x_te, y_te) = train_test_split(x, y, n_train=n_train, seed=seed)
    num_classes = 10

    def loss_fn(params, xb, yb):
        logits = xb @ params["w"] + params["b"][None, :]
        return reduce_loss(softmax_cross_entropy_with_integer_labels(logits, yb)), logits

    tx = optax.adam(cfg["learning_rate"])
    params = {
        "w": jnp.zeros((x.shape[1], num_classes), jnp.float32),
        "b": jnp.zeros((num_classes,), jnp.float32),
    }
    state = {"params": params, "opt_state": tx.init(params)}

    def train_step(state, batch, key):
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"], *batch)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        accuracy = jnp.mean(jnp.argmax(logits, -1) == batch[1])
        return {"params": params, "opt_state": opt_state}, {"loss": loss, "accuracy": accuracy}

    result = fit(
        train_step,
        state,
        lambda step: (x_tr, y_tr),
        num_steps=cfg["steps"],
        key=seed,
        ckpt_dir=out_dir / "checkpoints",
        ckpt_every=cfg["ckpt_every"],
        log_every=cfg["log_every"],
        metrics_path=out_dir / "metrics.jsonl",
        desc="losses",
    )
    params = result.state["params"]

    @jax.jit
    def evaluate(params, x, y):
        test_loss, logits = loss_fn(params, x, y)
        q = jax.nn.softmax(logits, axis=-1)
        eps = cfg["label_smoothing"]
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
    metrics = {
        "size": size,
        "n_train": len(x_tr),
        "n_test": len(x_te),
        "steps": cfg["steps"],
        "train_loss": float(result.train.get("loss", np.nan)),
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "identity_max_abs_error": identity_error,
        "identity_max_rel_error": identity_error / max(1.0, largest_ce),
        "identity_largest_cross_entropy": largest_ce,
        "gradient_max_abs_error": gradient_error,
        "gradient_max_abs": grad_scale,
    }
    _plot(read_metrics(out_dir / "metrics.jsonl"), out_dir / "training_curve.png")
    print(
        f"losses study: test accuracy {metrics['test_accuracy']:.4f} "
        f"({metrics['n_test']} test digits), "
        f"max |H(p,q) - H(p) - KL(p||q)| = {identity_error:.2e}, "
        f"max |grad - X^T(softmax - onehot)/N| = {gradient_error:.2e}"
    )
    return metrics


def headline(metrics: dict) -> str:
    return (
        f"test acc {100 * metrics['test_accuracy']:.1f}%, "
        f"|H(p,q)-H(p)-KL| <= {metrics['identity_max_rel_error']:.0e} rel., "
        f"|grad - X^T(softmax-onehot)/N| <= {metrics['gradient_max_abs_error']:.0e}"
    )
