"""Rotation prediction as a pretext task: do its frozen features help when labels are few?

Protocol (one seed): a seeded split into training and test images, and a labelled validation
split carved from the training part. The CNN is pretrained on 4-way rotation prediction of the
unlabelled training images (``xent_jax.recipes.rotation_training``, run by ``fit``: resumable
and exact after a kill). Then for each budget of labels per class (``draws`` label draws from
the training images, shared by all three methods) and for all labels: (a) a linear probe on the
frozen rotation-pretrained features, (b) the same probe on frozen random-init features of the
same network, (c) the network trained from scratch on the same labelled subset, beside the
majority class. The probe's ``l2`` and the scratch network's steps are chosen on validation
accuracy; the test split is read once, with the chosen setting. Features are standardised with
the statistics of all unlabelled training images. Caveat, as in the few-shot literature: the
labelled validation split is larger than the smallest budgets. Config, command and expected
cost: ``configs/rotation_pretext.py``.
"""

from __future__ import annotations

NAME = "rotation"
DESCRIPTION = "RotNet pretext on MNIST: rotation features vs random features vs scratch, few labels"
ORDER = 20
CONFIG = "rotation_pretext"

METHODS = {
    "rotation_probe": "(a) linear probe, rotation features",
    "random_probe": "(b) linear probe, random-init features",
    "scratch": "(c) supervised from scratch",
}


def _data(cfg, seed):
    from xent_jax.data import load_digits, load_mnist5k, load_mnist10k, train_val_test_split

    loaders = {"mnist10k": load_mnist10k, "mnist5k": load_mnist5k, "digits": load_digits}
    x, y = loaders[cfg.dataset]()
    return train_val_test_split(x, y, n_train=cfg.n_train, val_fraction=cfg.val_fraction,
                                seed=seed, n_limit=cfg.n_limit)  # fmt: skip


def run(run):
    import jax
    import numpy as np
    from flax import nnx

    from xent_jax.eval import fewshot_indices, fewshot_probe, linear_probe, standardize
    from xent_jax.models import CNN
    from xent_jax.recipes import (
        choose_steps,
        classifier_training,
        extract_features,
        rotation_accuracy,
        rotation_training,
    )
    from xent_jax.train import read_metrics

    cfg = run.config
    (x_fit, y_fit), (x_val, y_val), (x_te, y_te) = _data(cfg, run.seed)
    num_classes = int(y_fit.max()) + 1
    arch = dict(widths=cfg.widths, pool_size=cfg.pool_size, head_hidden=cfg.head_hidden)

    # Rotation pretraining on the unlabelled training images; the validation images' rotation
    # accuracy is logged along the way.
    key = jax.random.fold_in(run.key, 0)
    job = rotation_training(CNN(4, **arch, rngs=nnx.Rngs(run.seed)), x_fit, key=key,
                            batch_size=cfg.pretrain_batch, learning_rate=cfg.learning_rate,
                            eval_images=x_val, eval_every=cfg.checkpoint_every)  # fmt: skip
    pre = run.fit(job.step, job.state, job.batch_fn, name="pretrain", key=key,
                  steps=cfg.pretrain_steps, checkpoint_every=cfg.checkpoint_every,
                  **job.fit_options)  # fmt: skip
    rot_model = job.model(pre.state)
    rand_model = job.model(job.state)  # the same initialisation, left untrained
    rot_test = rotation_accuracy(rot_model, x_te)

    def features():  # standardised with all unlabelled training images' statistics
        out = {}
        for name, model in (("rotation_probe", rot_model), ("random_probe", rand_model)):
            f = [extract_features(model, x, block=cfg.probe_block) for x in (x_fit, x_val, x_te)]
            for split, z in zip(("fit", "val", "test"), standardize(*f), strict=True):
                out[f"{name}/{split}"] = z
        return out

    feats = run.cached_arrays("features", features)

    def probe(name, per_class, draws_key):  # l2 chosen on validation, test read once
        f = {s: feats[f"{name}/{s}"] for s in ("fit", "val", "test")}
        kw = dict(num_classes=num_classes, steps=cfg.probe_steps, standardize_features=False)

        def accuracies(l2, x, y):  # one per label draw
            if per_class is None:
                return [linear_probe(f["fit"], y_fit, x, y, l2=l2, **kw)["accuracy"]]
            return fewshot_probe(f["fit"], y_fit, x, y, per_class=per_class, key=draws_key,
                                 draws=cfg.draws, l2=l2, **kw).accuracies.tolist()  # fmt: skip

        val = {l2: float(np.mean(accuracies(l2, f["val"], y_val))) for l2 in cfg.probe_l2_grid}
        l2 = max(val, key=lambda v: (val[v], v))  # ties: the larger penalty
        test = accuracies(l2, f["test"], y_te)
        return {"accuracy": float(np.mean(test)), "draws": test, "l2": l2,
                "val_accuracy": val[l2]}  # fmt: skip

    def scratch(per_class, idx, label):  # steps chosen on validation per draw, test read once
        grid = cfg.scratch_steps_grid if per_class else cfg.scratch_steps_grid_all
        test, chosen, val = [], [], []
        for d, rows in enumerate(idx):
            k = jax.random.fold_in(run.key, 1000 + d)
            net = CNN(num_classes, **arch, rngs=nnx.Rngs(1000 * (run.seed + 1) + d))
            job = classifier_training(net, x_fit[rows], y_fit[rows], key=k,
                                      batch_size=cfg.scratch_batch,
                                      learning_rate=cfg.learning_rate)  # fmt: skip
            steps, state, scores = choose_steps(
                lambda s, job=job, k=k, d=d: run.fit(
                    job.step, job.state, job.batch_fn, name=f"scratch_{label}_d{d}", key=k,
                    steps=s, max_to_keep=len(grid), progress=False,
                ),
                grid,
                lambda state, job=job: job.evaluate(state, x_val, y_val)["accuracy"],
            )  # fmt: skip
            test.append(job.evaluate(state, x_te, y_te)["accuracy"])
            chosen.append(steps)
            val.append(scores[steps])
        return {"accuracy": float(np.mean(test)), "draws": test, "steps": chosen,
                "val_accuracy": float(np.mean(val))}  # fmt: skip

    budgets = {}
    settings = [(str(n), int(n)) for n in cfg.labels_per_class]
    if cfg.include_all:
        settings.append(("all", None))
    for label, per_class in settings:

        def evaluate(label=label, per_class=per_class):
            draws_key = jax.random.fold_in(run.key, 100 + (per_class or 0))
            if per_class is None:
                idx = [np.arange(len(y_fit))]
            else:
                idx = fewshot_indices(y_fit, per_class, key=draws_key, draws=cfg.draws)
            return {
                "labels_per_class": per_class or len(y_fit) // num_classes,
                "rotation_probe": probe("rotation_probe", per_class, draws_key),
                "random_probe": probe("random_probe", per_class, draws_key),
                "scratch": scratch(per_class, idx, label),
            }

        budgets[label] = run.cached(f"budget_{label}", evaluate)

    run.save_figure(_pretraining_curve(read_metrics(run.workdir("pretrain"))), "pretraining")
    majority = int(np.bincount(y_fit).argmax())
    return {
        "dataset": cfg.dataset,
        "n_fit": len(y_fit),
        "n_val": len(y_val),
        "n_test": len(y_te),
        "majority_accuracy": float(np.mean(y_te == majority)),
        "rotation_accuracy": rot_test["accuracy"],
        "rotation_accuracy_per_angle": rot_test["per_rotation"],
        "rotation_val_accuracy": pre.eval["accuracy"],
        "pretrain_loss": pre.train["loss"],
        "budgets": budgets,
    }


def _pretraining_curve(log):
    from xent_jax.experiment import figure

    fig, axes = figure(figsize=(5, 3.2))
    ax = axes[0, 0]
    train = [r for r in log if r["split"] == "train"]
    val = [r for r in log if r["split"] == "eval"]
    ax.plot([r["step"] for r in train], [r["accuracy"] for r in train], label="train (batch)")
    ax.plot([r["step"] for r in val], [r["accuracy"] for r in val], "o-", label="validation")
    ax.axhline(0.25, color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("pretraining step")
    ax.set_ylabel("4-way rotation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def summarize(summary):
    from xent_jax.experiment import figure

    budgets = list(summary.first["budgets"])
    xs = [summary.first["budgets"][b]["labels_per_class"] for b in budgets]
    fig, axes = figure(figsize=(5.5, 3.6))
    ax = axes[0, 0]
    for method, label in METHODS.items():
        ivs = [summary.interval(f"budgets/{b}/{method}/accuracy") for b in budgets]
        mean = [100 * iv.mean for iv in ivs]
        err = [[100 * (iv.mean - iv.low) for iv in ivs], [100 * (iv.high - iv.mean) for iv in ivs]]
        ax.errorbar(xs, mean, yerr=err, marker="o", capsize=3, label=label)
    ax.axhline(100 * summary.mean("majority_accuracy"), color="grey", ls=":", label="majority")
    ax.set_xscale("log")
    ax.set_xticks(xs, budgets)
    ax.set_xlabel("labels per class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{len(summary.seeds)} seed(s); bars: 95% interval over seeds", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    summary.save_figure(fig, "accuracy_vs_labels")
    summary.lines += [
        f"Held-out rotation accuracy {summary.fmt('rotation_accuracy', scale=100)}% (chance 25%). "
        f"Test accuracy (%), mean [95% interval] over seeds; majority class "
        f"{summary.fmt('majority_accuracy', scale=100)}%.",
        "",
        "| labels per class | " + " | ".join(METHODS.values()) + " |",
        "|---|---|---|---|",
    ]
    for b in budgets:
        cells = [summary.fmt(f"budgets/{b}/{m}/accuracy", scale=100) for m in METHODS]
        summary.lines.append(f"| {b} | " + " | ".join(cells) + " |")


def headline(summary) -> str:
    budgets = summary.first["budgets"]
    b = "10" if "10" in budgets else next(iter(budgets))
    a, r, s = (summary.fmt(f"budgets/{b}/{m}/accuracy", scale=100) for m in METHODS)
    return (
        f"rotation acc {summary.fmt('rotation_accuracy', scale=100)}%; {b} labels/class: "
        f"rotation probe {a}% vs random-init {r}% vs scratch {s}% "
        f"(majority {summary.fmt('majority_accuracy', scale=100)}%)"
    )
