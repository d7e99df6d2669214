"""Rotation pretext on real SEM micrographs: do its frozen features predict area fractions?

Protocol (one seed, each material): split the micrographs by specimen (``split_by_image``: frames
of one specimen never straddle the split), cut random patches from each side, pretrain the CNN on
4-way rotation prediction of the training patches (``xent_jax.recipes.rotation_training`` run by
``fit``: resumable and exact after a kill) and report its rotation accuracy on held-out patches.
Then regress each patch's precipitate (superalloy) or oxide (EBC) area fraction on frozen
features with ridge (``xent_jax.eval.ridge_cv``: the ``l2`` chosen by cross-validation grouped by
specimen, on training patches only) and score R^2 once on the held-out images, for the rotation
features, the same CNN at random init, an intensity histogram and the training mean. Config,
command and expected cost: ``configs/micrograph_rotation.py``.
"""

from __future__ import annotations

NAME = "micrographs"
DESCRIPTION = "RotNet pretext on SEM micrographs: rotation accuracy, area-fraction R^2 of features"
ORDER = 30
CONFIG = "micrograph_rotation"

FEATURES = {
    "rotation": "rotation-pretrained CNN",
    "random": "random-init CNN",
    "histogram": "intensity histogram",
}
_DEGREES = (0, 90, 180, 270)


def _patches(cfg, material, seed):
    """The specimen split and its patches: ``(ds, train_idx, test_idx, train, test)``."""
    from xent_jax.data import load_micrographs, sample_patches, split_by_image, stretch_contrast

    ds = load_micrographs(material)
    images = stretch_contrast(ds.images)
    train_idx, test_idx = split_by_image(ds.names, test_fraction=cfg.test_fraction, seed=seed)
    m = cfg.materials[material]
    kw = dict(crop=m.crop, size=cfg.patch, classes=tuple(m.classes))
    train = sample_patches(images[train_idx], ds.masks[train_idx], per_image=cfg.train_per_image,
                           seed=seed, **kw)  # fmt: skip
    test = sample_patches(images[test_idx], ds.masks[test_idx], per_image=cfg.test_per_image,
                          seed=seed + 10_000, **kw)  # fmt: skip
    return ds, train_idx, test_idx, train, test


def _material(run, material, index):
    import jax
    import numpy as np
    from flax import nnx

    from xent_jax.data import intensity_histogram
    from xent_jax.data.micrographs import specimen_of
    from xent_jax.eval import r2_score, ridge_cv
    from xent_jax.models import CNN
    from xent_jax.recipes import extract_features, rotation_accuracy, rotation_training

    cfg = run.config
    ds, train_idx, test_idx, train, test = _patches(cfg, material, run.seed)
    run.print(ds.report)  # manifest rows read, kept and dropped by reason
    key = jax.random.fold_in(run.key, index)
    net = CNN(4, widths=cfg.widths, pool_size=cfg.pool_size, rngs=nnx.Rngs(run.seed))
    job = rotation_training(net, train.images, key=key, batch_size=cfg.batch_size,
                            learning_rate=cfg.learning_rate)  # fmt: skip
    res = run.fit(job.step, job.state, job.batch_fn, name=f"pretrain_{material}", key=key,
                  steps=cfg.steps, checkpoint_every=cfg.checkpoint_every)  # fmt: skip
    model, random_init = job.model(res.state), job.model(job.state)  # one initialisation
    rot = rotation_accuracy(model, test.images)

    features = {
        "rotation": [extract_features(model, p.images) for p in (train, test)],
        "random": [extract_features(random_init, p.images) for p in (train, test)],
        "histogram": [intensity_histogram(p.images, bins=cfg.hist_bins) for p in (train, test)],
    }
    # CV folds group the training patches by specimen, the unit the outer split keeps apart
    names = [ds.names[i] for i in train_idx]
    specimen = np.unique([specimen_of(n) for n in names], return_inverse=True)[1]
    groups = specimen[train.image_index]
    r2, l2 = {}, {}
    for name, (f_train, f_test) in features.items():
        ridge, _ = ridge_cv(f_train, train.fractions, groups, l2_grid=cfg.l2_grid,
                            n_folds=cfg.n_folds)  # fmt: skip
        r2[name], l2[name] = r2_score(test.fractions, ridge.predict(f_test)), ridge.l2
    mean = np.full(len(test), train.fractions.mean())
    r2["train_mean"] = r2_score(test.fractions, mean)

    # the figure: held-out patches rotated by a known angle, with the predicted rotation
    n = min(cfg.num_examples, len(test))
    pick = np.random.default_rng(run.seed).choice(len(test), size=n, replace=False)
    ks = np.arange(n) % 4
    shown = np.stack(
        [np.rot90(test.images[i], k, axes=(0, 1)) for i, k in zip(pick, ks, strict=True)]
    )
    pred = extract_features(model, shown, method="__call__").argmax(-1)
    metrics = {
        "data": ds.report.as_metrics(),
        "train_images": names,
        "test_images": [ds.names[i] for i in test_idx],
        "n_train_specimens": int(specimen.max()) + 1,
        "n_train_patches": len(train),
        "n_test_patches": len(test),
        "test_fraction_mean": float(test.fractions.mean()),
        "test_fraction_std": float(test.fractions.std()),
        "rotation_accuracy": rot["accuracy"],
        "rotation_accuracy_per_rotation": rot["per_rotation"],
        "pretrain_train_accuracy": res.train["accuracy"],
        "r2": r2,
        "l2": l2,
        "rotation_minus_random_r2": r2["rotation"] - r2["random"],
    }
    return metrics, {"patches": shown[..., 0], "true": ks, "pred": pred}


def run(run):
    from xent_jax.data import MATERIALS

    out, examples = {"chance_rotation_accuracy": 0.25}, {}
    for i, material in enumerate(MATERIALS):
        out[material], examples[material] = _material(run, material, i)
    run.save_figure(_examples_figure(examples), "example_rotations")
    return out


def _examples_figure(examples):
    from xent_jax.experiment import figure

    rows, cols = list(examples), max(len(e["true"]) for e in examples.values())
    fig, axes = figure(len(rows), cols, figsize=(1.4 * cols, 2.1 * len(rows) + 0.3))
    for r, material in enumerate(rows):
        ex = examples[material]
        for c in range(cols):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(ex["true"]):
                t, p = int(ex["true"][c]), int(ex["pred"][c])
                ax.imshow(ex["patches"][c], cmap="gray", vmin=0, vmax=1)
                ax.set_title(f"true {_DEGREES[t]}\npred {_DEGREES[p]}", fontsize=7,
                             color="tab:green" if t == p else "tab:red")  # fmt: skip
        axes[r, 0].text(-0.15, 0.5, material, transform=axes[r, 0].transAxes, rotation=90,
                        va="center", ha="right", fontsize=9)  # fmt: skip
    fig.suptitle("held-out patches rotated by a known angle; CNN's predicted rotation", fontsize=9)
    return fig


def summarize(summary):
    import numpy as np

    from xent_jax.data import MATERIALS
    from xent_jax.experiment import figure

    fig, axes = figure(figsize=(5.5, 3.6))
    ax, width = axes[0, 0], 0.26
    for j, (name, label) in enumerate(FEATURES.items()):
        xs = np.arange(len(MATERIALS)) + (j - 1) * width
        vals = [summary.values(f"{m}/r2/{name}") for m in MATERIALS]
        ax.bar(xs, [np.mean(v) for v in vals], width, label=label, alpha=0.85)
        for x, v in zip(xs, vals, strict=True):
            ax.plot([x] * len(v), v, "k.", ms=4)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(MATERIALS)), MATERIALS)
    ax.set_ylabel("held-out R$^2$ (area fraction)")
    ax.set_title("ridge on frozen features; bars = mean, dots = seeds", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    summary.save_figure(fig, "r2_bars")
    summary.lines += [
        "Held-out R^2 of the area fraction, mean [95% interval] over seeds; rotation accuracy on "
        "held-out patches (chance 0.25).",
        "",
        "| material | rotation acc | " + " | ".join(FEATURES.values()) + " | training mean |",
        "|---|---|---|---|---|---|",
    ]
    for m in MATERIALS:
        cells = [summary.fmt(f"{m}/r2/{k}", digits=2) for k in (*FEATURES, "train_mean")]
        acc = summary.fmt(f"{m}/rotation_accuracy", digits=3)
        summary.lines.append(f"| {m} | {acc} | " + " | ".join(cells) + " |")


def headline(summary) -> str:
    from xent_jax.data import MATERIALS

    parts = []
    for m in MATERIALS:
        r2 = " / ".join(summary.fmt(f"{m}/r2/{k}", digits=2) for k in FEATURES)
        parts.append(f"{m}: rot acc {summary.fmt(f'{m}/rotation_accuracy', digits=2)}, "
                     f"R^2 rot / rand / hist {r2}")  # fmt: skip
    return "; ".join(parts) + f" ({len(summary.seeds)} seed(s))"
