"""Masked amino-acid prediction (protein language model) on SCL2205 sequences.

Protocol: the Transformer is trained with the masked-LM cross-entropy on the train split (random
crops, 80/10/10 masking; ``xent_jax.recipes.mlm``), with a validation-perplexity curve on a fixed
subset of the eval split. The heldout split is read once, at the end: honest masked perplexity
(every selected residue becomes ``<mask>``) next to the unigram baseline (train frequencies) scored
on the same positions, a shuffled-context control (composition kept, order destroyed) and the
training-style corruption. One pretraining seed; intervals are 95% percentile bootstraps over
heldout proteins (PROTOCOL.md's pretraining exception). Config, command and expected result:
``configs/protein_mlm.py``.
"""

from __future__ import annotations

NAME = "protein-mlm"
DESCRIPTION = "protein masked-LM: honest heldout masked perplexity vs unigram and shuffled context"
ORDER = 70
CONFIG = "protein_mlm"


def run(run):
    import jax
    import jax.numpy as jnp

    from xent_jax.bio import rare_residue_report
    from xent_jax.data.proteins import load_scl
    from xent_jax.eval import bootstrap_interval, evaluate_heldout, unigram_perplexity
    from xent_jax.recipes.mlm import mlm_data, mlm_training, residue_count
    from xent_jax.train import read_metrics

    cfg = run.config
    data = mlm_data(cfg)
    job = mlm_training(cfg, data["train"], data["val"], key=run.key)
    res = run.fit(job.step, job.state, job.batch_fn, name="pretrain", **job.fit_options)

    def evaluate():  # the heldout split, read once (cached with the run)
        out = evaluate_heldout(
            job.logits_fn, job.variables(res.state), data["train"], data["heldout"],
            max_len=cfg.eval_max_len, tokens_per_batch=cfg.tokens_per_batch,
            mask_rate=cfg.mask_rate,
        )  # fmt: skip
        boot = dict(key=jax.random.fold_in(run.key, 1), num_resamples=cfg.bootstrap_resamples)
        honest, shuffled = out["honest"], out["shuffled_context"]
        gain = bootstrap_interval(  # paired over proteins: the same positions in both
            lambda h, s, n: jnp.exp(s.sum() / n.sum()) - jnp.exp(h.sum() / n.sum()),
            honest.example_nll, shuffled.example_nll, honest.example_tokens.astype(float), **boot,
        )  # fmt: skip
        intervals = {
            "perplexity": honest.interval(**boot),
            "unigram_perplexity": honest.interval(baseline=True, **boot),
            "shuffled_context_perplexity": shuffled.interval(**boot),
            "order_gain": gain,
        }
        metrics = {
            **honest.metrics(),
            "shuffled_context_perplexity": shuffled.perplexity,
            "train_style_perplexity": out["train_style"].perplexity,
            "order_gain": shuffled.perplexity - honest.perplexity,
            "sequences": len(data["heldout"]),
        }
        for name, iv in intervals.items():
            metrics[f"{name}_low"], metrics[f"{name}_high"] = iv.low, iv.high
        return metrics

    timing = read_metrics(run.workdir("pretrain"), split="timing")
    rates = sorted(r["tokens_per_s"] for r in timing)
    fig = _curves(read_metrics(run.workdir("pretrain")))
    run.save_figure(fig, "perplexity")
    return {
        "heldout": run.cached("heldout", evaluate),
        "heldout_unigram_perplexity_all_residues": unigram_perplexity(
            data["train"], data["heldout_all"]
        ),
        "uniform_perplexity": 20.0,
        "final_val_perplexity": res.hooks["val"]["perplexity"],
        "steps": cfg.steps,
        "train_sequences": len(data["train"]),
        "train_tokens_seen": sum(residue_count(job.batch_fn(s)) for s in range(cfg.steps)),
        "train_seconds_last_call": timing[-1]["seconds"] if timing else 0.0,
        "tokens_per_s_median": rates[len(rates) // 2] if rates else 0.0,
        "parameters": sum(int(x.size) for x in jax.tree.leaves(res.state["params"])),
        "rare_residues_in_train": rare_residue_report(load_scl("train")[0]),
        "resumed_from": res.resumed_from,
    }


def _curves(log):
    import math

    from xent_jax.experiment import figure

    fig, axes = figure(figsize=(5, 3.2))
    ax = axes[0, 0]
    train = [r for r in log if r["split"] == "train"]
    val = [r for r in log if r["split"] == "val"]
    ax.plot([r["step"] for r in train], [math.exp(r["loss"]) for r in train], alpha=0.6,
            label="train (80/10/10 mask)")  # fmt: skip
    ax.plot([r["step"] for r in val], [r["perplexity"] for r in val], "o-",
            label="validation (honest mask)")  # fmt: skip
    if val:
        uni = val[-1]["unigram_perplexity"]
        ax.axhline(uni, color="k", ls="--", label=f"unigram {uni:.2f} (same positions)")
    ax.set_xlabel("step")
    ax.set_ylabel("masked perplexity")
    ax.legend()
    return fig


def headline(summary) -> str:
    h = summary.first["heldout"]
    n = h["sequences"]
    if len(summary.seeds) == 1:

        def f(name):
            return f"{h[name]:.2f} [{h[name + '_low']:.2f}, {h[name + '_high']:.2f}]"

        how = f"1 pretraining seed, 95% bootstrap over {n} heldout proteins"
    else:

        def f(name):
            return summary.fmt(f"heldout/{name}", digits=2)

        how = f"{len(summary.seeds)} seeds, 95% t-interval"
    return (
        f"honest masked ppl {f('perplexity')} vs unigram {f('unigram_perplexity')} on the same "
        f"positions (shuffled context {f('shuffled_context_perplexity')}; {how}); "
        f"{summary.mean('tokens_per_s_median'):,.0f} tok/s"
    )
