"""Masked-language-model training of the protein Transformer as a step function for ``fit``.

One step (:class:`MLMStep`) masks 15% of the residues of a length-bucketed batch 80/10/10
(:func:`xent_jax.tasks.mask_tokens`, keyed by the step's key), and takes an optax step on
``reduce_loss(masked_lm_loss(...), where=loss_mask)``, the mean cross-entropy over the masked
tokens. The state is the plain pytree ``{"params", "rest", "opt_state"}`` of
:func:`xent_jax.recipes.init_classifier_state`, so :func:`xent_jax.train.fit` jits, checkpoints
and resumes it exactly. :func:`mlm_training` assembles everything a run needs::

    job = mlm_training(config, train_tokens, val_tokens, key=0)
    result = fit(job.step, job.state, job.batch_fn, key=0, workdir="runs/mlm", **job.fit_options)
    model = job.model(result.state)

Batches (:func:`mlm_batch_fn`) are epochs of :func:`xent_jax.data.proteins.bucket_batches`
(random crops, shuffled), a pure function of the step; ``fit`` runs consecutive batches of one
shape as one compiled chunk and reports residue tokens per second (:func:`residue_count`).
Validation perplexity (honest mask, fixed positions) is a :class:`xent_jax.train.Hook`
(:func:`validation_hook`) built on :func:`xent_jax.eval.masked_perplexity`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import ArrayLike

from xent_jax._keys import as_key
from xent_jax.bio.vocab import FIRST_RESIDUE, PAD, VOCAB_SIZE
from xent_jax.data.proteins import bucket_batches, unigram_frequencies
from xent_jax.eval import eval_batches, masked_perplexity
from xent_jax.losses import reduce_loss
from xent_jax.models.transformer import ProteinTransformer
from xent_jax.recipes.classifier import init_classifier_state, merge_model
from xent_jax.tasks.masking import mask_tokens, masked_lm_loss, residue_mask
from xent_jax.train import Hook

__all__ = [
    "MODEL_KEYS",
    "MLMLogits",
    "MLMStep",
    "MLMTraining",
    "build_model",
    "embed_sequences",
    "make_optimizer",
    "mlm_batch_fn",
    "mlm_data",
    "mlm_logits",
    "mlm_step",
    "mlm_training",
    "residue_count",
    "subset_indices",
    "validation_hook",
]

MODEL_KEYS = ("d_model", "num_layers", "num_heads", "mlp_dim", "max_len")
"""The config keys that define the Transformer (passed to :class:`ProteinTransformer`)."""


def _get(config: Mapping[str, Any], name: str, default: Any = dataclasses.MISSING) -> Any:
    if name in config:
        return config[name]
    if default is dataclasses.MISSING:
        raise ValueError(f"config must have the key {name!r}, got keys {sorted(config)}")
    return default


def build_model(config: Mapping[str, Any], *, key: jax.Array | int) -> ProteinTransformer:
    """The protein Transformer from a config's model keys (:data:`MODEL_KEYS`).

    Args:
      config: a mapping (or ``ConfigDict``) with any of ``d_model``, ``num_layers``,
        ``num_heads``, ``mlp_dim``, ``max_len`` (the model's defaults otherwise).
      key: PRNG key or int seed of the initialisation.

    Returns:
      a :class:`xent_jax.models.ProteinTransformer` over :data:`xent_jax.bio.VOCAB_SIZE` tokens.

    Examples:
      >>> model = build_model({"d_model": 16, "num_layers": 1, "num_heads": 2, "max_len": 32},
      ...                     key=0)
      >>> model(jnp.array([[2, 4, 5, 3]])).shape
      (1, 4, 29)
    """
    kwargs = {k: config[k] for k in MODEL_KEYS if k in config}
    return ProteinTransformer(
        vocab_size=VOCAB_SIZE, pad_id=PAD, rngs=nnx.Rngs(as_key(key, "key")), **kwargs
    )


def make_optimizer(config: Mapping[str, Any]) -> optax.GradientTransformation:
    """AdamW (b2 0.98) with linear warm-up, cosine decay and clipping at global norm 1.

    The learning rate rises from 0 to ``learning_rate`` over ``warmup_steps`` and decays to
    ``learning_rate * final_lr_fraction`` (default 0.1) at ``steps``. Equal settings return the
    same object, so steps built on it compare equal and share ``fit``'s compiled chunks.

    Args:
      config: ``learning_rate``, ``warmup_steps``, ``steps``; optional ``final_lr_fraction``
        and ``weight_decay`` (default 0.01).

    Returns:
      the optax transformation.

    Examples:
      >>> cfg = {"learning_rate": 1e-3, "warmup_steps": 2, "steps": 10}
      >>> make_optimizer(cfg) is make_optimizer(dict(cfg))
      True
    """
    return _optimizer(
        float(_get(config, "learning_rate")),
        int(_get(config, "warmup_steps")),
        int(_get(config, "steps")),
        float(_get(config, "final_lr_fraction", 0.1)),
        float(_get(config, "weight_decay", 0.01)),
    )


@functools.lru_cache(maxsize=32)
def _optimizer(lr, warmup, steps, final_fraction, weight_decay):
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=lr,
        warmup_steps=warmup,
        decay_steps=max(steps, warmup + 1),
        end_value=lr * final_fraction,
    )
    return optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(schedule, b1=0.9, b2=0.98, weight_decay=weight_decay),
    )


@dataclasses.dataclass(frozen=True)
class MLMStep:
    """``step(state, tokens [rows, L], key) -> (state, {"loss", "masked"})`` for ``fit``.

    Hashable: steps built from equal arguments share ``fit``'s compiled chunks.

    Attributes:
      graphdef: the Transformer's graph (from :func:`xent_jax.recipes.init_classifier_state`).
      tx: the optax transformation.
      mask_rate: fraction of residues selected (80% ``<mask>``, 10% random, 10% unchanged).
    """

    graphdef: nnx.GraphDef
    tx: optax.GradientTransformation
    mask_rate: float = 0.15

    def __call__(self, state, tokens, key):
        masked = mask_tokens(key, tokens, mask_rate=self.mask_rate)

        def loss_fn(params):
            logits = nnx.merge(self.graphdef, params, state["rest"])(masked.inputs)
            losses = masked_lm_loss(logits, masked.targets, masked.loss_mask)
            return reduce_loss(losses, where=masked.loss_mask)

        loss, grads = jax.value_and_grad(loss_fn)(state["params"])
        updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        new_state = {"params": params, "rest": state["rest"], "opt_state": opt_state}
        return new_state, {"loss": loss, "masked": masked.loss_mask.sum().astype(jnp.float32)}


def mlm_step(
    graphdef: nnx.GraphDef, tx: optax.GradientTransformation, *, mask_rate: float = 0.15
) -> MLMStep:
    """The masked-LM step (:class:`MLMStep`): 80/10/10 masking, mean CE over masked tokens.

    Args:
      graphdef: from :func:`xent_jax.recipes.init_classifier_state` on a ProteinTransformer.
      tx: the optimiser (:func:`make_optimizer`).
      mask_rate: fraction of residues selected per step.

    Returns:
      the step; its metrics are ``loss`` (nats per masked token) and ``masked`` (count).

    Examples:
      >>> model = build_model({"d_model": 16, "num_layers": 1, "num_heads": 2, "max_len": 16},
      ...                     key=0)
      >>> tx = optax.adam(1e-3)
      >>> graphdef, state = init_classifier_state(model, tx)
      >>> tokens = jnp.asarray(np.r_[2, np.arange(4, 18), 3][None].repeat(4, 0), jnp.int32)
      >>> state, m = jax.jit(mlm_step(graphdef, tx))(state, tokens, jax.random.key(0))
      >>> sorted(m), bool(m["loss"] > 0)
      (['loss', 'masked'], True)
    """
    if isinstance(mask_rate, bool) or not 0.0 < float(mask_rate) <= 1.0:
        raise ValueError(f"mask_rate must lie in (0, 1], got {mask_rate!r}")
    return MLMStep(graphdef, tx, float(mask_rate))


def residue_count(batch: ArrayLike) -> int:
    """Residue tokens in a batch (the throughput unit): ids in ``[FIRST_RESIDUE, VOCAB_SIZE)``.

    Examples:
      >>> residue_count(np.array([[2, 4, 5, 3, 0]]))
      2
    """
    b = np.asarray(batch)
    return int(np.count_nonzero((b >= FIRST_RESIDUE) & (b < VOCAB_SIZE)))


def mlm_batch_fn(
    token_arrays: Sequence[ArrayLike],
    *,
    boundaries: Sequence[int],
    tokens_per_batch: int,
    key: jax.Array | int,
) -> Callable[[int], np.ndarray]:
    """Training batches as a pure function of the step: epochs of shuffled length buckets.

    Epoch ``e`` is ``bucket_batches(token_arrays, boundaries=..., tokens_per_batch=...,
    rng=numpy.random.default_rng([*key_data(key), e]), drop_last=True)``: random
    ``max(boundaries)``-residue crops, sequences and batches shuffled, the last incomplete batch
    of each bucket dropped. Step ``s`` is batch ``s mod n`` of epoch ``s // n`` (``n`` batches
    per epoch), so a resumed run sees exactly the batches of an uninterrupted one.

    Args:
      token_arrays: tokenised training sequences.
      boundaries: bucket lengths (the longest is the crop length, at most the model's
        ``max_len``).
      tokens_per_batch: tokens per batch (rows = this // bucket length).
      key: PRNG key or int seed of the data order.

    Returns:
      ``batch_fn(step) -> int32 [rows, L]``.

    Raises:
      ValueError: when no bucket has a full batch.

    Examples:
      >>> seqs = [np.arange(2, 2 + n) for n in range(10, 40)]
      >>> fn = mlm_batch_fn(seqs, boundaries=(16, 32), tokens_per_batch=64, key=0)
      >>> fn(0).shape in ((4, 16), (2, 32)), bool((fn(7) == fn(7)).all())
      (True, True)
    """
    arrays = [np.asarray(t) for t in token_arrays]
    entropy = [int(v) for v in np.asarray(jax.random.key_data(as_key(key, "key"))).ravel()]

    def epoch(e: int) -> list[np.ndarray]:
        rng = np.random.default_rng([*entropy, e])
        return bucket_batches(
            arrays, boundaries=boundaries, tokens_per_batch=tokens_per_batch, rng=rng,
            drop_last=True,
        )  # fmt: skip

    cache = {0: epoch(0)}
    per_epoch = len(cache[0])
    if per_epoch == 0:
        raise ValueError(
            f"no full batch: {len(arrays)} sequences, boundaries {tuple(boundaries)} and "
            f"tokens_per_batch={tokens_per_batch} (lower tokens_per_batch or add sequences)"
        )

    def batch_fn(step: int) -> np.ndarray:
        e, i = divmod(int(step), per_epoch)
        if e not in cache:
            cache.clear()
            cache[e] = epoch(e)
        batches = cache[e]
        return batches[i % len(batches)]

    return batch_fn


@dataclasses.dataclass(frozen=True)
class MLMLogits:
    """``logits_fn((params, rest), tokens) -> [rows, L, vocab]`` for :mod:`xent_jax.eval`.

    Hashable (by its graphdef), so evaluators compile once for every model of an architecture.
    """

    graphdef: nnx.GraphDef

    def __call__(self, variables, tokens):
        params, rest = variables
        return nnx.merge(self.graphdef, params, rest)(tokens)


def mlm_logits(graphdef: nnx.GraphDef) -> MLMLogits:
    """The logits function of a Transformer graph, for :func:`xent_jax.eval.masked_perplexity`.

    Call it with ``(state["params"], state["rest"])`` of a training state.

    Examples:
      >>> model = build_model({"d_model": 16, "num_layers": 1, "num_heads": 2, "max_len": 8},
      ...                     key=0)
      >>> graphdef, state = init_classifier_state(model, optax.sgd(0.1))
      >>> mlm_logits(graphdef)((state["params"], state["rest"]), jnp.array([[2, 4, 3]])).shape
      (1, 3, 29)
    """
    return MLMLogits(graphdef)


def validation_hook(
    graphdef: nnx.GraphDef,
    token_arrays: Sequence[ArrayLike],
    *,
    every: int,
    max_len: int,
    tokens_per_batch: int,
    log_unigram: ArrayLike | None = None,
    mask_rate: float = 0.15,
    name: str = "val",
) -> Hook:
    """A ``fit`` hook logging honest masked perplexity on fixed validation positions.

    Args:
      graphdef: the Transformer's graph.
      token_arrays: tokenised validation sequences (cut into ``max_len`` windows once).
      every: steps between evaluations (0: only at the end).
      max_len, tokens_per_batch: as in :func:`xent_jax.eval.eval_batches`.
      log_unigram: optional ``[vocab]`` log frequencies: also log the baseline on the same
        positions.
      mask_rate: fraction of residues scored.
      name: the hook's name (the log's ``split``).

    Returns:
      ``Hook(name, every, state -> {"perplexity", "nll", "unigram_perplexity", "tokens"})``.
    """
    batches = eval_batches(token_arrays, max_len=max_len, tokens_per_batch=tokens_per_batch)
    logits_fn = mlm_logits(graphdef)

    def evaluate(state):
        res = masked_perplexity(
            logits_fn, (state["params"], state["rest"]), batches, log_unigram=log_unigram,
            mask_rate=mask_rate,
        )  # fmt: skip
        out = res.metrics()
        if log_unigram is None:
            del out["unigram_perplexity"]
        return out

    return Hook(name, every, evaluate)


@dataclasses.dataclass(frozen=True)
class MLMTraining:
    """Everything ``fit`` needs for one masked-LM run (from :func:`mlm_training`).

    Attributes:
      graphdef: the Transformer's graph.
      step: the :class:`MLMStep`.
      state: the initial state ``{"params", "rest", "opt_state"}``.
      batch_fn: the training batches (:func:`mlm_batch_fn`).
      fit_options: keyword arguments for :func:`xent_jax.train.fit` (``steps``,
        ``steps_per_call``, ``log_every``, ``checkpoint_every``, ``hooks``,
        ``examples_per_step=residue_count``, ``unit="tokens"``).
    """

    graphdef: nnx.GraphDef
    step: MLMStep
    state: dict[str, Any]
    batch_fn: Callable[[int], np.ndarray]
    fit_options: dict[str, Any]

    @property
    def logits_fn(self) -> MLMLogits:
        """The logits function (:func:`mlm_logits`) of this run's graph."""
        return mlm_logits(self.graphdef)

    def variables(self, state: Mapping[str, Any]) -> tuple[Any, Any]:
        """``(params, rest)`` of a state: what :attr:`logits_fn` takes."""
        return state["params"], state["rest"]

    def model(self, state: Mapping[str, Any]) -> ProteinTransformer:
        """The trained :class:`ProteinTransformer` of a state."""
        return merge_model(self.graphdef, state)


def mlm_training(
    config: Mapping[str, Any],
    train_tokens: Sequence[ArrayLike],
    val_tokens: Sequence[ArrayLike] | None = None,
    *,
    key: jax.Array | int,
) -> MLMTraining:
    """Assembles a masked-LM run: model, optimiser, step, batches, validation hook, fit options.

    ``key`` is split into the initialisation key and the data-order key; pass the same ``key``
    to ``fit`` (its step keys, hence the masks, are ``fold_in(key, step)``). Equal config, data
    and key give the identical run, so a run is resumed (or read back when finished) from any
    folder that holds it.

    Args:
      config: model keys (:data:`MODEL_KEYS`), optimiser keys (:func:`make_optimizer`),
        ``boundaries``, ``tokens_per_batch``, ``mask_rate``, ``log_every``, ``eval_every``,
        ``checkpoint_every``, ``eval_max_len``; optional ``steps_per_call`` (default 1: a
        Transformer step is long enough that chunking saves nothing, and each extra chunk length
        costs a compilation per bucket shape).
      train_tokens: tokenised training sequences.
      val_tokens: tokenised validation sequences for the perplexity hook (none without).
      key: PRNG key or int seed of the run.

    Returns:
      an :class:`MLMTraining`.

    Examples:
      >>> cfg = dict(d_model=16, num_layers=1, num_heads=2, max_len=16, boundaries=(16,),
      ...            tokens_per_batch=64, steps=2, learning_rate=1e-3, warmup_steps=1,
      ...            mask_rate=0.15, log_every=1, eval_every=2, checkpoint_every=0,
      ...            eval_max_len=16)
      >>> seqs = [np.r_[2, np.arange(4, 4 + n) % 25 + 4, 3] for n in range(8, 20)]
      >>> job = mlm_training(cfg, seqs, seqs[:3], key=0)
      >>> from xent_jax.train import fit
      >>> res = fit(job.step, job.state, job.batch_fn, key=0, progress=False, **job.fit_options)
      >>> sorted(res.hooks["val"])
      ['nll', 'perplexity', 'tokens', 'unigram_perplexity']
    """
    key = as_key(key, "key")
    k_init, k_data = jax.random.split(key)
    model = build_model(config, key=k_init)
    tx = make_optimizer(config)
    graphdef, state = init_classifier_state(model, tx)
    mask_rate = float(_get(config, "mask_rate", 0.15))
    batch_fn = mlm_batch_fn(
        train_tokens,
        boundaries=tuple(_get(config, "boundaries")),
        tokens_per_batch=int(_get(config, "tokens_per_batch")),
        key=k_data,
    )
    hooks = []
    if val_tokens is not None and len(val_tokens):
        freqs = unigram_frequencies(
            [np.asarray(t) for t in train_tokens], VOCAB_SIZE, eligible_from=FIRST_RESIDUE
        )
        hooks.append(
            validation_hook(
                graphdef,
                val_tokens,
                every=int(_get(config, "eval_every", 0)),
                max_len=int(_get(config, "eval_max_len")),
                tokens_per_batch=int(_get(config, "tokens_per_batch")),
                log_unigram=np.log(freqs + 1e-30),
                mask_rate=mask_rate,
            )  # fmt: skip
        )
    fit_options = {
        "steps": int(_get(config, "steps")),
        "steps_per_call": int(_get(config, "steps_per_call", 1)),
        "log_every": int(_get(config, "log_every")),
        "checkpoint_every": int(_get(config, "checkpoint_every", 0)),
        "hooks": hooks,
        "examples_per_step": residue_count,
        "unit": "tokens",
    }
    step = mlm_step(graphdef, tx, mask_rate=mask_rate)
    return MLMTraining(graphdef, step, state, batch_fn, fit_options)


@functools.partial(jax.jit, static_argnums=0)
def _embed(graphdef, params, rest, tokens):
    return nnx.merge(graphdef, params, rest).embed(tokens, where=residue_mask(tokens))


def embed_sequences(
    model: ProteinTransformer,
    token_arrays: Sequence[ArrayLike],
    *,
    max_len: int,
    rows: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Mean-pooled residue embeddings of each sequence's first ``max_len`` tokens.

    Sequences are sorted by length and batched in fixed shapes (lengths 32, 64, ... up to
    ``max_len``: one compilation per shape, shared by every model of the architecture), then
    returned in the input order. Only residues are pooled (not ``<cls>``, ``<eos>``, padding).

    Args:
      model: a :class:`ProteinTransformer`.
      token_arrays: tokenised sequences.
      max_len: tokens kept from the start of each sequence (``<cls>`` included), at most the
        model's ``max_len``.
      rows: sequences per batch.
      progress: show a tqdm bar.

    Returns:
      float32 ``[num_sequences, d_model]``.

    Examples:
      >>> model = build_model({"d_model": 16, "num_layers": 1, "num_heads": 2, "max_len": 32},
      ...                     key=0)
      >>> embed_sequences(model, [np.array([2, 4, 5, 3]), np.arange(2, 40)], max_len=32).shape
      (2, 16)
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be an int >= 1, got {rows!r}")
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    cropped = [np.asarray(t)[:max_len] for t in token_arrays]
    order = np.argsort([len(t) for t in cropped], kind="stable")
    bounds = tuple(b for b in (32, 64, 128, 256, 512, 1024) if b < max_len) + (max_len,)
    out = np.zeros((len(cropped), model.token_embed.features), np.float32)
    chunks = [order[i : i + rows] for i in range(0, len(order), rows)]
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="embedding", unit="batch")
    for idx in chunks:
        length = next(b for b in bounds if max(len(cropped[i]) for i in idx) <= b)
        batch = np.full((rows, length), PAD, np.int32)
        for r, i in enumerate(idx):
            batch[r, : len(cropped[i])] = cropped[i]
        out[idx] = np.asarray(_embed(graphdef, params, rest, jnp.asarray(batch)))[: len(idx)]
    return out


def subset_indices(n: int, count: int, *, seed: int = 12_345) -> np.ndarray:
    """A fixed, sorted random subset of ``range(n)`` of size ``count`` (all of it for 0).

    Examples:
      >>> subset_indices(10, 3).tolist(), subset_indices(4, 0).tolist()
      ([2, 5, 7], [0, 1, 2, 3])
    """
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise ValueError(f"count must be an int >= 0 (0 = all), got {count!r}")
    if count == 0 or count >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=int(count), replace=False))


def mlm_data(config: Mapping[str, Any]) -> dict[str, list[np.ndarray]]:
    """Tokenised SCL2205 splits for the masked LM, subset as the config asks.

    Uses ``train_sequences``, ``val_sequences`` and ``heldout_sequences`` (0 = the whole split;
    a fixed seeded subset otherwise, the same for every run and seed). Validation is carved from
    the ``eval`` split; the ``heldout`` split is the test set.

    Returns:
      dict with ``train``, ``val`` and ``heldout`` token arrays, plus ``heldout_all`` (every
      heldout sequence, for the all-residue unigram figure).
    """
    from xent_jax.data.proteins import load_scl, tokenize_all

    out: dict[str, list[np.ndarray]] = {}
    for name, split, count_key in (
        ("train", "train", "train_sequences"),
        ("val", "eval", "val_sequences"),
        ("heldout", "heldout", "heldout_sequences"),
    ):
        seqs, _ = load_scl(split)
        idx = subset_indices(len(seqs), int(_get(config, count_key, 0)))
        if name == "heldout":
            out["heldout_all"] = tokenize_all(seqs)
            out[name] = [out["heldout_all"][i] for i in idx]
        else:
            out[name] = tokenize_all([seqs[i] for i in idx])
    return out
