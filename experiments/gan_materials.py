"""A BCE GAN generating superconductor compositions (element fractions), against a naive baseline.

Protocol: the distinct formulas of the UCI SuperCon table, split leak-free by composition
(:func:`split_by_composition`: formulas whose fractions agree at ``decimals`` places are one
group, and a group goes wholly to training or to held-out; the split is fixed by ``split_seed``,
the same for every training seed). The GAN (:mod:`xent_jax.recipes.gan`, real rows drawn in the
step) learns the training fractions; then as many compositions as the held-out split holds are
sampled and compared at the stated precision (fractions rounded to ``decimals`` places, zeros
dropped). Baselines: the naive generator that draws elements independently from their training
marginals, and real training compositions (the floor the tests can reach). Metrics per set:
novelty, uniqueness, the distribution of the number of elements, KL of the element presence
frequencies from the held-out data, and a classifier two-sample test against the held-out real
compositions (accuracy and cross-entropy; 0.5 and ln 2 = indistinguishable). The GAN-minus-naive
two-sample accuracy is paired by seed. Config, command, expected result:
``configs/gan_materials.py``.
"""

from __future__ import annotations

NAME = "gan-materials"
DESCRIPTION = "BCE GAN on SuperCon compositions vs independent-marginals baseline (2-sample test)"
ORDER = 50
CONFIG = "gan_materials"

MAX_ELEMENTS = 10
SETS = {"real_train": "real (train)", "gan": "GAN", "naive": "naive"}


def round_compositions(x, decimals: int):
    """Rounds fractions to ``decimals`` places, drops zeros and renormalises (empty rows kept 0).

    Args:
      x: non-negative amounts ``[n, elements]``.
      decimals: rounding precision.

    Returns:
      float32 ``[n, elements]``, rows summing to 1 (or all zero).
    """
    import numpy as np

    x = np.asarray(x, np.float64)
    x = np.round(x / x.sum(1, keepdims=True), decimals)
    total = x.sum(1, keepdims=True)
    return np.divide(x, total, out=np.zeros_like(x), where=total > 0).astype(np.float32)


def split_by_composition(keys, *, test_fraction: float, seed: int):
    """Train and held-out row indices with every composition key wholly on one side.

    Groups (equal keys) are shuffled with ``numpy.random.default_rng(seed)`` and taken for the
    held-out part until it holds at least ``round(test_fraction * n)`` rows.

    Args:
      keys: one composition key per row (:func:`xent_jax.data.supercon.composition_key`).
      test_fraction: the held-out share of rows, in (0, 1).
      seed: the split's seed.

    Returns:
      ``(train_idx, test_idx)``: sorted int arrays partitioning ``range(len(keys))``.
    """
    import numpy as np

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    _, inverse = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    sizes = np.bincount(inverse)
    order = np.random.default_rng(seed).permutation(len(sizes))
    target = int(round(test_fraction * len(keys)))
    k = int(np.searchsorted(np.cumsum(sizes[order]), target)) + 1
    held_out = np.isin(inverse, order[:k])
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)


def _describe(samples, *, train_keys, real_test, key, cfg) -> dict:
    """Every reported metric for one set of (rounded) compositions."""
    from xent_jax.data.supercon import composition_key
    from xent_jax.eval import (
        classifier_two_sample_test,
        count_distribution,
        marginal_kl,
        novelty,
        uniqueness,
    )

    keys = composition_key(samples, decimals=cfg.decimals)
    n_el = (samples > 0).sum(1)
    c2st = classifier_two_sample_test(
        real_test, samples, key=key, hidden=cfg.classifier_hidden, steps=cfg.classifier_steps
    )
    return {
        "novelty": novelty(keys, train_keys),
        "uniqueness": uniqueness(keys),
        "n_elements_mean": float(n_el.mean()),
        "n_elements_distribution": count_distribution(n_el, max_count=MAX_ELEMENTS).tolist(),
        "marginal_kl": marginal_kl((real_test > 0).mean(0), (samples > 0).mean(0)),
        "two_sample_accuracy": c2st["accuracy"],
        "two_sample_cross_entropy": c2st["cross_entropy"],
        "two_sample_train_accuracy": c2st["train_accuracy"],
        "two_sample_non_finite_fake": c2st["non_finite_fake"],
    }


def run(run) -> dict:
    import jax
    import numpy as np
    from flax import nnx

    from xent_jax.data.supercon import (
        ELEMENTS,
        composition_key,
        load_supercon,
        sample_independent_marginals,
    )
    from xent_jax.eval import count_distribution, novelty, uniqueness
    from xent_jax.models import Discriminator, Generator
    from xent_jax.recipes.gan import GANConfig, data_sampler, gan_step, init_gan_state, sample

    cfg, dec = run.config, run.config.decimals
    data = load_supercon(cfg.source)
    run.print(data.report)  # rows read, kept and dropped by reason
    fractions = data.fractions
    if cfg.max_rows:
        pick = np.random.default_rng(cfg.split_seed).permutation(len(fractions))[: cfg.max_rows]
        fractions = fractions[np.sort(pick)]
    all_keys = composition_key(fractions, decimals=dec)
    train_idx, test_idx = split_by_composition(
        all_keys, test_fraction=cfg.test_fraction, seed=cfg.split_seed
    )
    train, n_test = fractions[train_idx], len(test_idx)
    real_test = round_compositions(fractions[test_idx], dec)
    train_keys = [all_keys[i] for i in train_idx]

    g = Generator(cfg.noise_dim, len(ELEMENTS), hidden=cfg.hidden, output=cfg.output,
                  head_scale=cfg.head_scale, rngs=nnx.Rngs(2 * run.seed))  # fmt: skip
    d = Discriminator(len(ELEMENTS), hidden=cfg.hidden, pack=cfg.pack,
                      input_transform=cfg.input_transform, first_bias_std=cfg.first_bias_std,
                      rngs=nnx.Rngs(2 * run.seed + 1))  # fmt: skip
    config = GANConfig(
        batch_size=cfg.batch_size,
        g_learning_rate=cfg.g_learning_rate,
        d_learning_rate=cfg.d_learning_rate,
        instance_noise=cfg.instance_noise,
    )
    gan, state = init_gan_state(g, d, config)
    # sqrt_softmax: train in the Hellinger embedding, real sqrt(fractions) against its samples.
    hellinger = cfg.output == "sqrt_softmax"
    real = data_sampler(np.sqrt(train) if hellinger else train)
    res = run.fit(gan_step(gan, real), state, None, name="gan", steps=cfg.steps,
                  steps_per_call=cfg.steps_per_call, log_every=cfg.log_every,
                  checkpoint_every=cfg.checkpoint_every,
                  examples_per_step=cfg.batch_size)  # fmt: skip

    generated = sample(gan, res.state, jax.random.fold_in(run.key, 10_000), n_test)
    rng = np.random.default_rng(run.seed)  # the baselines' draws
    sets = {
        "real_train": round_compositions(train[rng.permutation(len(train))[:n_test]], dec),
        "gan": round_compositions(generated**2 if hellinger else generated, dec),
        "naive": round_compositions(sample_independent_marginals(train, n_test, rng=rng), dec),
    }
    c2st_key = jax.random.fold_in(run.key, 1)
    results = run.cached("evaluation", lambda: {
        label: _describe(x, train_keys=train_keys, real_test=real_test, key=c2st_key, cfg=cfg)
        for label, x in sets.items()
    })  # fmt: skip
    test_keys = composition_key(real_test, decimals=dec)
    n_el = (real_test > 0).sum(1)
    results["real_heldout"] = {
        "novelty": novelty(test_keys, train_keys),  # 1 by construction of the split
        "uniqueness": uniqueness(test_keys),
        "n_elements_mean": float(n_el.mean()),
        "n_elements_distribution": count_distribution(n_el, max_count=MAX_ELEMENTS).tolist(),
    }
    run.save_figure(
        _marginals(
            {"real (held-out)": real_test, "GAN": sets["gan"], "naive": sets["naive"]}, real_test
        ),
        "gan_materials_marginals",
    )
    gap = results["gan"]["two_sample_accuracy"] - results["naive"]["two_sample_accuracy"]
    return {
        "data": data.report.as_metrics(),
        "n_rows": len(fractions),
        "n_compositions": len(set(all_keys)),
        "n_rows_sharing_a_composition": len(fractions) - len(set(all_keys)),
        "n_train": len(train_idx),
        "n_test": n_test,
        "sets": results,
        "gan_minus_naive_two_sample_accuracy": gap,
        "gan_beats_naive": bool(gap < 0),
        "train": res.train,
        "examples": composition_key(sets["gan"][:12], decimals=dec),
    }


def _marginals(sets, real_test):
    """Number of elements per composition, and presence of the 30 commonest elements."""
    import numpy as np

    from xent_jax.data.supercon import ELEMENTS
    from xent_jax.eval import count_distribution
    from xent_jax.experiment import figure

    fig, axes = figure(1, 2, figsize=(12, 3.8))
    ax1, ax2 = axes[0]
    width = 0.8 / len(sets)
    top = np.argsort(-(real_test > 0).mean(0))[:30]
    for i, (label, x) in enumerate(sets.items()):
        dist = count_distribution((x > 0).sum(1), max_count=MAX_ELEMENTS)
        ax1.bar(np.arange(len(dist)) + i * width, dist, width=width, label=label)
        ax2.bar(np.arange(30) + i * width, (x > 0).mean(0)[top], width=width, label=label)
    ax1.set_xlabel("number of elements")
    ax1.set_ylabel("fraction of compositions")
    ax1.legend()
    ax2.set_xticks(np.arange(30) + 0.4, [ELEMENTS[j] for j in top], fontsize=7)
    ax2.set_ylabel("presence frequency")
    return fig


def summarize(summary) -> None:
    """Two-sample accuracy and novelty of each set over seeds, with 95% intervals."""
    import numpy as np

    from xent_jax.experiment import figure

    fig, axes = figure(1, 2, figsize=(8, 3.2))
    for ax, metric, title in [
        (axes[0, 0], "two_sample_accuracy", "two-sample accuracy (0.5 = indistinguishable)"),
        (axes[0, 1], "novelty", "novelty (not in training)"),
    ]:
        for k, label in enumerate(SETS):
            iv = summary.interval(f"sets/{label}/{metric}")
            ax.bar(k, iv.mean, color=f"C{k}")
            if iv.n > 1 and np.isfinite(iv.low):
                ax.errorbar(k, iv.mean, yerr=[[iv.mean - iv.low], [iv.high - iv.mean]],
                            color="k", capsize=3)  # fmt: skip
            ax.scatter([k] * iv.n, iv.values, color="k", s=8, zorder=3)
        ax.set_xticks(range(len(SETS)), list(SETS.values()))
        ax.set_ylim(0, 1.05)
        ax.set_title(title, fontsize=9)
    summary.save_figure(fig, "gan_materials_two_sample")
    m = summary.first
    summary.lines.append(
        f"Split by composition at {summary.config.decimals} decimals: {m['n_rows']} formulas, "
        f"{m['n_compositions']} compositions ({m['n_rows_sharing_a_composition']} formulas share "
        f"one with another and stay on its side); {m['n_train']} train / {m['n_test']} held-out "
        f"rows. GAN minus naive two-sample accuracy (paired by seed): "
        f"{summary.fmt('gan_minus_naive_two_sample_accuracy', digits=3)}."
    )


def headline(summary) -> str:
    def acc(label):
        return summary.fmt(f"sets/{label}/two_sample_accuracy", digits=3)

    return (
        f"2-sample acc GAN {acc('gan')} vs naive {acc('naive')} (real {acc('real_train')}); "
        f"GAN - naive {summary.fmt('gan_minus_naive_two_sample_accuracy', digits=3)}; "
        f"GAN novelty {summary.fmt('sets/gan/novelty', scale=100, digits=0)}%, "
        f"uniqueness {summary.fmt('sets/gan/uniqueness', scale=100, digits=0)}%"
    )
