"""A BCE GAN generating superconductor compositions (element fractions), against a naive baseline.

Data: the 14,162 distinct formulas of the UCI SuperCon table, split by formula into training and
held-out parts. The GAN works in the Hellinger embedding: real compositions enter as
``sqrt(fractions)`` (unit vectors), the generator ends in ``sqrt(softmax)``, and instance noise on
the discriminator's inputs hides differences below its scale, so the generator is pushed to drop
trace elements above ~1e-3 but not chased to exact zeros. Samples are squared back to fractions
and compared at a stated precision (fractions rounded to 2 decimals, zeros dropped).
Metrics for the GAN and for the naive baseline (elements drawn independently from their
marginals): novelty, uniqueness, the distribution of the number of elements, KL of the element
presence frequencies from the held-out data, and a classifier two-sample test against held-out
real compositions (accuracy and cross-entropy; 0.5 and ln 2 = indistinguishable). Real training
data against held-out data gives the floor the test can reach.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import jax
import numpy as np
from flax import nnx

from xent_jax.data.supercon import (
    ELEMENTS,
    composition_key,
    load_supercon,
    sample_independent_marginals,
)
from xent_jax.models import Discriminator, Generator
from xent_jax.stats import (
    classifier_two_sample_test,
    count_distribution,
    marginal_kl,
    novelty,
    uniqueness,
)
from xent_jax.train.gan import GANConfig, GANTrainer, train_gan

NAME = "gan-materials"
DESCRIPTION = "BCE GAN on SuperCon compositions vs independent-marginals baseline (2-sample test)"
ORDER = 50

MAX_ELEMENTS = 10


def get_config(size: str) -> dict:
    """Loads ``experiments/configs/gan_materials.py`` and returns its config for ``size``."""
    path = pathlib.Path(__file__).resolve().parent / "configs" / "gan_materials.py"
    spec = importlib.util.spec_from_file_location("xent_configs.gan_materials", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(size)


def round_compositions(x: np.ndarray, decimals: int) -> np.ndarray:
    """Rounds fractions to ``decimals`` places, drops zeros and renormalises (empty rows kept 0)."""
    x = np.round(
        np.asarray(x, np.float64) / np.asarray(x, np.float64).sum(1, keepdims=True), decimals
    )
    total = x.sum(1, keepdims=True)
    return np.divide(x, total, out=np.zeros_like(x), where=total > 0).astype(np.float32)


def describe(samples, *, train_keys, real_test, decimals, key, cfg) -> dict:
    """Every reported metric for one set of (rounded) compositions."""
    keys = composition_key(samples, decimals=decimals)
    n_el = (samples > 0).sum(1)
    presence_real = (real_test > 0).mean(0)
    presence = (samples > 0).mean(0)
    c2st = classifier_two_sample_test(
        real_test,
        samples,
        key=key,
        hidden=cfg["classifier_hidden"],
        steps=cfg["classifier_steps"],
    )
    return {
        "novelty": novelty(keys, train_keys),
        "uniqueness": uniqueness(keys),
        "n_elements_mean": float(n_el.mean()),
        "n_elements_distribution": count_distribution(n_el, max_count=MAX_ELEMENTS).tolist(),
        "marginal_kl": marginal_kl(presence_real, presence),
        "two_sample_accuracy": c2st["accuracy"],
        "two_sample_cross_entropy": c2st["cross_entropy"],
        "two_sample_train_accuracy": c2st["train_accuracy"],
    }


def _plot(out_dir, sets, real_test):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
    width = 0.8 / len(sets)
    for i, (label, x) in enumerate(sets.items()):
        dist = count_distribution((x > 0).sum(1), max_count=MAX_ELEMENTS)
        ax1.bar(np.arange(len(dist)) + i * width, dist, width=width, label=label)
    ax1.set_xlabel("number of elements")
    ax1.set_ylabel("fraction of compositions")
    ax1.legend()
    top = np.argsort(-(real_test > 0).mean(0))[:30]
    for i, (label, x) in enumerate(sets.items()):
        ax2.bar(np.arange(30) + i * width, (x > 0).mean(0)[top], width=width, label=label)
    ax2.set_xticks(np.arange(30) + 0.4, [ELEMENTS[j] for j in top], fontsize=7)
    ax2.set_ylabel("presence frequency")
    fig.tight_layout()
    path = out_dir / "gan_materials_marginals.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict:
    """Trains the GAN (resumable), samples, and compares GAN, naive baseline and real data."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = get_config(size)
    dec = cfg["decimals"]
    data = load_supercon(cfg["source"])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    if cfg["max_rows"]:
        order = order[: cfg["max_rows"]]
    n_test = int(round(len(order) * cfg["test_fraction"]))
    test_idx, train_idx = order[:n_test], order[n_test:]
    train = data.fractions[train_idx]
    real_test = round_compositions(data.fractions[test_idx], dec)
    train_keys = composition_key(train, decimals=dec)

    dim = len(ELEMENTS)
    g = Generator(
        cfg["noise_dim"],
        dim,
        hidden=cfg["hidden"],
        output=cfg["output"],
        head_scale=cfg["head_scale"],
        rngs=nnx.Rngs(2 * seed),
    )
    d = Discriminator(
        dim,
        hidden=cfg["hidden"],
        pack=cfg["pack"],
        input_transform=cfg["input_transform"],
        first_bias_std=cfg["first_bias_std"],
        rngs=nnx.Rngs(2 * seed + 1),
    )
    config = GANConfig(
        batch_size=cfg["batch_size"],
        g_learning_rate=cfg["g_learning_rate"],
        d_learning_rate=cfg["d_learning_rate"],
        instance_noise=cfg["instance_noise"],
    )
    # Train in the Hellinger embedding: real sqrt(fractions) against sqrt(softmax) samples.
    embed = np.sqrt if cfg["output"] == "sqrt_softmax" else np.asarray
    trainer = GANTrainer(g, d, embed(train), config)
    state, history = train_gan(
        trainer,
        steps=cfg["steps"],
        key=jax.random.key(seed),
        chunk=cfg["chunk"],
        checkpoint_dir=out_dir / "ckpt",
        checkpoint_every=cfg["checkpoint_every"],
        metrics_path=out_dir / "train_metrics.jsonl",
        desc="gan-materials",
    )
    gan = round_compositions(
        np.asarray(trainer.sample(state, jax.random.key(10_000 + seed), n_test))
        ** (2 if cfg["output"] == "sqrt_softmax" else 1),
        dec,
    )
    naive = round_compositions(sample_independent_marginals(train, n_test, rng=rng), dec)
    real_train = round_compositions(train[rng.permutation(len(train))[:n_test]], dec)
    sets = {"real (train)": real_train, "GAN": gan, "naive": naive}
    key = jax.random.key(seed + 1)
    results = {
        label: describe(
            x, train_keys=train_keys, real_test=real_test, decimals=dec, key=key, cfg=cfg
        )
        for label, x in sets.items()
    }
    results["real (held-out)"] = {
        "n_elements_mean": float((real_test > 0).sum(1).mean()),
        "n_elements_distribution": count_distribution(
            (real_test > 0).sum(1), max_count=MAX_ELEMENTS
        ).tolist(),
        "uniqueness": uniqueness(composition_key(real_test, decimals=dec)),
        "novelty": novelty(composition_key(real_test, decimals=dec), train_keys),
    }
    examples = [k for k in composition_key(gan[:12], decimals=dec)]
    plot = _plot(out_dir, {"real (held-out)": real_test, "GAN": gan, "naive": naive}, real_test)
    (out_dir / "generated_examples.json").write_text(json.dumps(examples, indent=1))
    return {
        "size": size,
        "n_train": int(len(train_idx)),
        "n_test": int(n_test),
        "decimals": dec,
        "steps": cfg["steps"],
        "results": results,
        "gan_beats_naive": bool(
            results["GAN"]["two_sample_accuracy"] < results["naive"]["two_sample_accuracy"]
        ),
        "examples": examples,
        "plot": plot.name,
    }


def headline(metrics: dict) -> str:
    r = metrics["results"]
    return (
        f"2-sample acc GAN {r['GAN']['two_sample_accuracy']:.3f} vs naive "
        f"{r['naive']['two_sample_accuracy']:.3f} "
        f"(real {r['real (train)']['two_sample_accuracy']:.3f}); "
        f"GAN novelty {100 * r['GAN']['novelty']:.0f}%, "
        f"uniqueness {100 * r['GAN']['uniqueness']:.0f}%"
    )
