"""Adversarial robustness of standard and PGD-trained MLP and CNN classifiers.

Trains each model with the engine's ``fit`` (plain cross-entropy, or the PGD adversarial-training
step of :func:`xent_jax.attacks.adversarial_training_step`), then measures robust accuracy versus
budget for FGSM, PGD-10, PGD-100 with restarts, APGD-CE and APGD-DLR under L-inf and L2 with
:func:`xent_jax.attacks.robustness_curves`. Writes ``robustness.png`` and ``table.md``; training
checkpoints and per-model results are kept in ``out_dir`` so that re-running resumes. The
configuration, command, runtime and expected result are in ``configs/adversarial.py``.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

NAME = "adversarial"
DESCRIPTION = "FGSM/PGD/APGD robust accuracy vs eps of standard and PGD-trained MLP and CNN"
ORDER = 60


def _config(size: str) -> dict:
    path = pathlib.Path(__file__).with_name("configs") / "adversarial.py"
    spec = importlib.util.spec_from_file_location("xent_configs.adversarial", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(size)


def _data(cfg: dict, seed: int):
    import numpy as np

    from xent_jax.data import load_digits, load_mnist10k, train_test_split

    images, labels = load_mnist10k() if cfg["dataset"] == "mnist10k" else load_digits()
    if cfg["n_limit"]:
        perm = np.random.default_rng(seed).permutation(len(labels))[: cfg["n_limit"]]
        images, labels = images[perm], labels[perm]
    return train_test_split(images, labels, n_train=cfg["n_train"], seed=seed)


def _build(arch: str, cfg: dict, side: int, seed: int):
    from flax import nnx

    from xent_jax.models import CNN, MLP

    rngs = nnx.Rngs(seed)
    if arch == "mlp":
        return MLP(side * side, tuple(cfg["mlp_hidden"]), 10, flatten=True, rngs=rngs)
    return CNN(10, widths=tuple(cfg["cnn_widths"]), rngs=rngs)


def _train(model, training: str, train, cfg: dict, ckpt_dir: pathlib.Path, seed: int):
    """Trains with mean cross-entropy or PGD-AT through ``fit``; returns the model in eval mode."""
    import optax
    from flax import nnx

    from xent_jax.attacks import adversarial_training_step
    from xent_jax.train import (
        classification_step,
        fit,
        init_classifier_state,
        make_batch_fn,
        merge_model,
    )

    tx = optax.adam(cfg["learning_rate"])
    graphdef, state = init_classifier_state(model, tx)
    if training == "standard":
        step = classification_step(graphdef, tx)
    else:

        def apply(params, state, x):
            return nnx.merge(graphdef, params, state["rest"])(x)

        step = adversarial_training_step(apply, tx, eps=cfg["at_eps"], steps=cfg["at_steps"])
    result = fit(
        step,
        state,
        make_batch_fn(train, batch_size=cfg["batch_size"], seed=seed),
        num_steps=cfg["train_steps"],
        key=seed,
        ckpt_dir=ckpt_dir,
        ckpt_every=cfg["ckpt_every"],
        metrics_path=ckpt_dir.parent / f"{ckpt_dir.name}.jsonl",
        desc=ckpt_dir.name,
    )
    model = merge_model(graphdef, result.state)
    model.eval()
    return model


def _plot(results: dict, cfg: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    norms = cfg["norms"]
    fig, axes = plt.subplots(
        len(norms), len(names), figsize=(3.2 * len(names), 2.8 * len(norms)), squeeze=False
    )
    for col, name in enumerate(names):
        for row, norm in enumerate(norms):
            ax = axes[row][col]
            eps = cfg[f"{norm}_eps"]
            for attack, acc in results[name][norm].items():
                style = "k--" if attack == "worst case" else "-o"
                ax.plot(eps, [100 * a for a in acc], style, label=attack, ms=3)
            ax.set_title(f"{name} ({'L-inf' if norm == 'linf' else 'L2'})", fontsize=9)
            ax.set_xlabel("eps")
            ax.set_ylim(-2, 102)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel("robust accuracy (%)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(results: dict, cfg: dict) -> str:
    lines = []
    for norm in cfg["norms"]:
        eps = cfg[f"{norm}_eps"]
        lines.append(f"\n{'L-inf' if norm == 'linf' else 'L2'} robust accuracy (%)\n")
        lines.append("| model | attack | " + " | ".join(f"eps {e:g}" for e in eps) + " |")
        lines.append("|---|---|" + "---|" * len(eps))
        for name, res in results.items():
            lines.append(
                f"| {name} | clean | {100 * res['clean_accuracy']:.1f} |" + " |" * (len(eps) - 1)
            )
            for attack, acc in res[norm].items():
                cells = " | ".join(f"{100 * a:.1f}" for a in acc)
                lines.append(f"| {name} | {attack} | {cells} |")
    return "\n".join(lines) + "\n"


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


def run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict:
    import jax
    import numpy as np

    from xent_jax.attacks import attack_suite, robustness_curves

    cfg = _config(size)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, (x_test, y_test) = _data(cfg, seed)
    x_att, y_att = x_test[: cfg["n_attack"]], y_test[: cfg["n_attack"]]
    side = train[0].shape[1]
    results: dict = {}
    for arch in cfg["archs"]:
        for training in ("standard", "pgd_at"):
            name = f"{arch}_{training}"
            cache = out_dir / f"results_{name}.json"
            if cache.exists():
                results[name] = json.loads(cache.read_text())
                continue
            model = _build(arch, cfg, side, seed)
            model = _train(model, training, train, cfg, out_dir / f"ckpt_{name}", seed)
            clean = float(np.mean(np.argmax(np.asarray(model(x_test)), -1) == y_test))
            res: dict = {"clean_accuracy": clean}
            for norm in cfg["norms"]:
                suite = attack_suite(
                    norm,
                    key=jax.random.key(seed),
                    pgd_steps=cfg["pgd_steps"],
                    strong_steps=cfg["strong_steps"],
                    restarts=cfg["restarts"],
                    apgd_steps=cfg["apgd_steps"],
                    kinds=cfg["attacks"],
                )
                res[norm] = robustness_curves(
                    model,
                    x_att,
                    y_att,
                    suite,
                    epsilons=cfg[f"{norm}_eps"],
                    batch_size=cfg["attack_batch"],
                    progress=True,
                )
            for norm in cfg["norms"]:
                res[f"ordering_{norm}"] = ordering_holds(res[norm])
            cache.write_text(json.dumps(res, indent=1))
            results[name] = res
    _plot(results, cfg, out_dir / "robustness.png")
    (out_dir / "table.md").write_text(_table(results, cfg))
    return {
        "dataset": cfg["dataset"],
        "n_attack": int(len(y_att)),
        "linf_eps": list(cfg["linf_eps"]),
        "l2_eps": list(cfg["l2_eps"]),
        "at_eps": cfg["at_eps"],
        "models": results,
    }


def headline(metrics: dict) -> str:
    models = metrics["models"]
    eps = metrics["linf_eps"]
    i = eps.index(0.3) if 0.3 in eps else len(eps) - 1

    parts = []
    for arch in ("mlp", "cnn"):
        if f"{arch}_standard" in models:
            std, at = (
                100 * models[f"{arch}_{t}"]["linf"]["worst case"][i] for t in ("standard", "pgd_at")
            )
            parts.append(f"{arch.upper()} {std:.1f}% -> PGD-AT {at:.1f}%")
    return (
        f"{metrics['dataset']}: robust accuracy at L-inf eps {eps[i]:g}, worst over attacks: "
        + ", ".join(parts)
    )
