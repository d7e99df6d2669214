"""Rotation prediction as a pretext task: do its frozen features help when labels are few?

Pretrains the CNN on 4-way rotation prediction using only the unlabelled training images, then,
for 1, 5, 10, 50 labels per class and all labels, compares (a) a linear probe on the rotation-
pretrained frozen features, (b) a linear probe on frozen random-init features of the same network,
(c) the same network trained supervised from scratch on the labelled subset. The configuration
(and the command with its expected runtime and result) is in ``configs/rotation_pretext.py``.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

NAME = "rotation"
DESCRIPTION = "RotNet pretext on MNIST: rotation features vs random features vs scratch, few labels"
ORDER = 20


def _config(size: str) -> dict:
    path = pathlib.Path(__file__).with_name("configs") / "rotation_pretext.py"
    spec = importlib.util.spec_from_file_location("xent_configs.rotation_pretext", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(size)


def _load(cfg: dict, seed: int):
    from xent_jax.data import load_digits, load_mnist5k, load_mnist10k, train_test_split

    loaders = {"mnist10k": load_mnist10k, "mnist5k": load_mnist5k, "digits": load_digits}
    x, y = loaders[cfg["dataset"]]()
    if cfg["n_limit"]:
        (x, y), _ = train_test_split(x, y, n_train=cfg["n_limit"], seed=seed + 1)
    return train_test_split(x, y, n_train=cfg["n_train"], seed=seed)


def _plot(settings: list[dict], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s["labels_per_class_n"] for s in settings]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for key, label in (
        ("rotation_probe", "(a) linear probe, rotation features"),
        ("random_probe", "(b) linear probe, random-init features"),
        ("scratch", "(c) supervised from scratch"),
    ):
        mean = [100 * s[key]["mean"] for s in settings]
        std = [100 * s[key]["std"] for s in settings]
        ax.errorbar(xs, mean, yerr=std, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(s["labels_per_class"]) for s in settings])
    ax.set_xlabel("labels per class")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _report(metrics: dict, path: pathlib.Path) -> None:
    lines = [
        f"# rotation pretext ({metrics['dataset']}, {metrics['n_train']} train / "
        f"{metrics['n_test']} test)",
        "",
        f"Held-out rotation accuracy: {100 * metrics['rotation_accuracy']:.2f}%",
        "",
        "| labels per class | (a) rotation probe | (b) random probe | (c) scratch | draws |",
        "|---|---|---|---|---|",
    ]
    for s in metrics["settings"]:
        cells = [
            f"{100 * s[k]['mean']:.1f} ± {100 * s[k]['std']:.1f}"
            for k in ("rotation_probe", "random_probe", "scratch")
        ]
        lines.append(f"| {s['labels_per_class']} | " + " | ".join(cells) + f" | {s['draws']} |")
    path.write_text("\n".join(lines) + "\n")


def run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict:
    import numpy as np
    from flax import nnx

    from xent_jax.data import per_class_subset
    from xent_jax.models import CNN
    from xent_jax.train import (
        extract_features,
        linear_probe,
        pretrain_rotation,
        rotation_accuracy,
        standardize,
        train_classifier,
    )

    cfg = _config(size)
    out_dir = pathlib.Path(out_dir)
    (x_tr, y_tr), (x_te, y_te) = _load(cfg, seed)
    arch = dict(widths=cfg["widths"], pool_size=cfg["pool_size"], head_hidden=cfg["head_hidden"])
    num_classes = int(y_tr.max()) + 1

    # Pretrain on rotations of the unlabelled training images (resumable from out_dir).
    rot_model = CNN(4, **arch, rngs=nnx.Rngs(seed))
    rand_model = CNN(4, **arch, rngs=nnx.Rngs(seed))  # the same initialisation, left untrained
    rot_model, pre = pretrain_rotation(
        rot_model,
        x_tr,
        num_steps=cfg["pretrain_steps"],
        batch_size=cfg["pretrain_batch"],
        learning_rate=cfg["learning_rate"],
        seed=seed,
        ckpt_dir=out_dir / "rotation_ckpt",
        ckpt_every=cfg["ckpt_every"],
        metrics_path=out_dir / "rotation_metrics.jsonl",
    )
    rot_eval = rotation_accuracy(rot_model, x_te)

    # Frozen features, standardised with statistics of all (unlabelled) training images.
    feats = {}
    for name, model in (("rotation_probe", rot_model), ("random_probe", rand_model)):
        f_tr = extract_features(model, x_tr, block=cfg["probe_block"])
        f_te = extract_features(model, x_te, block=cfg["probe_block"])
        feats[name] = standardize(f_tr, f_te)

    # Label budgets; finished settings are cached so a re-run resumes.
    cache_path = out_dir / "settings.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    settings = []
    for lpc in cfg["labels_per_class"]:
        key = str(lpc)
        if key not in cache:
            runs = {"rotation_probe": [], "random_probe": [], "scratch": []}
            draws = 1 if lpc == "all" else cfg["draws"]
            for d in range(draws):
                idx = (
                    np.arange(len(y_tr))
                    if lpc == "all"
                    else per_class_subset(y_tr, int(lpc), seed=1000 * seed + d)
                )
                for name, (f_tr, f_te) in feats.items():
                    res = linear_probe(
                        f_tr[idx],
                        y_tr[idx],
                        f_te,
                        y_te,
                        num_classes=num_classes,
                        l2=cfg["probe_l2"],
                        steps=cfg["probe_steps"],
                        standardize_features=False,
                    )
                    runs[name].append(res["accuracy"])
                steps = cfg["supervised_steps_all"] if lpc == "all" else cfg["supervised_steps"]
                _, scratch = train_classifier(
                    CNN(num_classes, **arch, rngs=nnx.Rngs(seed + 1 + d)),
                    x_tr[idx],
                    y_tr[idx],
                    num_steps=steps,
                    batch_size=cfg["supervised_batch"],
                    learning_rate=cfg["learning_rate"],
                    seed=seed + d,
                    eval_data=(x_te, y_te),
                    desc=f"scratch {lpc}/class",
                )
                runs["scratch"].append(scratch.eval["accuracy"])
            cache[key] = {
                "labels_per_class": lpc,
                "labels_per_class_n": len(y_tr) // num_classes if lpc == "all" else int(lpc),
                "draws": draws,
                **{
                    k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "runs": v}
                    for k, v in runs.items()
                },
            }
            cache_path.write_text(json.dumps(cache, indent=2))
        settings.append(cache[key])

    metrics = {
        "dataset": cfg["dataset"],
        "n_train": int(len(y_tr)),
        "n_test": int(len(y_te)),
        "rotation_accuracy": rot_eval["accuracy"],
        "rotation_accuracy_per_angle": rot_eval["per_rotation"],
        "rotation_train_loss": pre.train.get("loss"),
        "pretrain_steps": cfg["pretrain_steps"],
        "settings": settings,
    }
    by = {str(s["labels_per_class"]): s for s in settings}
    for lpc, s in by.items():
        for k in ("rotation_probe", "random_probe", "scratch"):
            metrics[f"{k}_acc_{lpc}"] = s[k]["mean"]
    _plot(settings, out_dir / "accuracy_vs_labels.png")
    _report(metrics, out_dir / "REPORT.md")
    return metrics


def headline(metrics: dict) -> str:
    s = {str(x["labels_per_class"]): x for x in metrics["settings"]}
    key = "10" if "10" in s else next(iter(s))
    a, b, c = (100 * s[key][k]["mean"] for k in ("rotation_probe", "random_probe", "scratch"))
    return (
        f"rotation acc {100 * metrics['rotation_accuracy']:.1f}%; {key} labels/class: "
        f"rotation probe {a:.1f}% vs random {b:.1f}% vs scratch {c:.1f}%"
    )
