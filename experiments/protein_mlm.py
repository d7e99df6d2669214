"""Masked amino-acid prediction (protein language model) on SCL2205 sequences.

Trains the protein Transformer with the masked-LM cross-entropy (resumable), then reports the
honest heldout masked perplexity (every selected residue replaced by ``<mask>``) next to the
unigram baseline computed from train frequencies and a shuffled-context control.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

NAME = "protein-mlm"
DESCRIPTION = "protein masked-LM: honest heldout masked perplexity vs unigram and shuffled context"
ORDER = 70


def _config(size: str) -> dict:
    path = pathlib.Path(__file__).with_name("configs") / "protein_mlm.py"
    spec = importlib.util.spec_from_file_location("xent_configs.protein_mlm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(size)


def _plot(history: list[dict], unigram: float, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in history if "val_perplexity" in r]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(
        [r["step"] for r in history],
        [2.718281828 ** r["train_loss"] for r in history],
        label="train (80/10/10 mask)",
        alpha=0.6,
    )
    ax.plot(
        [r["step"] for r in rows],
        [r["val_perplexity"] for r in rows],
        "o-",
        label="validation (honest mask)",
    )
    if rows:  # the unigram baseline on the same validation positions
        unigram = rows[-1]["val_unigram_perplexity"]
    ax.axhline(unigram, color="k", ls="--", label=f"unigram {unigram:.2f} (same positions)")
    ax.set_xlabel("step")
    ax.set_ylabel("masked perplexity")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict:
    from xent_jax.bio import rare_residue_report
    from xent_jax.data.proteins import load_scl
    from xent_jax.train.mlm import evaluate_heldout, mlm_data, train_mlm, unigram_perplexity

    cfg = _config(size)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model_config.json").write_text(json.dumps({**cfg, "seed": seed}, indent=1))
    data = mlm_data(cfg)
    model, history = train_mlm(
        out_dir, cfg, data["train"], data["val"], seed=seed, progress=size != "tiny"
    )
    final = evaluate_heldout(
        model,
        data["train"],
        data["heldout"],
        max_len=cfg["eval_max_len"],
        tokens_per_batch=cfg["tokens_per_batch"],
        mask_rate=cfg["mask_rate"],
    )
    unigram_all = unigram_perplexity(data["train"], data["heldout_all"])
    _plot(history, final["honest"]["unigram_perplexity"], out_dir / "perplexity.png")
    train_rows = [r for r in history if "tokens_per_s" in r]
    last = history[-1] if history else {}
    return {
        "heldout_honest_perplexity": final["honest"]["perplexity"],
        "heldout_unigram_perplexity_same_positions": final["honest"]["unigram_perplexity"],
        "heldout_unigram_perplexity_all_residues": unigram_all,
        "uniform_perplexity": 20.0,
        "heldout_train_style_perplexity": final["train_style"]["perplexity"],
        "heldout_shuffled_context_perplexity": final["shuffled_context"]["perplexity"],
        "heldout_scored_tokens": final["honest"]["tokens"],
        "heldout_sequences": len(data["heldout"]),
        "train_sequences": len(data["train"]),
        "steps": cfg["steps"],
        "train_tokens_seen": last.get("tokens_seen"),
        "train_seconds": last.get("train_seconds"),
        "tokens_per_s_median": (
            sorted(r["tokens_per_s"] for r in train_rows)[len(train_rows) // 2]
            if train_rows
            else None
        ),
        "final_val_perplexity": last.get("val_perplexity"),
        "rare_residues_in_train": rare_residue_report(load_scl("train")[0]),
        "parameters": sum(
            int(x.size) for x in __import__("jax").tree.leaves(__import__("flax").nnx.state(model))
        ),
        "config": cfg,
        "plot": "perplexity.png",
    }


def headline(metrics: dict) -> str:
    return (
        f"honest masked ppl {metrics['heldout_honest_perplexity']:.2f} vs unigram "
        f"{metrics['heldout_unigram_perplexity_same_positions']:.2f} (shuffled context "
        f"{metrics['heldout_shuffled_context_perplexity']:.2f}); "
        f"{metrics['tokens_per_s_median'] or 0:,.0f} tok/s"
    )
