"""GANs trained with binary cross-entropy on the ring (8 modes) and grid (25 modes) mixtures.

Non-saturating versus minimax generator loss, several seeds; VEEGAN protocol (2,500 samples,
high quality = within 3 std of a mode, a mode is covered when it has a high-quality sample).
Training state is checkpointed under ``out_dir/ckpt`` and finished runs are cached in
``out_dir/runs``, so re-running the same command resumes.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import jax
import numpy as np
from flax import nnx

from xent_jax.data.mixtures import mixture, sample_mixture
from xent_jax.models import Discriminator, Generator
from xent_jax.stats import mode_coverage
from xent_jax.train.gan import GANConfig, GANTrainer, train_gan

NAME = "gan-mixtures"
DESCRIPTION = "BCE GAN (packed discriminator) on ring/grid mixtures: modes covered, % high quality"
ORDER = 40


def get_config(size: str) -> dict:
    """Loads ``experiments/configs/gan_mixtures.py`` and returns its config for ``size``."""
    path = pathlib.Path(__file__).resolve().parent / "configs" / "gan_mixtures.py"
    spec = importlib.util.spec_from_file_location("xent_configs.gan_mixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(size)


TARGETS = {"ring": (7.5, 0.5), "grid": (23.0, 0.4)}


def _train_one(out_dir, cfg, name, loss, seed):
    """Trains (or resumes) one GAN and returns its evaluation and 2,500 samples."""
    tag = f"{name}_{loss}_s{seed}"
    cached = out_dir / "runs" / f"{tag}.json"
    samples_path = out_dir / "runs" / f"{tag}.npy"
    if cached.exists() and samples_path.exists():
        return json.loads(cached.read_text()), np.load(samples_path)
    centers, std = mixture(name)
    m = cfg["mixtures"][name]
    g = Generator(cfg["noise_dim"], 2, hidden=cfg["hidden"], rngs=nnx.Rngs(2 * seed))
    d = Discriminator(2, hidden=cfg["hidden"], pack=cfg["pack"], rngs=nnx.Rngs(2 * seed + 1))
    config = GANConfig(
        batch_size=cfg["batch_size"],
        generator_loss=loss,
        g_learning_rate=m["g_learning_rate"],
        d_learning_rate=m["d_learning_rate"],
    )
    trainer = GANTrainer(g, d, lambda k, n: sample_mixture(k, centers, std, n), config)
    state, _ = train_gan(
        trainer,
        steps=m["steps"],
        key=jax.random.key(seed),
        chunk=cfg["chunk"],
        checkpoint_dir=out_dir / "ckpt" / tag,
        metrics_path=out_dir / "logs" / f"{tag}.jsonl",
        desc=tag,
    )
    samples = np.asarray(trainer.sample(state, jax.random.key(10_000 + seed), cfg["n_eval"]))
    result = mode_coverage(samples, centers, std)
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.save(samples_path, samples)
    cached.write_text(json.dumps(result))
    return result, samples


def _plot(out_dir, cfg, samples):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, losses = list(cfg["mixtures"]), list(cfg["losses"])
    fig, axes = plt.subplots(len(names), len(losses) + 1, figsize=(3.2 * (len(losses) + 1), 6.4))
    axes = np.atleast_2d(axes)
    for i, name in enumerate(names):
        centers, std = mixture(name)
        real = np.asarray(sample_mixture(jax.random.key(0), centers, std, cfg["n_eval"]))
        panels = [("real", real)] + [(loss, samples[(name, loss)]) for loss in losses]
        lim = np.abs(centers).max() + 1.5
        for j, (title, x) in enumerate(panels):
            ax = axes[i, j]
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4)
            ax.scatter(centers[:, 0], centers[:, 1], s=12, c="red", marker="x")
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_title(f"{name}: {title}", fontsize=9)
    fig.tight_layout()
    path = out_dir / "gan_mixtures_scatter.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict:
    """Trains every (mixture, loss, seed) GAN and returns the coverage table."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = get_config(size)
    table, first_samples, seeds_used = {}, {}, {}
    for name in cfg["mixtures"]:
        seeds = [seed + s for s in range(cfg["mixtures"][name]["seeds"])]
        seeds_used[name] = seeds
        for loss in cfg["losses"]:
            runs = []
            for s in seeds:
                result, samples = _train_one(out_dir, cfg, name, loss, s)
                runs.append(result)
                first_samples.setdefault((name, loss), samples)
            modes = [r["modes"] for r in runs]
            hq = [r["high_quality"] for r in runs]
            target_modes, target_hq = TARGETS[name]
            table[f"{name}/{loss}"] = {
                "modes_mean": float(np.mean(modes)),
                "modes_total": len(mixture(name)[0]),
                "high_quality_mean": float(np.mean(hq)),
                "modes_per_seed": modes,
                "high_quality_per_seed": hq,
                "meets_target": bool(np.mean(modes) >= target_modes and np.mean(hq) >= target_hq),
            }
    plot = _plot(out_dir, cfg, first_samples)
    return {
        "size": size,
        "seeds": seeds_used,
        "steps": {k: v["steps"] for k, v in cfg["mixtures"].items()},
        "pack": cfg["pack"],
        "table": table,
        "targets": {k: {"modes": v[0], "high_quality": v[1]} for k, v in TARGETS.items()},
        "plot": plot.name,
    }


def headline(metrics: dict) -> str:
    parts = []
    for key, row in metrics["table"].items():
        name, loss = key.split("/")
        short = "NS" if loss == "non_saturating" else "minimax"
        parts.append(
            f"{name} {short}: {row['modes_mean']:.1f}/{row['modes_total']} modes, "
            f"{100 * row['high_quality_mean']:.0f}% HQ"
        )
    return "; ".join(parts)
