"""Masked-language-model training and evaluation for the protein Transformer.

The loop is resumable: the parameters and optimizer state are checkpointed with
:class:`xent_jax.train.checkpoint.Checkpointer` every ``ckpt_every`` steps; the batch order and the
masking keys depend only on ``(seed, step)``, so an interrupted run that resumes gives the same
result as an uninterrupted one. Metrics go to ``metrics.jsonl`` (one line per log interval) and
throughput is reported in residue tokens per second.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from xent_jax.bio.vocab import FIRST_RESIDUE, PAD, VOCAB_SIZE
from xent_jax.data.proteins import (
    bucket_batches,
    shuffle_residues,
    split_windows,
    unigram_frequencies,
)
from xent_jax.losses import softmax_cross_entropy_with_integer_labels
from xent_jax.models.transformer import ProteinTransformer
from xent_jax.tasks.masking import mask_tokens, masked_lm_loss, residue_mask
from xent_jax.train import Checkpointer
from xent_jax.train import MetricsLogger, read_metrics

MODEL_KEYS = ("d_model", "num_layers", "num_heads", "mlp_dim", "max_len")
EVAL_SEED = 20_241_128
"""Fixed key for evaluation masks, so every model is scored on the same positions."""


def build_model(cfg: dict[str, Any], *, seed: int) -> ProteinTransformer:
    """Creates the Transformer from a config's model keys (``d_model``, ``num_layers``, ...)."""
    kwargs = {k: cfg[k] for k in MODEL_KEYS if k in cfg}
    return ProteinTransformer(vocab_size=VOCAB_SIZE, pad_id=PAD, rngs=nnx.Rngs(seed), **kwargs)


def make_optimizer(cfg: dict[str, Any]) -> optax.GradientTransformation:
    """AdamW with linear warm-up, cosine decay to ``lr * final_lr_fraction``, clipping at 1."""
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=cfg["lr"],
        warmup_steps=cfg["warmup_steps"],
        decay_steps=max(cfg["steps"], cfg["warmup_steps"] + 1),
        end_value=cfg["lr"] * cfg.get("final_lr_fraction", 0.1),
    )
    return optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(schedule, b1=0.9, b2=0.98, weight_decay=cfg.get("weight_decay", 0.01)),
    )


def make_train_step(
    graphdef: nnx.GraphDef,
    rest: Any,
    tx: optax.GradientTransformation,
    *,
    mask_rate: float = 0.15,
) -> Callable:
    """Returns a jitted ``step(params, opt_state, tokens, key) -> (params, opt_state, loss, n)``.

    ``graphdef, params, rest = nnx.split(model, nnx.Param, ...)``; only ``params`` is trained.

    The batch is masked inside the step (80/10/10 of ``mask_rate`` of the residues) and the loss
    is the cross-entropy over masked positions divided by their number.
    """

    def loss_fn(params, tokens, key):
        model = nnx.merge(graphdef, params, rest)
        masked = mask_tokens(key, tokens, mask_rate=mask_rate)
        logits = model(masked.inputs)
        return masked_lm_loss(logits, masked.targets, masked.loss_mask)

    @jax.jit
    def step(params, opt_state, tokens, key):
        (loss, count), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, tokens, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, loss, count

    return step


@functools.lru_cache(maxsize=8)
def _eval_step_fn(graphdef: nnx.GraphDef) -> Callable:
    @functools.partial(jax.jit, static_argnums=(5, 6, 7))
    def step(params, rest, tokens, key, log_unigram, mask_prob, random_prob, mask_rate):
        model = nnx.merge(graphdef, params, rest)
        masked = mask_tokens(
            key, tokens, mask_rate=mask_rate, mask_prob=mask_prob, random_prob=random_prob
        )
        logits = model(masked.inputs)
        per_token = softmax_cross_entropy_with_integer_labels(logits, masked.targets)
        m = masked.loss_mask
        nll = jnp.where(m, per_token, 0.0).sum()
        uni = jnp.where(m, -log_unigram[masked.targets], 0.0).sum()
        return nll, uni, m.sum()

    return step


def eval_batches(
    token_arrays: Sequence[np.ndarray],
    *,
    max_len: int,
    tokens_per_batch: int,
    boundaries: Sequence[int] | None = None,
) -> list[np.ndarray]:
    """Deterministic evaluation batches: every sequence cut into windows of ``max_len``."""
    windows = [w for t in token_arrays for w in split_windows(t, max_len)]
    bounds = boundaries or (max(1, max_len // 2), max_len)
    return bucket_batches(windows, boundaries=bounds, tokens_per_batch=tokens_per_batch)


def masked_perplexity(
    model: ProteinTransformer,
    batches: Sequence[np.ndarray],
    *,
    log_unigram: np.ndarray,
    mask_rate: float = 0.15,
    mask_prob: float = 1.0,
    random_prob: float = 0.0,
    shuffle_context: bool = False,
    seed: int = EVAL_SEED,
    step_fn: Callable | None = None,
) -> dict[str, float]:
    """Masked-token perplexity of a model over batches, next to the unigram baseline.

    The default (``mask_prob=1``) is the honest evaluation: every selected residue becomes
    ``<mask>``. ``mask_prob=0.8, random_prob=0.1`` reproduces the training corruption.
    ``shuffle_context=True`` permutes the residues of each window first (the model then sees the
    composition but not the order). Masks depend only on ``seed`` and the batch index.

    Args:
      model: the model (evaluated as is; dropout, if any, is not switched off here).
      batches: int ``[rows, length]`` batches.
      log_unigram: ``[vocab]`` log frequencies for the baseline scored at the same positions.
      mask_rate, mask_prob, random_prob: the corruption.
      shuffle_context: apply the shuffled-context control.
      seed: evaluation seed.
      step_fn: a cached evaluation step (from a previous call's ``"_step_fn"``), to avoid
        recompiling.

    Returns:
      dict with ``perplexity``, ``nll`` (nats/token), ``unigram_perplexity`` on the same
      positions, and ``tokens`` (how many positions were scored).
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    step = step_fn or _eval_step_fn(graphdef)
    log_uni = jnp.asarray(log_unigram, jnp.float32)
    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    nll = uni = 0.0
    count = 0
    for i, batch in enumerate(batches):
        if shuffle_context:
            batch = shuffle_residues(batch, rng, first_residue=FIRST_RESIDUE)
        a, b, c = step(
            params,
            rest,
            jnp.asarray(batch),
            jax.random.fold_in(key, i),
            log_uni,
            float(mask_prob),
            float(random_prob),
            float(mask_rate),
        )
        nll += float(a)
        uni += float(b)
        count += int(c)
    denom = max(count, 1)
    return {
        "perplexity": float(np.exp(nll / denom)),
        "nll": nll / denom,
        "unigram_perplexity": float(np.exp(uni / denom)),
        "tokens": count,
    }


def _epoch_batches(train_tokens, cfg, seed: int, epoch: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, epoch])
    return bucket_batches(
        train_tokens,
        boundaries=cfg["boundaries"],
        tokens_per_batch=cfg["tokens_per_batch"],
        rng=rng,
        drop_last=True,
    )


def train_mlm(
    out_dir: str | Path,
    cfg: dict[str, Any],
    train_tokens: Sequence[np.ndarray],
    val_tokens: Sequence[np.ndarray],
    *,
    seed: int = 0,
    progress: bool = True,
) -> tuple[ProteinTransformer, list[dict[str, Any]]]:
    """Trains (or resumes, or just loads) the masked language model.

    Writes ``out_dir/checkpoints/`` and ``out_dir/metrics.jsonl``. If a checkpoint at
    ``cfg["steps"]`` exists the model is loaded and no step is run.

    Args:
      out_dir: the run folder.
      cfg: the config (model keys, ``steps``, ``lr``, ``warmup_steps``, ``tokens_per_batch``,
        ``boundaries``, ``mask_rate``, ``log_every``, ``eval_every``, ``ckpt_every``,
        ``eval_max_len``).
      train_tokens: tokenised training sequences.
      val_tokens: tokenised validation sequences (for the perplexity curve, honest mask).
      seed: controls the initialisation, batch order and masks.
      progress: show a tqdm progress bar.

    Returns:
      ``(model, history)`` where history is the list of logged records.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(cfg, seed=seed)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = make_optimizer(cfg)
    opt_state = tx.init(params)
    logger = MetricsLogger(out_dir / "metrics.jsonl")
    ckpt = Checkpointer(out_dir / "checkpoints", max_to_keep=2)
    start = 0
    elapsed = 0.0
    tokens_seen = 0
    latest = ckpt.latest_step()
    if latest is not None:
        (params, opt_state), extra = ckpt.restore((params, opt_state))
        start = latest
        elapsed = float(extra.get("train_seconds", 0.0))
        tokens_seen = int(extra.get("tokens_seen", 0))
        logger.truncate_after(start)
        state = "complete, loaded" if start >= int(cfg["steps"]) else "resuming"
        print(f"masked LM: {state} at step {start} ({out_dir / 'checkpoints'})", flush=True)

    total = int(cfg["steps"])
    if start < total:
        train_step = make_train_step(graphdef, rest, tx, mask_rate=cfg.get("mask_rate", 0.15))
        log_uni = np.log(
            unigram_frequencies(train_tokens, VOCAB_SIZE, eligible_from=FIRST_RESIDUE) + 1e-30
        )
        val_batches = eval_batches(
            val_tokens, max_len=cfg["eval_max_len"], tokens_per_batch=cfg["tokens_per_batch"]
        )
        eval_step = _eval_step_fn(graphdef)
        base_key = jax.random.key(seed)
        epoch_cache: dict[int, list[np.ndarray]] = {}
        n_first = len(_epoch_batches(train_tokens, cfg, seed, 0))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, desc="masked LM", unit="step")
        window_tokens, window_start = 0, time.perf_counter()
        loss_acc, loss_n = 0.0, 0
        for step in range(start, total):
            epoch, index = divmod(step, n_first)
            if epoch not in epoch_cache:
                epoch_cache = {epoch: _epoch_batches(train_tokens, cfg, seed, epoch)}
            batches = epoch_cache[epoch]
            batch = batches[index % len(batches)]
            params, opt_state, loss, _ = train_step(
                params, opt_state, jnp.asarray(batch), jax.random.fold_in(base_key, step)
            )
            window_tokens += int(np.count_nonzero(batch >= FIRST_RESIDUE))
            loss_acc += float(loss)
            loss_n += 1
            done = step + 1
            if done % cfg["log_every"] == 0 or done == total:
                now = time.perf_counter()
                elapsed += now - window_start
                tokens_seen += window_tokens
                rate = window_tokens / max(now - window_start, 1e-9)
                record = {
                    "step": done,
                    "epoch": step / n_first,
                    "train_loss": loss_acc / loss_n,
                    "tokens_per_s": rate,
                    "tokens_seen": tokens_seen,
                    "train_seconds": elapsed,
                }
                if done % cfg["eval_every"] == 0 or done == total:
                    nnx.update(model, params)
                    val = masked_perplexity(
                        model, val_batches, log_unigram=log_uni, step_fn=eval_step
                    )
                    record["val_perplexity"] = val["perplexity"]
                    record["val_unigram_perplexity"] = val["unigram_perplexity"]
                logger.log(record)
                if bar is not None:
                    bar.set_postfix(
                        loss=f"{record['train_loss']:.3f}",
                        tok_s=f"{rate:,.0f}",
                        val_ppl=f"{record.get('val_perplexity', float('nan')):.2f}",
                    )
                window_tokens, loss_acc, loss_n = 0, 0.0, 0
                if done % cfg["ckpt_every"] == 0 or done == total:
                    ckpt.save(
                        done,
                        (params, opt_state),
                        extra={"train_seconds": elapsed, "tokens_seen": tokens_seen},
                    )
                window_start = time.perf_counter()
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        print(
            f"masked LM: {total} steps, {tokens_seen:,} residue tokens in {elapsed:.0f} s of "
            f"training = {tokens_seen / max(elapsed, 1e-9):,.0f} tokens/s",
            flush=True,
        )
    ckpt.close()
    nnx.update(model, params)
    return model, read_metrics(out_dir / "metrics.jsonl")


def embed_sequences(
    model: ProteinTransformer,
    token_arrays: Sequence[np.ndarray],
    *,
    max_len: int,
    rows: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Mean-pooled residue embeddings of each sequence's first ``max_len`` tokens.

    Sequences are sorted by length and batched in fixed shapes (one compile per length bucket),
    then returned in the input order.

    Args:
      model: a trained :class:`ProteinTransformer`.
      token_arrays: tokenised sequences.
      max_len: tokens kept from the start of each sequence (``<cls>`` included).
      rows: sequences per batch.
      progress: show a tqdm bar.

    Returns:
      float32 ``[num_sequences, d_model]``.
    """
    graphdef, state = nnx.split(model)

    @jax.jit
    def embed(state, tokens):
        m = nnx.merge(graphdef, state)
        return m.embed(tokens, where=residue_mask(tokens))

    cropped = [np.asarray(t)[:max_len] for t in token_arrays]
    order = np.argsort([len(t) for t in cropped], kind="stable")
    bounds = tuple(b for b in (32, 64, 128, 256, 512, 1024) if b < max_len) + (max_len,)
    out = np.zeros((len(cropped), model.token_embed.features), np.float32)
    chunks = [order[i : i + rows] for i in range(0, len(order), rows)]
    iterator = chunks
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(chunks, desc="embedding", unit="batch")
    for idx in iterator:
        longest = max(len(cropped[i]) for i in idx)
        length = next(b for b in bounds if longest <= b)
        batch = np.full((rows, length), PAD, np.int32)
        for r, i in enumerate(idx):
            batch[r, : len(cropped[i])] = cropped[i]
        out[idx] = np.asarray(embed(state, jnp.asarray(batch)))[: len(idx)]
    return out


def subset_indices(n: int, count: int | None, *, seed: int = 12_345) -> np.ndarray:
    """A fixed, sorted random subset of ``range(n)`` (all of it when ``count`` is None)."""
    if count is None or count >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))


def mlm_data(cfg: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Tokenised SCL2205 splits for the masked LM, subset as the config asks.

    Uses ``cfg["train_sequences"]``, ``cfg["val_sequences"]`` and ``cfg["heldout_sequences"]``
    (None = the whole split; a fixed seeded subset otherwise, the same for every run).

    Returns:
      dict with ``train``, ``val`` (the ``eval`` split) and ``heldout`` token arrays, plus
      ``heldout_all`` (every heldout sequence, for the all-residue unigram figure).
    """
    from xent_jax.data.proteins import load_scl, tokenize_all

    out: dict[str, list[np.ndarray]] = {}
    for name, split, key in (
        ("train", "train", "train_sequences"),
        ("val", "eval", "val_sequences"),
        ("heldout", "heldout", "heldout_sequences"),
    ):
        seqs, _ = load_scl(split)
        idx = subset_indices(len(seqs), cfg.get(key))
        if name == "heldout":
            out["heldout_all"] = tokenize_all(seqs)
            out[name] = [out["heldout_all"][i] for i in idx]
        else:
            out[name] = tokenize_all([seqs[i] for i in idx])
    return out


def unigram_perplexity(
    train_tokens: Sequence[np.ndarray], test_tokens: Sequence[np.ndarray]
) -> float:
    """Perplexity of the train residue frequencies (add-one) on every test residue."""
    freqs = unigram_frequencies(train_tokens, VOCAB_SIZE, eligible_from=FIRST_RESIDUE)
    residues = np.concatenate([np.asarray(t)[np.asarray(t) >= FIRST_RESIDUE] for t in test_tokens])
    return float(np.exp(-np.log(freqs[residues]).mean()))


def evaluate_heldout(
    model: ProteinTransformer,
    train_tokens: Sequence[np.ndarray],
    heldout_tokens: Sequence[np.ndarray],
    *,
    max_len: int,
    tokens_per_batch: int,
    mask_rate: float = 0.15,
) -> dict[str, dict[str, float]]:
    """Honest, training-style and shuffled-context masked perplexity on held-out sequences.

    Returns:
      dict ``{"honest": ..., "train_style": ..., "shuffled_context": ...}`` of
      :func:`masked_perplexity` results (each with the unigram baseline on the same positions).
    """
    log_uni = np.log(
        unigram_frequencies(train_tokens, VOCAB_SIZE, eligible_from=FIRST_RESIDUE) + 1e-30
    )
    batches = eval_batches(heldout_tokens, max_len=max_len, tokens_per_batch=tokens_per_batch)
    step = _eval_step_fn(nnx.graphdef(model))
    common = dict(log_unigram=log_uni, mask_rate=mask_rate, step_fn=step)
    return {
        "honest": masked_perplexity(model, batches, **common),
        "train_style": masked_perplexity(model, batches, mask_prob=0.8, random_prob=0.1, **common),
        "shuffled_context": masked_perplexity(model, batches, shuffle_context=True, **common),
    }
