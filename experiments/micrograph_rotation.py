"""Rotation pretext on real SEM micrographs: do its frozen features predict area fractions?

Per material (Ni superalloy, EBC coating cross-sections) and seed: split the micrographs by
specimen, pretrain the CNN on rotation prediction over random training patches (checkpointed, so a
re-run resumes), report held-out rotation accuracy, then regress each held-out patch's precipitate
(superalloy) or oxide (EBC) area fraction on frozen features with ridge, against the same CNN at
random init and an intensity-histogram baseline (R^2 on held-out images). The settings, command,
runtime and result are in ``configs/micrograph_rotation.py``.
"""

from __future__ import annotations

import importlib.util
import pathlib

NAME = "micrographs"
DESCRIPTION = "RotNet pretext on SEM micrographs: rotation accuracy, area-fraction R^2 of features"
ORDER = 30

FEATURE_SETS = ("rotation", "random", "histogram")
_DEGREES = (0, 90, 180, 270)


def _config(size: str) -> dict:
    path = pathlib.Path(__file__).with_name("configs") / "micrograph_rotation.py"
    spec = importlib.util.spec_from_file_location("xent_configs.micrograph_rotation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(size)


def _one_seed(ds, images, material: str, cfg: dict, seed: int, out_dir: pathlib.Path, size: str):
    """Pretrains, probes and scores one material with one seed; returns metrics and examples."""
    import numpy as np
    from flax import nnx

    from xent_jax.data.micrographs import split_by_image
    from xent_jax.data.patches import intensity_histogram, sample_patches
    from xent_jax.models import CNN
    from xent_jax.stats.regression import r2_score, ridge_cv
    from xent_jax.train import extract_features, pretrain_rotation, rotation_accuracy

    mcfg = cfg["materials"][material]
    train_idx, test_idx = split_by_image(ds.names, test_fraction=cfg["test_fraction"], seed=seed)
    common = dict(crop=mcfg["crop"], size=cfg["patch"], classes=mcfg["classes"])
    train = sample_patches(
        images[train_idx],
        ds.masks[train_idx],
        per_image=cfg["train_per_image"],
        seed=seed,
        **common,
    )
    test = sample_patches(
        images[test_idx],
        ds.masks[test_idx],
        per_image=cfg["test_per_image"],
        seed=seed + 10_000,
        **common,
    )

    # one initialisation: a copy stays at random init, the other is pretrained
    model = CNN(4, widths=cfg["widths"], pool_size=cfg["pool_size"], rngs=nnx.Rngs(seed))
    random_init = nnx.clone(model)
    model, result = pretrain_rotation(
        model,
        train.images,
        num_steps=cfg["num_steps"],
        batch_size=cfg["batch_size"],
        learning_rate=cfg["learning_rate"],
        seed=seed,
        ckpt_dir=out_dir / "ckpt" / f"{material}_seed{seed}",
        ckpt_every=cfg["ckpt_every"],
        metrics_path=out_dir / f"pretrain_{material}_seed{seed}.jsonl",
        progress=size != "tiny",
    )
    rot = rotation_accuracy(model, test.images)
    features = {
        "rotation": (extract_features(model, train.images), extract_features(model, test.images)),
        "random": (
            extract_features(random_init, train.images),
            extract_features(random_init, test.images),
        ),
        "histogram": (
            intensity_histogram(train.images, bins=cfg["hist_bins"]),
            intensity_histogram(test.images, bins=cfg["hist_bins"]),
        ),
    }
    r2, alpha = {}, {}
    for name, (f_train, f_test) in features.items():
        ridge, _ = ridge_cv(
            f_train,
            train.fractions,
            train.image_index,
            alphas=cfg["alphas"],
            n_folds=cfg["n_folds"],
        )
        r2[name] = r2_score(test.fractions, ridge.predict(f_test))
        alpha[name] = ridge.alpha
    # example held-out patches, each rotated by a known k, with the network's prediction
    n = min(cfg["num_examples"], len(test))
    pick = np.random.default_rng(seed).choice(len(test), size=n, replace=False)
    ks = np.arange(n) % 4
    shown = np.stack(
        [np.rot90(test.images[i], k, axes=(0, 1)) for i, k in zip(pick, ks, strict=True)]
    )
    logits = extract_features(model, shown, method="__call__")
    metrics = {
        "seed": seed,
        "train_images": [ds.names[i] for i in train_idx],
        "test_images": [ds.names[i] for i in test_idx],
        "n_train_patches": len(train),
        "n_test_patches": len(test),
        "test_fraction_mean": float(test.fractions.mean()),
        "test_fraction_std": float(test.fractions.std()),
        "pretrain_train_accuracy": result.train.get("accuracy"),
        "rotation_accuracy": rot["accuracy"],
        "rotation_accuracy_per_rotation": rot["per_rotation"],
        "r2": r2,
        "alpha": alpha,
    }
    examples = {"patches": shown[..., 0], "true": ks, "pred": logits.argmax(-1)}
    return metrics, examples


def _plot_examples(examples: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(examples)
    cols = max(len(e["true"]) for e in examples.values())
    fig, axes = plt.subplots(
        len(rows), cols, figsize=(1.4 * cols, 2.1 * len(rows) + 0.3), squeeze=False
    )
    for r, material in enumerate(rows):
        ex = examples[material]
        for c in range(cols):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(ex["true"]):
                continue
            t, p = int(ex["true"][c]), int(ex["pred"][c])
            ax.imshow(ex["patches"][c], cmap="gray", vmin=0, vmax=1)
            ax.set_title(
                f"true {_DEGREES[t]}\npred {_DEGREES[p]}",
                fontsize=7,
                color="tab:green" if t == p else "tab:red",
            )
        axes[r, 0].text(-0.15, 0.5, material, transform=axes[r, 0].transAxes, rotation=90,
                        va="center", ha="right", fontsize=9)  # fmt: skip
    fig.suptitle("held-out patches rotated by a known angle; CNN's predicted rotation", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_r2(per_material: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = {
        "rotation": "rotation-pretrained CNN",
        "random": "random-init CNN",
        "histogram": "intensity histogram",
    }
    materials = list(per_material)
    width = 0.26
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for j, name in enumerate(FEATURE_SETS):
        xs = np.arange(len(materials)) + (j - 1) * width
        vals = [per_material[m]["r2_per_seed"][name] for m in materials]
        ax.bar(xs, [np.mean(v) for v in vals], width, label=labels[name], alpha=0.85)
        for x, v in zip(xs, vals, strict=True):
            ax.plot([x] * len(v), v, "k.", ms=4)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(materials)), materials)
    ax.set_ylabel("held-out R$^2$ (area fraction)")
    ax.set_title("ridge on frozen features; bars = mean, dots = seeds", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict:
    """Runs the study for both materials and ``num_seeds`` seeds; writes plots into ``out_dir``."""
    import numpy as np

    from xent_jax.data.micrographs import MATERIALS, load_micrographs
    from xent_jax.data.patches import stretch_contrast

    cfg = _config(size)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = [seed + s for s in range(cfg["num_seeds"])]
    per_material, examples = {}, {}
    for material in MATERIALS:
        ds = load_micrographs(material)
        images = stretch_contrast(ds.images)
        runs = []
        for s in seeds:
            metrics, ex = _one_seed(ds, images, material, cfg, s, out_dir, size)
            runs.append(metrics)
            if s == seeds[0]:
                examples[material] = ex
        r2_per_seed = {k: [r["r2"][k] for r in runs] for k in FEATURE_SETS}
        acc = [r["rotation_accuracy"] for r in runs]
        per_material[material] = {
            "target_classes": list(cfg["materials"][material]["classes"]),
            "crop": cfg["materials"][material]["crop"],
            "rotation_accuracy": float(np.mean(acc)),
            "rotation_accuracy_per_seed": acc,
            "r2": {k: float(np.mean(v)) for k, v in r2_per_seed.items()},
            "r2_std": {k: float(np.std(v)) for k, v in r2_per_seed.items()},
            "r2_per_seed": r2_per_seed,
            "rotation_beats_random_seeds": int(
                np.sum(np.array(r2_per_seed["rotation"]) > np.array(r2_per_seed["random"]))
            ),
            "runs": runs,
        }
    _plot_examples(examples, out_dir / "example_rotations.png")
    _plot_r2(per_material, out_dir / "r2_bars.png")
    return {
        "seeds": seeds,
        "chance_rotation_accuracy": 0.25,
        "materials": per_material,
        "rotation_beats_random": {
            m: v["r2"]["rotation"] > v["r2"]["random"] for m, v in per_material.items()
        },
        "config": {k: v for k, v in cfg.items() if k != "materials"},
        "plots": ["example_rotations.png", "r2_bars.png"],
    }


def headline(metrics: dict) -> str:
    parts = []
    for material, m in metrics["materials"].items():
        r2 = m["r2"]
        parts.append(
            f"{material}: rot acc {m['rotation_accuracy']:.2f}, R^2 rot {r2['rotation']:.2f} / "
            f"rand {r2['random']:.2f} / hist {r2['histogram']:.2f}"
        )
    return "; ".join(parts) + f" ({len(metrics['seeds'])} seed(s))"
