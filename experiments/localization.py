"""Subcellular localisation from masked-LM embeddings: 13-way softmax versus 12-way sigmoids.

Frozen, mean-pooled embeddings of the protein masked LM feed (a) a 13-way softmax head over the
SCL2205 classes as given and (b) a 12-way multi-label sigmoid head over the single locations.
Both are compared with the same heads on amino-acid composition (the baseline) and on an
untrained Transformer (the control), on the heldout split.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

NAME = "localization"
DESCRIPTION = "localisation heads (13-way softmax vs 12-way sigmoid) on MLM embeddings"
ORDER = 80


def _load_config(name: str, size: str) -> dict:
    path = pathlib.Path(__file__).with_name("configs") / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"xent_configs.{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(size)


def _mlm(out_dir: pathlib.Path, size: str, seed: int):
    """Loads the protein-mlm run's model if it matches this size, else trains one here."""
    from xent_jax.train.mlm import mlm_data, train_mlm

    mlm_cfg = _load_config("protein_mlm", size)
    wanted = json.loads(json.dumps({**mlm_cfg, "seed": seed}))
    sibling = out_dir.parent / "protein-mlm"
    cfg_file = sibling / "model_config.json"
    source = "trained here (no matching protein-mlm run found)"
    run_dir = out_dir / "mlm"
    if cfg_file.exists() and json.loads(cfg_file.read_text()) == wanted:
        from xent_jax.train.checkpoint import Checkpointer

        with Checkpointer(sibling / "checkpoints") as ckpt:
            if ckpt.latest_step() == mlm_cfg["steps"]:
                run_dir, source = sibling, f"loaded from {sibling}"
    data = mlm_data(mlm_cfg)
    model, history = train_mlm(
        run_dir, mlm_cfg, data["train"], data["val"], seed=seed, progress=size != "tiny"
    )
    return model, mlm_cfg, source, history


def _plot(results: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    metrics = [
        ("softmax", "accuracy"),
        ("softmax", "macro_f1"),
        ("sigmoid", "exact_match"),
        ("sigmoid", "jaccard"),
        ("sigmoid", "macro_f1"),
    ]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        vals = [results[name][h][m] for h, m in metrics]
        ax.bar([j + i * width for j in range(len(metrics))], vals, width, label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(metrics))])
    ax.set_xticklabels([f"{h}\n{m}" for h, m in metrics], fontsize=8)
    ax.set_ylabel("heldout")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict:
    import time

    import numpy as np

    from xent_jax.data.proteins import (
        SCL_CLASSES,
        SCL_LOCATIONS,
        load_scl,
        scl_targets,
        tokenize_all,
    )
    from xent_jax.train.localization import compare_heads, composition_features, terminal_windows
    from xent_jax.train.mlm import build_model, embed_sequences, subset_indices

    cfg = _load_config("localization", size)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, mlm_cfg, source, _ = _mlm(out_dir, size, seed)

    splits = {"train": "train", "val": "eval", "test": "heldout"}
    counts = {
        "train": cfg["train_sequences"],
        "val": cfg["val_sequences"],
        "test": cfg["test_sequences"],
    }
    tokens, class_ids, multi_hot = {}, {}, {}
    for name, split in splits.items():
        seqs, classes = load_scl(split)
        idx = subset_indices(len(seqs), counts[name])
        tokens[name] = tokenize_all([seqs[i] for i in idx])
        class_ids[name], multi_hot[name] = scl_targets([classes[i] for i in idx])

    def embed_all(m) -> dict:
        out = {}
        for name, toks in tokens.items():
            first, last = terminal_windows(toks, n_term=cfg["n_term"], c_term=cfg["c_term"])
            out[name] = np.concatenate(
                [
                    embed_sequences(
                        m,
                        first,
                        max_len=cfg["n_term"],
                        rows=cfg["embed_rows"],
                        progress=size != "tiny",
                    ),
                    embed_sequences(
                        m,
                        last,
                        max_len=cfg["c_term"],
                        rows=cfg["embed_rows"],
                        progress=size != "tiny",
                    ),
                ],
                axis=1,
            )
        return out

    features = {"composition": {k: composition_features(v) for k, v in tokens.items()}}
    t0 = time.perf_counter()
    features["mlm"] = embed_all(model)
    embed_seconds = time.perf_counter() - t0
    if cfg["random_control"]:
        features["random_transformer"] = embed_all(build_model(mlm_cfg, seed=seed + 1))

    common = dict(
        class_names=SCL_CLASSES,
        locations=SCL_LOCATIONS,
        l2_grid=cfg["l2_grid"],
        steps=cfg["lbfgs_steps"],
    )
    results = {
        name: compare_heads(f, class_ids, multi_hot, **common) for name, f in features.items()
    }
    _plot(results, out_dir / "localization.png")
    test_multi = int((multi_hot["test"].sum(1) > 1).sum())
    summary = {}
    for name, res in results.items():
        summary[f"{name}_softmax_accuracy"] = res["softmax"]["accuracy"]
        summary[f"{name}_softmax_macro_f1"] = res["softmax"]["macro_f1"]
        summary[f"{name}_sigmoid_exact_match"] = res["sigmoid"]["exact_match"]
        summary[f"{name}_sigmoid_jaccard"] = res["sigmoid"]["jaccard"]
    return {
        **summary,
        "results": results,
        "locations": list(SCL_LOCATIONS),
        "classes": list(SCL_CLASSES),
        "mlm_source": source,
        "mlm_size": size,
        "sizes": {k: len(v) for k, v in tokens.items()},
        "test_multi_location_proteins": test_multi,
        "embed_seconds_mlm": embed_seconds,
        "config": cfg,
        "plot": "localization.png",
    }


def headline(metrics: dict) -> str:
    return (
        f"softmax acc {metrics['mlm_softmax_accuracy']:.3f} (composition "
        f"{metrics['composition_softmax_accuracy']:.3f}); sigmoid exact match "
        f"{metrics['mlm_sigmoid_exact_match']:.3f} (composition "
        f"{metrics['composition_sigmoid_exact_match']:.3f})"
    )
