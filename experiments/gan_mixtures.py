"""GANs trained with binary cross-entropy on the ring (8 modes) and grid (25 modes) mixtures.

Protocol (VEEGAN, Srivastava et al. 2017): for each mixture and generator loss (non-saturating,
minimax) a GAN with a packed discriminator is trained on fresh samples of the mixture, then 2,500
samples are drawn; a sample is high quality when it lies within 3 std of its nearest mode, a mode
is covered when it holds a high-quality sample. Both losses of one seed start from the same
initial networks (a paired comparison). With ``--seeds K`` the K seeds of each (mixture, loss)
train as one vmapped program (:func:`run_seeds`); each seed equals its separate run. Baselines
are the targets from the literature (``TARGETS``; VEEGAN's Table 1 in the README). Config,
command and expected result: ``configs/gan_mixtures.py``.
"""

from __future__ import annotations

NAME = "gan-mixtures"
DESCRIPTION = "BCE GAN (packed discriminator) on ring/grid mixtures: modes covered, % high quality"
ORDER = 40
CONFIG = "gan_mixtures"

TARGETS = {"ring": (7.5, 0.5), "grid": (23.0, 0.4)}  # (modes covered, high-quality fraction)
SHORT = {"non_saturating": "NS", "minimax": "minimax"}


def _setup(cfg, name: str, loss: str, seed: int):
    """The GAN of one (mixture, loss, seed): ``(gan, initial state, step)``."""
    from flax import nnx

    from xent_jax.data.mixtures import mixture
    from xent_jax.models import Discriminator, Generator
    from xent_jax.recipes.gan import GANConfig, gan_step, init_gan_state, mixture_sampler

    centers, std = mixture(name)
    m = cfg[name]
    config = GANConfig(
        batch_size=cfg.batch_size,
        generator_loss=loss,
        g_learning_rate=m.g_learning_rate,
        d_learning_rate=m.d_learning_rate,
    )
    g = Generator(cfg.noise_dim, 2, hidden=cfg.hidden, rngs=nnx.Rngs(2 * seed))
    d = Discriminator(2, hidden=cfg.hidden, pack=cfg.pack, rngs=nnx.Rngs(2 * seed + 1))
    gan, state = init_gan_state(g, d, config)
    return gan, state, gan_step(gan, mixture_sampler(centers, std))


def _fit_options(cfg) -> dict:
    # examples_per_step: real samples per step, for the throughput shown and logged.
    return {
        "steps_per_call": cfg.steps_per_call,
        "log_every": cfg.log_every,
        "checkpoint_every": cfg.checkpoint_every,
        "examples_per_step": cfg.batch_size,
    }


def _evaluate(run, gan, state, name: str, train: dict):
    """VEEGAN mode coverage of 2,500 samples, and the last logged train losses."""
    import jax

    from xent_jax.data.mixtures import mixture
    from xent_jax.eval import mode_coverage
    from xent_jax.recipes.gan import sample

    centers, std = mixture(name)
    x = sample(gan, state, jax.random.fold_in(run.key, 10_000), run.config.n_eval)
    cov = mode_coverage(x, centers, std, n_std=run.config.n_std)
    metrics = {
        "modes": cov["modes"],
        "modes_total": len(centers),
        "high_quality": cov["high_quality"],
        "d_loss": train["d_loss"],
        "g_loss": train["g_loss"],
        "d_real": train["d_real"],
        "d_fake": train["d_fake"],
    }
    return metrics, x


def run(run) -> dict:
    """One seed: every (mixture, loss) GAN trained by ``run.fit`` and evaluated."""
    cfg = run.config
    metrics, samples = {}, {}
    for name in cfg.mixtures:
        for loss in cfg.losses:
            gan, state, step = _setup(cfg, name, loss, run.seed)
            res = run.fit(step, state, None, name=f"{name}_{loss}", steps=cfg[name].steps,
                          **_fit_options(cfg))  # fmt: skip
            m, samples[name, loss] = _evaluate(run, gan, res.state, name, res.train)
            metrics.setdefault(name, {})[loss] = m
    run.save_figure(_scatter(cfg, samples), "gan_mixtures_scatter")
    return metrics


def run_seeds(runs) -> list[dict]:
    """All seeds at once: each (mixture, loss) trains its K seeds as one vmapped program."""
    from xent_jax.train import seed_keys, stack_seeds, unstack_seeds, vmap_seeds

    cfg, seeds = runs[0].config, [r.seed for r in runs]
    folder = "seeds_" + "_".join(map(str, seeds))  # keyed by config (cache_dir) and seeds
    per_seed = [{} for _ in runs]
    samples = [{} for _ in runs]
    for name in cfg.mixtures:
        for loss in cfg.losses:
            parts = [_setup(cfg, name, loss, s) for s in seeds]
            gan, step = parts[0][0], parts[0][2]  # equal for every seed (same architecture)
            res = runs[0].fit(
                vmap_seeds(step, batch_axis=None), stack_seeds([p[1] for p in parts]), None,
                name=f"{folder}/{name}_{loss}", steps=cfg[name].steps, key=seed_keys(seeds),
                **_fit_options(cfg),
            )  # fmt: skip
            for i, (r, state) in enumerate(zip(runs, unstack_seeds(res.state), strict=True)):
                train = {k: v[i] for k, v in res.train.items()}
                m, samples[i][name, loss] = _evaluate(r, gan, state, name, train)
                per_seed[i].setdefault(name, {})[loss] = m
    for r, s in zip(runs, samples, strict=True):
        r.save_figure(_scatter(cfg, s), "gan_mixtures_scatter")
    return per_seed


def _scatter(cfg, samples):
    """Real and generated samples per mixture (rows) and loss (columns)."""
    import jax
    import numpy as np

    from xent_jax.data.mixtures import mixture, sample_mixture
    from xent_jax.experiment import figure

    names, losses = list(cfg.mixtures), list(cfg.losses)
    fig, axes = figure(len(names), len(losses) + 1, figsize=(3.2 * (len(losses) + 1),
                                                             3.2 * len(names)))  # fmt: skip
    for i, name in enumerate(names):
        centers, std = mixture(name)
        real = np.asarray(sample_mixture(jax.random.key(0), centers, std, cfg.n_eval))
        lim = np.abs(centers).max() + 1.5
        for j, (title, x) in enumerate(
            [("real", real)] + [(lo, samples[name, lo]) for lo in losses]
        ):
            ax = axes[i, j]
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4)
            ax.scatter(centers[:, 0], centers[:, 1], s=12, c="red", marker="x")
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_title(f"{name}: {title}", fontsize=9)
    return fig


def summarize(summary) -> None:
    """Modes covered and high-quality fraction over seeds, with 95% intervals, per setting."""
    import numpy as np

    from xent_jax.experiment import figure

    cfg = summary.config
    fig, axes = figure(1, 2, figsize=(9, 3.4))
    settings = [(n, lo) for n in cfg.mixtures for lo in cfg.losses]
    labels = [f"{n} {SHORT[lo]}" for n, lo in settings]
    for ax, metric, scale, title in [
        (axes[0, 0], "modes", None, "modes covered (fraction of all)"),
        (axes[0, 1], "high_quality", 1.0, "high-quality samples"),
    ]:
        for k, (n, lo) in enumerate(settings):
            total = summary.first[n][lo]["modes_total"] if scale is None else scale
            iv = summary.interval(f"{n}/{lo}/{metric}")
            ax.bar(k, iv.mean / total, color="C0" if lo == "non_saturating" else "C1")
            if iv.n > 1 and np.isfinite(iv.low):
                ax.errorbar(k, iv.mean / total, yerr=[[(iv.mean - iv.low) / total],
                            [(iv.high - iv.mean) / total]], color="k", capsize=3)  # fmt: skip
            ax.scatter([k] * iv.n, np.asarray(iv.values) / total, color="k", s=8, zorder=3)
            target = TARGETS[n][0] / total if scale is None else TARGETS[n][1]
            ax.hlines(target, k - 0.4, k + 0.4, colors="r", linestyles="--", lw=1)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{title}; red: target", fontsize=9)
    summary.save_figure(fig, "gan_mixtures_coverage")
    n = len(summary.seeds)
    summary.lines.append(
        f"VEEGAN protocol, {cfg.n_eval} samples per GAN, {n} seed(s); mean [95% interval over "
        f"seeds]. Targets: "
        + ", ".join(
            f"{k} {v[0]} modes and {100 * v[1]:.0f}% high quality" for k, v in TARGETS.items()
        )  # fmt: skip
    )


def headline(summary) -> str:
    cfg, parts = summary.config, []
    for name in cfg.mixtures:
        for loss in cfg.losses:
            p = f"{name}/{loss}"
            total = summary.first[name][loss]["modes_total"]
            parts.append(
                f"{name} {SHORT[loss]}: {summary.fmt(p + '/modes')}/{total} modes, "
                f"{summary.fmt(p + '/high_quality', scale=100, digits=0)}% HQ"
            )
    return "; ".join(parts)
