"""Adversarial robustness of standard and PGD-trained MLP and CNN classifiers.

Protocol (one seed): a seeded split into training and test images, and a validation split carved
from the training part. Each model is trained by ``fit`` with plain cross-entropy
(``xent_jax.recipes.classifier_training``) or PGD adversarial training
(``xent_jax.recipes.adversarial_training``); the number of steps is chosen on validation (clean
accuracy for standard training, PGD robust accuracy at the training budget for PGD-AT: early
stopping against robust overfitting). The test split is read once, by the chosen model: clean
accuracy and robust accuracy versus budget for FGSM, PGD-10, PGD-100 with restarts, APGD-CE and
APGD-DLR under L-inf and L2 (``xent_jax.attacks.robustness_curves``: every attack point checked
against its ball and box), with the per-example worst case over attacks. Baseline: the majority
class (a constant predictor, robust at every budget). Config, command and expected cost:
``configs/adversarial.py``.
"""

from __future__ import annotations

NAME = "adversarial"
DESCRIPTION = "FGSM/PGD/APGD robust accuracy vs eps of standard and PGD-trained MLP and CNN"
ORDER = 60
CONFIG = "adversarial"

TRAININGS = ("standard", "pgd_at")


def _data(cfg, seed):
    from xent_jax.data import load_digits, load_mnist10k, train_val_test_split

    x, y = load_mnist10k() if cfg.dataset == "mnist10k" else load_digits()
    return train_val_test_split(x, y, n_train=cfg.n_train, val_fraction=cfg.val_fraction,
                                seed=seed, n_limit=cfg.n_limit)  # fmt: skip


def _model(arch, cfg, side, seed):
    from flax import nnx

    from xent_jax.models import CNN, MLP

    if arch == "mlp":
        return MLP(side * side, tuple(cfg.mlp_hidden), 10, flatten=True, rngs=nnx.Rngs(seed))
    return CNN(10, widths=tuple(cfg.cnn_widths), rngs=nnx.Rngs(seed))


def _train_and_attack(run, arch, training, index, data):
    import jax

    from xent_jax.attacks import attack_suite, robustness_curves
    from xent_jax.recipes import adversarial_training, choose_steps, classifier_training

    cfg = run.config
    (x_fit, y_fit), (x_val, y_val), (x_te, y_te) = data
    key = jax.random.fold_in(run.key, index)  # standard and PGD-AT: same data order and init
    net = _model(arch, cfg, x_fit.shape[1], run.seed)
    kw = dict(key=key, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate)
    if training == "standard":
        job = classifier_training(net, x_fit, y_fit, **kw)

        def score(state):
            return job.evaluate(state, x_val, y_val)["accuracy"]
    else:
        job = adversarial_training(net, x_fit, y_fit, eps=cfg.at_eps, attack_steps=cfg.at_steps,
                                   **kw)  # fmt: skip
        pgd = attack_suite("linf", key=jax.random.fold_in(key, 1), pgd_steps=cfg.pgd_steps,
                           kinds=("pgd",))  # fmt: skip
        xv, yv = x_val[: cfg.n_val_attack], y_val[: cfg.n_val_attack]

        def score(state):
            curves = robustness_curves(job.logits_fn(state), xv, yv, pgd, epsilons=[cfg.at_eps],
                                       batch_size=cfg.attack_batch)  # fmt: skip
            return curves["worst case"][0]

    name = f"{arch}_{training}"
    steps, state, scores = choose_steps(
        lambda s: run.fit(job.step, job.state, job.batch_fn, name=name, key=key, steps=s,
                          max_to_keep=len(cfg.steps_grid)),
        cfg.steps_grid,
        score,
    )  # fmt: skip
    model = job.logits_fn(state)  # the test split, read once by the chosen model
    x_att, y_att = x_te[: cfg.n_attack], y_te[: cfg.n_attack]
    out = {
        "steps": steps,
        "val_score": scores[steps],
        "val_scores": [scores[s] for s in sorted(scores)],
        "clean_accuracy": job.evaluate(state, x_te, y_te)["accuracy"],
        "curves": {},
    }
    for j, norm in enumerate(cfg.norms):
        suite = attack_suite(
            norm, key=jax.random.fold_in(run.key, 100 + j), pgd_steps=cfg.pgd_steps,
            strong_steps=cfg.strong_steps, restarts=cfg.restarts, apgd_steps=cfg.apgd_steps,
            kinds=cfg.attacks,
        )  # fmt: skip
        eps = cfg[f"{norm}_eps"]
        curves = robustness_curves(model, x_att, y_att, suite, epsilons=eps,
                                   batch_size=cfg.attack_batch, progress=run.progress)  # fmt: skip
        out["curves"][norm] = curves
        out[f"worst_{norm}"] = {f"{e:g}": a for e, a in zip(eps, curves["worst case"], strict=True)}
        out[f"ordering_{norm}"] = ordering_holds(curves)
    return out


def ordering_holds(curves: dict, tolerance: float = 0.0) -> bool:
    """Robust accuracy is ordered weakest attack first at every budget.

    The attacks come in suite order (FGSM, PGD, PGD with restarts, APGD-CE, APGD-DLR); the two
    APGD variants count as one attack, the lower of the two.
    """
    names = [k for k in curves if k != "worst case"]
    chain = [curves[k] for k in names if not k.startswith("APGD")]
    apgd = [curves[k] for k in names if k.startswith("APGD")]
    if apgd:
        chain.append([min(v) for v in zip(*apgd, strict=True)])
    return all(
        hi[i] + tolerance >= lo[i]
        for hi, lo in zip(chain[:-1], chain[1:], strict=True)
        for i in range(len(chain[0]))
    )


def run(run):
    import numpy as np

    cfg = run.config
    data = _data(cfg, run.seed)
    models = {}
    for i, arch in enumerate(cfg.archs):
        for training in TRAININGS:
            name = f"{arch}_{training}"
            models[name] = run.cached(
                name, lambda arch=arch, training=training, i=i: _train_and_attack(
                    run, arch, training, i, data)
            )  # fmt: skip
    (_, y_fit), (_, y_val), (_, y_te) = data
    majority = int(np.bincount(y_fit).argmax())
    return {
        "dataset": cfg.dataset,
        "n_fit": len(y_fit),
        "n_val": len(y_val),
        "n_test": len(y_te),
        "n_attack": min(cfg.n_attack, len(y_te)),
        "majority_accuracy": float(np.mean(y_te[: cfg.n_attack] == majority)),
        "models": models,
    }


def _headline_eps(cfg) -> float:
    eps = list(cfg.linf_eps)
    return 0.3 if 0.3 in eps else eps[-1]


def summarize(summary):
    import numpy as np

    from xent_jax.experiment import figure

    cfg, names = summary.config, list(summary.first["models"])
    norms = list(cfg.norms)
    fig, axes = figure(len(norms), len(names), figsize=(3.2 * len(names), 2.8 * len(norms)))
    for col, name in enumerate(names):
        for row, norm in enumerate(norms):
            ax, eps = axes[row, col], list(cfg[f"{norm}_eps"])
            for attack in summary.first["models"][name]["curves"][norm]:
                runs = [m["models"][name]["curves"][norm][attack] for m in summary.per_seed]
                style = "k--" if attack == "worst case" else "-o"
                ax.plot(eps, 100 * np.mean(runs, axis=0), style, label=attack, ms=3)
            ivs = [summary.interval(f"models/{name}/worst_{norm}/{e:g}") for e in eps]
            ax.fill_between(eps, [100 * iv.low for iv in ivs], [100 * iv.high for iv in ivs],
                            color="k", alpha=0.1, lw=0)  # fmt: skip
            ax.axhline(100 * summary.mean("majority_accuracy"), color="grey", ls=":", lw=1)
            ax.set_title(f"{name} ({'L-inf' if norm == 'linf' else 'L2'})", fontsize=9)
            ax.set_xlabel("eps")
            ax.set_ylim(-2, 102)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel("robust accuracy (%)")
    axes[0, 0].legend(fontsize=7)
    summary.save_figure(fig, "robustness")
    for norm in norms:
        eps = list(cfg[f"{norm}_eps"])
        summary.lines += [
            f"{'L-inf' if norm == 'linf' else 'L2'} robust accuracy (%), worst case over attacks, "
            f"mean [95% interval] over seeds; majority class "
            f"{summary.fmt('majority_accuracy', scale=100)}% at every budget.",
            "",
            "| model | steps | clean | " + " | ".join(f"eps {e:g}" for e in eps) + " |",
            "|---|---|---|" + "---|" * len(eps),
        ]
        for name in names:
            cells = [summary.fmt(f"models/{name}/worst_{norm}/{e:g}", scale=100) for e in eps]
            steps = "/".join(str(int(v)) for v in summary.values(f"models/{name}/steps"))
            clean = summary.fmt(f"models/{name}/clean_accuracy", scale=100)
            summary.lines.append(f"| {name} | {steps} | {clean} | " + " | ".join(cells) + " |")
        summary.lines.append("")


def headline(summary) -> str:
    e = _headline_eps(summary.config)
    parts = []
    for arch in summary.config.archs:
        std, at = (summary.fmt(f"models/{arch}_{t}/worst_linf/{e:g}", scale=100) for t in TRAININGS)
        parts.append(f"{arch.upper()} {std}% -> PGD-AT {at}%")
    return (
        f"{summary.config.dataset}: robust accuracy at L-inf eps {e:g}, worst over attacks: "
        + ", ".join(parts)
        + f" (majority {summary.fmt('majority_accuracy', scale=100)}%)"
    )
