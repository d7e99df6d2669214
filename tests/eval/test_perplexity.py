"""Masked perplexity against numpy: windows, per-example sums, the baseline, controls, intervals."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax import bio
from xent_jax.eval import (
    EVAL_SEED,
    EvalBatch,
    eval_batches,
    evaluate_heldout,
    masked_perplexity,
    unigram_perplexity,
)
from xent_jax.tasks import mask_tokens

V = bio.VOCAB_SIZE


def _seqs(n, seed, low=5, high=70):
    rng = np.random.default_rng(seed)
    letters = np.array(list(bio.STANDARD_AMINO_ACIDS + "X"))
    return [
        bio.tokenize("".join(rng.choice(letters, size=int(rng.integers(low, high)))))
        for _ in range(n)
    ]


def bigram_logits(params, tokens):
    """A model whose logits depend on the (corrupted) input token and the position."""
    return params["w"][tokens] + params["pos"][None, : tokens.shape[1], :]


def _params(seed=0, length=32):
    rng = np.random.default_rng(seed)
    return {
        "w": jnp.asarray(rng.normal(0, 1.5, (V, V)), jnp.float32),
        "pos": jnp.asarray(rng.normal(0, 0.5, (length, V)), jnp.float32),
    }


def _log_softmax64(z):
    z = np.asarray(z, np.float64)
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def _reference(params, batches, n, log_unigram, key=EVAL_SEED, **mask_kw):
    """numpy float64 per-example sums, masks drawn exactly as documented (fold_in(key, i))."""
    key = jax.random.key(key)
    nll, uni, tok = np.zeros(n), np.zeros(n), np.zeros(n, int)
    w, pos = (np.asarray(params[k], np.float64) for k in ("w", "pos"))
    draw = jax.jit(lambda k, t: mask_tokens(k, t, **mask_kw))
    for i, b in enumerate(batches):
        m = draw(jax.random.fold_in(key, i), jnp.asarray(b.tokens))
        inputs, targets, sel = (np.asarray(x) for x in m)
        logp = _log_softmax64(w[inputs] + pos[None, : inputs.shape[1]])
        per = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
        for r, ex in enumerate(b.example):
            if ex >= 0:
                nll[ex] += per[r][sel[r]].sum()
                uni[ex] += -log_unigram[targets[r][sel[r]]].sum()
                tok[ex] += sel[r].sum()
    return nll, uni, tok


def _log_unigram(train):
    counts = np.bincount(np.concatenate(train), minlength=V).astype(float)
    counts[: bio.FIRST_RESIDUE] = 0
    counts[bio.FIRST_RESIDUE :] += 1
    return np.log(counts / counts.sum() + 1e-30)


def test_eval_batches_cover_every_token_once_with_owners():
    seqs = _seqs(13, 0, low=1, high=90)
    batches = eval_batches(seqs, max_len=32, tokens_per_batch=64, boundaries=(16, 32))
    assert {b.tokens.shape for b in batches} <= {(4, 16), (2, 32)}
    rebuilt = [[] for _ in seqs]
    for b in batches:
        assert b.example.shape == (b.tokens.shape[0],) and b.example.dtype == np.int32
        for row, ex in zip(b.tokens, b.example, strict=True):
            if ex < 0:
                assert not row.any()  # padding rows are all PAD
            else:
                rebuilt[ex].append(row[row != bio.PAD])
    for s, parts in zip(seqs, rebuilt, strict=True):
        # full windows in order, then the shorter last one (which may sit in a smaller bucket)
        parts = sorted(parts, key=lambda w: -len(w))
        assert all(len(w) == 32 for w in parts[:-1])
        np.testing.assert_array_equal(np.concatenate(parts), s)
    with pytest.raises(ValueError, match="boundaries"):
        eval_batches(seqs, max_len=32, tokens_per_batch=64, boundaries=(16,))
    with pytest.raises(ValueError, match="tokens_per_batch"):
        eval_batches(seqs, max_len=32, tokens_per_batch=0)


@pytest.mark.parametrize(
    "mask_kw",
    [dict(mask_prob=1.0, random_prob=0.0), dict(mask_prob=0.8, random_prob=0.1)],
    ids=["honest", "train_style"],
)
def test_masked_perplexity_matches_numpy(mask_kw):
    train, test = _seqs(30, 1), _seqs(9, 2)
    params, log_uni = _params(), _log_unigram(train)
    batches = eval_batches(test, max_len=32, tokens_per_batch=96, boundaries=(32,))
    res = masked_perplexity(
        bigram_logits, params, batches, log_unigram=log_uni, mask_rate=0.3, **mask_kw
    )
    nll, uni, tok = _reference(params, batches, len(test), log_uni, mask_rate=0.3, **mask_kw)
    np.testing.assert_array_equal(res.example_tokens, tok)
    np.testing.assert_allclose(res.example_nll, nll, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(res.example_unigram_nll, uni, rtol=1e-5, atol=1e-4)
    assert res.tokens == tok.sum() > 0
    assert res.nll == pytest.approx(nll.sum() / tok.sum(), rel=1e-6)
    assert res.perplexity == pytest.approx(np.exp(nll.sum() / tok.sum()), rel=1e-5)
    assert res.unigram_perplexity == pytest.approx(np.exp(uni.sum() / tok.sum()), rel=1e-5)
    assert res.metrics() == {
        "perplexity": res.perplexity,
        "nll": res.nll,
        "unigram_perplexity": res.unigram_perplexity,
        "tokens": res.tokens,
    }
    # jitted logits function, another key: same reference rule
    again = masked_perplexity(jax.jit(bigram_logits), params, batches, key=3, **mask_kw)
    nll3, _, tok3 = _reference(params, batches, len(test), log_uni, key=3, **mask_kw)
    assert again.perplexity == pytest.approx(np.exp(nll3.sum() / tok3.sum()), rel=1e-5)
    assert np.isnan(again.unigram_perplexity)  # no baseline asked for


def test_uniform_model_has_vocab_size_perplexity_and_controls_agree():
    seqs = _seqs(6, 3)
    uniform = lambda params, t: jnp.zeros(t.shape + (V,))  # noqa: E731
    out = evaluate_heldout(uniform, None, seqs, seqs, max_len=32, tokens_per_batch=64)
    for name in ("honest", "train_style", "shuffled_context"):
        assert out[name].perplexity == pytest.approx(V, rel=1e-6)
    # the same positions in every variant (the corruption does not change the selection)
    np.testing.assert_array_equal(out["honest"].example_tokens, out["train_style"].example_tokens)
    np.testing.assert_array_equal(
        out["honest"].example_tokens, out["shuffled_context"].example_tokens
    )
    assert out["honest"].example_tokens.shape == (len(seqs),)


def test_copying_inputs_helps_only_when_answers_leak():
    """A model that copies its input: hopeless under the honest mask, helped by 80/10/10."""
    seqs = _seqs(30, 4, low=40, high=70)
    copy = lambda params, t: 8.0 * jax.nn.one_hot(t, V)  # noqa: E731
    out = evaluate_heldout(copy, None, seqs, seqs, max_len=32, tokens_per_batch=64)
    # honest: every scored input is <mask>, so every target gets logit 0 vs 8 for <mask>
    assert out["honest"].nll == pytest.approx(8.0 + np.log1p((V - 1) * np.exp(-8.0)), rel=1e-5)
    # 80/10/10: the ~10% unchanged positions are copied at almost no loss
    assert out["honest"].tokens > 150
    assert out["train_style"].nll < out["honest"].nll - 0.3
    assert out["honest"].perplexity == pytest.approx(out["shuffled_context"].perplexity)


def test_shuffled_context_destroys_order_information():
    """Logits that predict each residue from its left neighbour: shuffling removes the signal."""
    rng = np.random.default_rng(5)
    seqs = []
    for _ in range(10):  # a deterministic cycle through the 20 standard residues
        start = int(rng.integers(0, 20))
        seqs.append(np.r_[bio.CLS, bio.FIRST_RESIDUE + (start + np.arange(60)) % 20, bio.EOS])

    def left_neighbour(params, t):
        prev = jnp.pad(t[:, :-1], ((0, 0), (1, 0)))
        nxt = jnp.where(prev >= bio.FIRST_RESIDUE, (prev - bio.FIRST_RESIDUE + 1) % 20, 0)
        return 6.0 * jax.nn.one_hot(nxt + bio.FIRST_RESIDUE, V)

    out = evaluate_heldout(left_neighbour, None, seqs, seqs, max_len=32, tokens_per_batch=64)
    # wrong only where the left neighbour is masked or cut off (about 15%): shuffled, mostly wrong
    assert out["honest"].perplexity < 6.0
    assert out["shuffled_context"].perplexity > 4 * out["honest"].perplexity


def test_bootstrap_interval_over_sequences_matches_numpy():
    train, test = _seqs(30, 6), _seqs(40, 7)
    params, log_uni = _params(1), _log_unigram(train)
    batches = eval_batches(test, max_len=32, tokens_per_batch=96, boundaries=(32,))
    res = masked_perplexity(bigram_logits, params, batches, log_unigram=log_uni)
    iv = res.interval(key=0, num_resamples=1000)
    assert iv.n == len(test) and iv.method == "percentile-bootstrap"
    assert iv.mean == pytest.approx(res.perplexity, rel=1e-5)
    rng = np.random.default_rng(0)  # an independent numpy bootstrap over whole sequences
    idx = rng.integers(0, len(test), (4000, len(test)))
    reps = np.exp(res.example_nll[idx].sum(1) / res.example_tokens[idx].sum(1))
    lo, hi = np.quantile(reps, [0.025, 0.975])
    width = hi - lo
    assert abs(iv.low - lo) < 0.15 * width and abs(iv.high - hi) < 0.15 * width
    base = res.interval(key=0, num_resamples=200, baseline=True)
    assert base.mean == pytest.approx(res.unigram_perplexity, rel=1e-5)


def test_unigram_perplexity_matches_numpy():
    train, test = _seqs(20, 8), _seqs(5, 9)
    counts = np.bincount(np.concatenate(train), minlength=V).astype(float)
    counts[: bio.FIRST_RESIDUE] = 0
    counts[bio.FIRST_RESIDUE :] += 1
    p = counts / counts.sum()
    res = np.concatenate([t[t >= bio.FIRST_RESIDUE] for t in test])
    assert unigram_perplexity(train, test) == pytest.approx(np.exp(-np.log(p[res]).mean()))
    with pytest.raises(ValueError, match="residue"):
        unigram_perplexity(train, [np.array([bio.CLS, bio.EOS])])


def test_bad_arguments_are_refused_by_name():
    batches = eval_batches(_seqs(2, 10), max_len=16, tokens_per_batch=32)
    with pytest.raises(TypeError, match="batches\\[0\\]"):
        masked_perplexity(bigram_logits, _params(), [b.tokens for b in batches])
    with pytest.raises(ValueError, match="log_unigram"):
        masked_perplexity(bigram_logits, _params(), batches, log_unigram=np.zeros((2, V)))
    with pytest.raises(TypeError, match="key"):
        masked_perplexity(bigram_logits, _params(), batches, key=None)
    with pytest.raises(TypeError, match="logits_fn"):
        masked_perplexity(None, _params(), batches)
    with pytest.raises(ValueError, match="num_examples"):
        masked_perplexity(bigram_logits, _params(), batches, num_examples=1)
    assert isinstance(batches[0], EvalBatch)
