"""Subcellular localisation from masked-LM embeddings: 13-way softmax versus 12-way sigmoids.

Protocol: frozen, mean-pooled embeddings of the protein masked LM (its N- and C-terminal windows)
feed (a) a 13-way softmax head over the SCL2205 classes as given and (b) a 12-way multi-label
sigmoid head over the single locations (:func:`compare_heads`). Heads are fitted on a seeded subset
of the train split, L2 is chosen on a fixed subset of the eval split, the heldout split is scored
once. Baseline: the same heads on amino-acid composition; control: an untrained Transformer. The
MLM is protein-mlm's pretraining run (shared folder, one pretraining seed); seeds vary the training
subset and the control. Config, command and expected result: ``configs/localization.py``.
"""

from __future__ import annotations

NAME = "localization"
DESCRIPTION = "localisation heads (13-way softmax vs 12-way sigmoid) on MLM embeddings"
ORDER = 80
CONFIG = "localization"

FEATURES = ("composition", "random_transformer", "mlm")


def compare_heads(features, class_ids, multi_hot, *, class_names, locations, l2_grid, steps):
    """Fits both heads on ``train``, picks L2 on ``val``, scores once on ``test``.

    Args:
      features: ``{"train", "val", "test"}`` float ``[n, d]`` (standardised here on train).
      class_ids: the same splits' class ids ``[n]`` (indices into ``class_names``).
      multi_hot: the same splits' bool ``[n, len(locations)]`` location sets.
      class_names: the class names (``;``-joined locations), to turn softmax predictions into sets.
      locations: the location names.
      l2_grid: penalties tried; the softmax head picks by validation accuracy, the sigmoid head by
        validation exact match (the smaller penalty on ties).
      steps: L-BFGS iterations.

    Returns:
      ``(metrics, predictions)``: ``{"softmax": {...}, "sigmoid": {...}}`` with
      :func:`xent_jax.eval.softmax_metrics` (softmax only), :func:`xent_jax.eval.set_metrics` and
      the chosen ``l2``, all on ``test``; and the test predictions ``{"softmax": class ids [n],
      "sigmoid": bool sets [n, labels]}``.
    """
    import numpy as np

    from xent_jax.eval import (
        class_sets,
        fit_linear_head,
        predict_head,
        set_metrics,
        sigmoid_sets,
        softmax_metrics,
        standardize,
    )

    tr, va, te = standardize(features["train"], features["val"], features["test"])
    sets, k, grid = class_sets(class_names, locations), len(class_names), sorted(l2_grid)
    true_te = np.asarray(multi_hot["test"], bool)

    def choose(kind, targets, score):
        classes = k if kind == "softmax" else None
        fits = [fit_linear_head(tr, targets, kind=kind, num_classes=classes, l2=l2, steps=steps)
                for l2 in grid]  # fmt: skip
        scores = [score(np.asarray(predict_head(p, va, kind=kind))) for p in fits]
        best = int(np.argmax(scores))  # first (smallest l2) among ties
        return grid[best], np.asarray(predict_head(fits[best], te, kind=kind))

    l2_soft, probs = choose(
        "softmax", class_ids["train"], lambda p: np.mean(p.argmax(1) == class_ids["val"])
    )
    pred = probs.argmax(1)
    soft = {"l2": l2_soft, **softmax_metrics(class_ids["test"], pred, k)}
    soft.update(set_metrics(true_te, sets[pred]))
    val_sets = np.asarray(multi_hot["val"], bool)
    l2_sig, probs = choose(
        "sigmoid", multi_hot["train"], lambda p: np.mean((sigmoid_sets(p) == val_sets).all(1))
    )
    pred_sets = sigmoid_sets(probs)
    sig = {"l2": l2_sig, **set_metrics(true_te, pred_sets)}
    return {"softmax": soft, "sigmoid": sig}, {"softmax": pred, "sigmoid": pred_sets}


def mlm_workdir(run):
    """protein-mlm's pretraining folder for this config's ``mlm`` and ``mlm_seed``.

    It is the folder ``run.fit(name="pretrain")`` uses in the protein-mlm study, so the two
    studies share one pretraining run when they use the same ``--out``.
    """
    from xent_jax.experiment import study_cache_dir

    cache = study_cache_dir(run.out.parent, "protein-mlm", run.config.mlm, run.config.mlm_seed)
    return cache / "pretrain"


def run(run):
    import jax
    import numpy as np

    from xent_jax.data.proteins import (
        SCL_CLASSES,
        SCL_LOCATIONS,
        composition_features,
        load_scl,
        scl_targets,
        terminal_windows,
        tokenize_all,
    )
    from xent_jax.eval import bootstrap_interval
    from xent_jax.recipes.mlm import (
        build_model,
        embed_sequences,
        mlm_data,
        mlm_training,
        subset_indices,
    )

    cfg, mlm_cfg = run.config, run.config.mlm
    workdir = mlm_workdir(run)
    shared = (workdir / "metrics.jsonl").exists()
    data = mlm_data(mlm_cfg)
    mlm_key = jax.random.key(cfg.mlm_seed)  # protein-mlm's run.key for that seed
    job = mlm_training(mlm_cfg, data["train"], data["val"], key=mlm_key)
    res = run.fit(job.step, job.state, job.batch_fn, name="pretrain", key=mlm_key,
                  workdir=workdir, desc=f"protein-mlm/pretrain s{cfg.mlm_seed}",
                  **job.fit_options)  # fmt: skip
    source = "read back" if res.resumed_from == mlm_cfg.steps else "trained"
    source += f" ({'found' if shared else 'new'} in {workdir.relative_to(run.out.parent)})"

    tokens, class_ids, multi_hot = {}, {}, {}
    for name, split, count, seed in (
        ("train", "train", cfg.train_sequences, 1000 + run.seed),  # the seed's training subset
        ("val", "eval", cfg.val_sequences, 12_345),
        ("test", "heldout", cfg.test_sequences, 12_345),
    ):
        seqs, classes = load_scl(split)
        idx = subset_indices(len(seqs), count, seed=seed)
        tokens[name] = tokenize_all([seqs[i] for i in idx])
        class_ids[name], multi_hot[name] = scl_targets([classes[i] for i in idx])

    def embed(model):
        out = {}
        for name, toks in tokens.items():
            first, last = terminal_windows(toks, n_term=cfg.n_term, c_term=cfg.c_term)
            kw = dict(rows=cfg.embed_rows, progress=run.progress)
            out[name] = np.concatenate([embed_sequences(model, first, max_len=cfg.n_term, **kw),
                                        embed_sequences(model, last, max_len=cfg.c_term, **kw)],
                                       axis=1)  # fmt: skip
        return out

    def all_features():
        feats = {"composition": {k: composition_features(v) for k, v in tokens.items()}}
        feats["mlm"] = embed(job.model(res.state))
        if cfg.random_control:
            feats["random_transformer"] = embed(build_model(mlm_cfg, key=run.key))
        return {f"{f}:{s}": x for f, split in feats.items() for s, x in split.items()}

    flat = run.cached_arrays("features", all_features)
    results, predictions = {}, {}
    for name in FEATURES:
        if f"{name}:train" in flat:
            feats = {s: flat[f"{name}:{s}"] for s in ("train", "val", "test")}
            results[name], predictions[name] = compare_heads(
                feats, class_ids, multi_hot, class_names=SCL_CLASSES, locations=SCL_LOCATIONS,
                l2_grid=tuple(cfg.l2_grid), steps=cfg.lbfgs_steps,
            )  # fmt: skip
    true_sets = np.asarray(multi_hot["test"], bool)
    hits = {  # per test protein: 1 when the head is right
        name: {
            "softmax_accuracy": (p["softmax"] == class_ids["test"]).astype(np.float32),
            "sigmoid_exact_match": (p["sigmoid"] == true_sets).all(1).astype(np.float32),
        }
        for name, p in predictions.items()
    }
    gains = {}
    for metric in ("softmax_accuracy", "sigmoid_exact_match"):  # paired over test proteins
        iv = bootstrap_interval(
            lambda a, b: (a - b).mean(), hits["mlm"][metric], hits["composition"][metric],
            key=jax.random.fold_in(run.key, 2), num_resamples=cfg.bootstrap_resamples,
        )  # fmt: skip
        gains[metric] = {"mean": iv.mean, "low": iv.low, "high": iv.high}
    return {
        **results,
        "mlm_minus_composition": gains,
        "mlm_source": source,
        "mlm_val_perplexity": res.hooks["val"]["perplexity"],
        "sizes": {k: len(v) for k, v in tokens.items()},
        "test_multi_location_proteins": int((true_sets.sum(1) > 1).sum()),
    }


def summarize(summary) -> None:
    from xent_jax.experiment import figure

    bars = [("softmax", "accuracy"), ("softmax", "macro_f1"), ("sigmoid", "exact_match"),
            ("sigmoid", "jaccard"), ("sigmoid", "macro_f1")]  # fmt: skip
    names = [n for n in FEATURES if f"{n}/softmax/accuracy" in summary]
    fig, axes = figure(figsize=(7, 3.2))
    ax, width = axes[0, 0], 0.8 / len(names)
    for i, name in enumerate(names):
        ivs = [summary.interval(f"{name}/{h}/{m}") for h, m in bars]
        err = [[iv.mean - iv.low for iv in ivs], [iv.high - iv.mean for iv in ivs]]
        if len(summary.seeds) == 1:
            err = None
        ax.bar([j + i * width for j in range(len(bars))], [iv.mean for iv in ivs], width,
               yerr=err, capsize=2, label=name)  # fmt: skip
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(bars))])
    ax.set_xticklabels([f"{h}\n{m}" for h, m in bars], fontsize=8)
    ax.set_ylabel("heldout")
    ax.legend(fontsize=8)
    summary.save_figure(fig, "localization")


def headline(summary) -> str:
    def f(path):
        return summary.fmt(path, digits=3)

    g = summary.first["mlm_minus_composition"]
    seeds = len(summary.seeds)
    return (
        f"softmax acc {f('mlm/softmax/accuracy')} (composition "
        f"{f('composition/softmax/accuracy')}); "
        f"sigmoid exact match {f('mlm/sigmoid/exact_match')} (composition "
        f"{f('composition/sigmoid/exact_match')}); MLM minus composition, seed {summary.seeds[0]}, "
        f"95% paired bootstrap: softmax {g['softmax_accuracy']['mean']:+.3f} "
        f"[{g['softmax_accuracy']['low']:+.3f}, {g['softmax_accuracy']['high']:+.3f}]; "
        f"1 pretraining seed, heads over {seeds} seed(s)"
    )
