"""Property tests: every public loss against a float64 numpy reference, with hypothesis drawing
extreme, masked, non-finite and low-precision inputs.

For each loss a draw picks a scale (1 to 1e30, so that bf16/f16 inputs overflow to inf), a seed,
a dtype (float32, bfloat16, float16; the reference sees the same rounded values in float64), an
optional mask (``where``) and an optional non-finite entry (NaN, ``+inf`` or ``-inf``) at a
random position. The reference implements the documented conventions (``0 log 0 = 0``, a ``-inf``
logit is an absent class, masked entries are ignored, NaN propagates). Where the reference is NaN
ours must be NaN, where it is +-inf (or beyond the float32 range) ours must be the same infinity,
and elsewhere it must agree to ``rtol = atol = 2e-5`` (relative to the magnitudes involved).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax.scipy.special import logsumexp

import xent_jax.losses as xl

F32_MAX = float(np.finfo(np.float32).max)
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
N, K = 3, 6


@dataclasses.dataclass(frozen=True)
class Case:
    """``make(rng, scale)`` -> dict of float64 inputs; ``ours(**inputs)``; ``ref(**inputs)``."""

    make: Callable[[np.random.Generator, float], dict]
    ours: Callable[..., object]
    ref: Callable[..., np.ndarray]
    cast: tuple[str, ...]  # inputs cast to the drawn dtype
    poison: tuple[str, ...]  # inputs that may receive a non-finite entry
    kinds: tuple[str, ...] = ("nan", "inf", "-inf")
    mask: bool = False  # the case takes a ``where`` argument
    low_precision: bool = True  # bf16/f16 inputs allowed
    scales: tuple[float, ...] = (1.0, 30.0, 1e4, 1e30)
    rtol: float = 2e-5


# ------------------------------------------------------------------------- float64 references


def _lse(z, valid):
    zz = np.where(valid, z, -np.inf)
    m = np.max(zz, axis=-1, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    s = np.sum(np.where(valid, np.exp(zz - m_safe), 0.0), axis=-1, keepdims=True)
    return m_safe + np.log(s)


def _valid(z, where):
    valid = z != -np.inf
    return valid if where is None else valid & where


def ref_int_ce(logits, labels, where=None, eps=0.0):
    valid = _valid(logits, where)
    lse = _lse(logits, valid)
    nll_all = lse - np.where(valid, logits, -np.inf)  # inf on absent classes
    nll = np.take_along_axis(nll_all, labels[:, None], -1)[:, 0]
    count = np.maximum(valid.sum(-1), 1)
    smooth = np.sum(np.where(valid, nll_all, 0.0), -1) / count
    keep = 0.0 if eps == 1.0 else (1 - eps) * nll
    loss = keep + eps * smooth
    return np.where(valid.any(-1), loss, 0.0)


def ref_soft_ce(logits, labels, where=None, eps=0.0, poly=None):
    valid = _valid(logits, where)
    unmasked = np.ones_like(valid) if where is None else where
    t = np.where(unmasked, labels, 0.0)
    count = np.maximum(valid.sum(-1, keepdims=True), 1)
    t = (1 - eps) * t + eps * valid / count
    lse = _lse(logits, valid)
    terms = np.where(valid, t * (lse - logits), np.where(t == 0, 0.0, t * np.inf))
    loss = np.sum(np.where(unmasked, terms, 0.0), -1)
    if poly is not None:
        p = np.where(valid, np.exp(logits - lse), 0.0)
        loss = loss + poly * np.sum(np.where(unmasked, t * (1 - p), 0.0), -1)
    return loss


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _xlog(c, v):
    return np.where(c == 0, 0.0, c * v)


def ref_bce(logits, labels, pos_weight=None):
    c = labels if pos_weight is None else pos_weight * labels
    return -(_xlog(c, _log_sigmoid(logits)) + _xlog(1 - labels, _log_sigmoid(-logits)))


def ref_focal(logits, labels, gamma=2.0, alpha=None):
    log_p, log_q = _log_sigmoid(logits), _log_sigmoid(-logits)
    ce = -(_xlog(labels, log_p) + _xlog(1 - labels, log_q))
    a = np.where(labels > 0, np.log(np.where(labels > 0, labels, 1.0)) + log_q, -np.inf)
    b = np.where(labels < 1, np.log1p(-np.where(labels < 1, labels, 0.0)) + log_p, -np.inf)
    log_1m_pt = np.logaddexp(a, b)
    weight = 1.0 if gamma == 0 else np.exp(gamma * log_1m_pt)
    loss = ce * weight
    return loss if alpha is None else (alpha * labels + (1 - alpha) * (1 - labels)) * loss


def ref_kl(log_predictions, targets, where=None):
    t = targets if where is None else np.where(where, targets, 0.0)
    terms = np.where(t == 0, 0.0, t * (np.log(np.where(t == 0, 1.0, t)) - log_predictions))
    return np.sum(terms, -1)


def ref_gkl(log_predictions, targets, where=None):
    extra = np.exp(log_predictions) - targets
    if where is not None:
        extra = np.where(where, extra, 0.0)
    return ref_kl(log_predictions, targets, where) + np.sum(extra, -1)


def ref_sparsemax(z):
    out = np.zeros_like(z)
    for i, row in enumerate(z):
        if np.isnan(row).any():
            out[i] = np.nan
            continue
        finite = row[np.isfinite(row)]
        u = np.sort(finite)[::-1]
        css = np.cumsum(u)
        k = np.arange(1, len(u) + 1)
        rho = np.max(k[1 + k * u > css])
        tau = (css[rho - 1] - 1) / rho
        out[i] = np.maximum(row - tau, 0.0)
    return out


def ref_multiclass_sparsemax(scores, labels):
    p = ref_sparsemax(scores)
    zy = np.take_along_axis(scores, labels[:, None], -1)
    inner = np.sum(np.where(p == 0, 0.0, p * (scores - zy)), -1)
    return inner + 0.5 * (1 - np.sum(p * p, -1))


def ref_ctc(logits, logit_paddings, labels, label_paddings):
    """Textbook CTC forward algorithm (blank 0) in float64 log space."""
    out = []
    for b in range(logits.shape[0]):
        t_len = int(np.sum(logit_paddings[b] == 0))
        lab = labels[b][label_paddings[b] == 0]
        z = logits[b, :t_len]
        lp = z - _lse(z, np.ones_like(z, bool))
        ext = [0]
        for c in lab:
            ext += [int(c), 0]
        s_len = len(ext)
        alpha = np.full(s_len, -np.inf)
        alpha[0] = lp[0, 0]
        if s_len > 1:
            alpha[1] = lp[0, ext[1]]
        for t in range(1, t_len):
            new = np.full(s_len, -np.inf)
            for s in range(s_len):
                cands = [alpha[s]]
                if s >= 1:
                    cands.append(alpha[s - 1])
                if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                    cands.append(alpha[s - 2])
                new[s] = np.logaddexp.reduce(cands) + lp[t, ext[s]]
            alpha = new
        tail = alpha[-2:] if s_len > 1 else alpha[-1:]
        out.append(-np.logaddexp.reduce(tail))
    return np.array(out)


def ref_ntxent(embeddings, labels, temperature=0.07):
    e = embeddings
    eps = np.finfo(np.float32).eps
    a = np.max(np.abs(e), -1, keepdims=True)
    a = np.where((a > 0) & np.isfinite(a), a, 1.0)
    norm = a * np.sqrt(np.sum((e / a) ** 2, -1, keepdims=True))
    u = e / np.maximum(norm, np.sqrt(eps))
    sim = u @ u.T / temperature
    n = len(labels)
    total, count = 0.0, 0
    for i in range(n):
        neg = [k for k in range(n) if labels[k] != labels[i]]
        for j in range(n):
            if j == i or labels[j] != labels[i]:
                continue
            count += 1
            if neg:
                total += np.logaddexp(0.0, np.logaddexp.reduce(sim[i, neg]) - sim[i, j])
    return np.array(total / count if count else 0.0)


def ref_ranking(logits, labels, where):
    per_list = ref_soft_ce(logits, labels, where)
    valid_lists = where.any(-1)
    count = valid_lists.sum()
    return np.array(np.sum(np.where(valid_lists, per_list, 0.0)) / count if count else 0.0)


_LOG_2PI = math.log(2 * math.pi)

# ---------------------------------------------------------------------------- input builders


def _logits(rng, scale, shape=(N, K)):
    return rng.normal(size=shape) * scale


def _probs(rng, shape=(N, K), zeros=True):
    p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if zeros:
        p[0, rng.integers(shape[-1])] = 0.0
        p /= p.sum(-1, keepdims=True)
    return p


def _mask(rng, shape=(N, K)):
    m = rng.uniform(size=shape) > 0.3
    m[-1, :] = False  # one fully masked row
    return m


CASES: dict[str, Case] = {
    "softmax_cross_entropy_with_integer_labels": Case(
        make=lambda rng, s: {
            "logits": _logits(rng, s),
            "labels": rng.integers(0, K, N),
            "eps": float(rng.choice([0.0, 0.1, 1.0])),
        },
        ours=lambda logits, labels, eps, where=None: xl.softmax_cross_entropy_with_integer_labels(
            logits, labels, -1, where, label_smoothing=eps
        ),
        ref=ref_int_ce,
        cast=("logits",),
        poison=("logits",),
        mask=True,
    ),
    "softmax_cross_entropy": Case(
        make=lambda rng, s: {
            "logits": _logits(rng, s),
            "labels": _probs(rng),
            "eps": float(rng.choice([0.0, 0.2])),
        },
        ours=lambda logits, labels, eps, where=None: xl.softmax_cross_entropy(
            logits, labels, -1, where, label_smoothing=eps
        ),
        ref=ref_soft_ce,
        cast=("logits", "labels"),
        poison=("logits", "labels"),
        mask=True,
    ),
    "safe_softmax_cross_entropy": Case(
        make=lambda rng, s: {"logits": _logits(rng, s), "labels": _probs(rng)},
        ours=xl.safe_softmax_cross_entropy,
        ref=ref_soft_ce,
        cast=("logits", "labels"),
        poison=("logits",),
    ),
    "poly_loss_cross_entropy": Case(
        make=lambda rng, s: {"logits": _logits(rng, s), "labels": _probs(rng)},
        ours=lambda logits, labels, where=None: xl.poly_loss_cross_entropy(
            logits, labels, epsilon=1.5, where=where
        ),
        ref=lambda logits, labels, where=None: ref_soft_ce(logits, labels, where, poly=1.5),
        cast=("logits", "labels"),
        poison=("logits",),
        mask=True,
    ),
    "ranking_softmax_loss": Case(
        make=lambda rng, s: {
            "logits": _logits(rng, s),
            "labels": rng.integers(0, 3, (N, K)).astype(float),
            "where": _mask(rng),
        },
        ours=lambda logits, labels, where: xl.ranking_softmax_loss(logits, labels, where=where),
        ref=ref_ranking,
        cast=("logits",),
        poison=("logits",),
    ),
    "make_fenchel_young_loss(logsumexp)": Case(
        make=lambda rng, s: {"scores": _logits(rng, s), "targets": _probs(rng)},
        ours=lambda scores, targets: xl.make_fenchel_young_loss(logsumexp)(scores, targets),
        ref=lambda scores, targets: (
            _lse(scores, np.ones_like(scores, bool))[:, 0]
            - np.sum(np.where(targets == 0, 0.0, targets * scores), -1)
        ),
        cast=("scores", "targets"),
        poison=("scores",),
        kinds=("nan", "-inf"),
        low_precision=False,  # max_fun runs in the input dtype, as documented (and in optax)
    ),
    "sigmoid_binary_cross_entropy": Case(
        make=lambda rng, s: {
            "logits": _logits(rng, s),
            "labels": np.where(rng.uniform(size=(N, K)) > 0.5, rng.uniform(size=(N, K)), 1.0),
            "pos_weight": rng.uniform(0.5, 2.0, K),
        },
        ours=xl.sigmoid_binary_cross_entropy,
        ref=ref_bce,
        cast=("logits", "labels"),
        poison=("logits", "labels"),
    ),
    "multilabel_sigmoid_cross_entropy": Case(
        make=lambda rng, s: {"logits": _logits(rng, s), "labels": rng.uniform(size=(N, K))},
        ours=lambda logits, labels, where=None: xl.multilabel_sigmoid_cross_entropy(
            logits, labels, where=where
        ),
        ref=lambda logits, labels, where=None: np.sum(
            np.where(
                True if where is None else where,
                ref_bce(logits, np.where(True if where is None else where, labels, 0.0)),
                0.0,
            ),
            -1,
        ),
        cast=("logits", "labels"),
        poison=("logits", "labels"),
        mask=True,
    ),
    "sigmoid_focal_loss": Case(
        make=lambda rng, s: {
            "logits": _logits(rng, s),
            "labels": np.where(rng.uniform(size=(N, K)) > 0.5, rng.uniform(size=(N, K)), 0.0),
            "gamma": float(rng.choice([0.0, 0.5, 2.0])),
            "alpha": 0.25,
        },
        ours=lambda logits, labels, gamma, alpha: xl.sigmoid_focal_loss(
            logits, labels, gamma=gamma, alpha=alpha
        ),
        ref=ref_focal,
        cast=("logits", "labels"),
        poison=("logits",),
    ),
    "sparsemax_loss": Case(
        make=lambda rng, s: {"logits": _logits(rng, s), "labels": rng.integers(0, 2, (N, K))},
        ours=xl.sparsemax_loss,
        ref=lambda logits, labels: np.where(
            (s := np.where(labels != 0, -logits, logits)) <= -1,
            0.0,
            np.where(s >= 1, s, (s + 1) ** 2 / 4),
        ),
        cast=("logits",),
        poison=("logits",),
    ),
    "multiclass_sparsemax_loss": Case(
        make=lambda rng, s: {"scores": _logits(rng, s), "labels": rng.integers(0, K, N)},
        ours=xl.multiclass_sparsemax_loss,
        ref=ref_multiclass_sparsemax,
        cast=("scores",),
        poison=("scores",),
        kinds=("nan",),
        scales=(0.1, 1.0, 30.0, 1e4),
    ),
    "kl_divergence": Case(
        make=lambda rng, s: {"log_predictions": np.log(_probs(rng)) * 1.0, "targets": _probs(rng)},
        ours=lambda log_predictions, targets, where=None: xl.kl_divergence(
            log_predictions, targets, -1, where
        ),
        ref=ref_kl,
        cast=("log_predictions", "targets"),
        poison=("log_predictions", "targets"),
        kinds=("nan", "-inf"),
        mask=True,
        scales=(1.0,),
    ),
    "kl_divergence_with_log_targets": Case(
        make=lambda rng, s: {
            "log_predictions": np.log(_probs(rng)),
            "log_targets": np.log(_probs(rng)),
        },
        ours=lambda log_predictions, log_targets, where=None: xl.kl_divergence_with_log_targets(
            log_predictions, log_targets, -1, where
        ),
        ref=lambda log_predictions, log_targets, where=None: ref_kl(
            log_predictions, np.exp(log_targets), where
        ),
        cast=("log_predictions", "log_targets"),
        poison=("log_predictions", "log_targets"),
        kinds=("nan", "-inf"),
        mask=True,
        scales=(1.0,),
    ),
    "generalized_kl_divergence": Case(
        make=lambda rng, s: {
            "log_predictions": _logits(rng, min(s, 30.0)),
            "targets": _probs(rng) * s,
        },
        ours=lambda log_predictions, targets, where=None: xl.generalized_kl_divergence(
            log_predictions, targets, -1, where
        ),
        ref=ref_gkl,
        cast=("log_predictions", "targets"),
        poison=("log_predictions", "targets"),
        kinds=("nan", "-inf"),
        mask=True,
    ),
    "convex_kl_divergence": Case(
        make=lambda rng, s: {"log_predictions": np.log(_probs(rng)), "targets": _probs(rng)},
        ours=lambda log_predictions, targets: xl.generalized_kl_divergence(
            log_predictions, targets
        ),
        ref=ref_gkl,
        cast=("log_predictions", "targets"),
        poison=("log_predictions",),
        kinds=("nan", "-inf"),
        scales=(1.0,),
    ),
    "cross_entropy": Case(
        make=lambda rng, s: {"p": _probs(rng), "q": _probs(rng)},
        ours=lambda p, q, where=None: xl.cross_entropy(p, q, where=where),
        ref=lambda p, q, where=None: (
            ref_kl(np.log(q), p, where) - ref_kl(np.zeros_like(p), p, where)
        ),
        cast=("p", "q"),
        poison=("p", "q"),
        kinds=("nan",),
        mask=True,
        scales=(1.0,),
    ),
    "entropy": Case(
        make=lambda rng, s: {"p": _probs(rng)},
        ours=lambda p, where=None: xl.entropy(p, where=where),
        ref=lambda p, where=None: -ref_kl(np.zeros_like(p), p, where),
        cast=("p",),
        poison=("p",),
        kinds=("nan",),
        mask=True,
        scales=(1.0,),
    ),
    "relative_entropy": Case(
        make=lambda rng, s: {"p": _probs(rng), "q": _probs(rng)},
        ours=lambda p, q, where=None: xl.relative_entropy(p, q, where=where),
        ref=lambda p, q, where=None: ref_kl(np.log(q), p, where),
        cast=("p", "q"),
        poison=("p", "q"),
        kinds=("nan",),
        mask=True,
        scales=(1.0,),
    ),
    "cross_entropy_from_log_probs": Case(
        make=lambda rng, s: {"log_p": np.log(_probs(rng)), "log_q": np.log(_probs(rng))},
        ours=xl.cross_entropy_from_log_probs,
        ref=lambda log_p, log_q: (
            ref_kl(log_q, np.exp(log_p)) - ref_kl(np.zeros_like(log_p), np.exp(log_p))
        ),
        cast=("log_p", "log_q"),
        poison=("log_p", "log_q"),
        kinds=("nan", "-inf"),
        scales=(1.0,),
    ),
    "entropy_from_log_probs": Case(
        make=lambda rng, s: {"log_p": np.log(_probs(rng))},
        ours=xl.entropy_from_log_probs,
        ref=lambda log_p: -ref_kl(np.zeros_like(log_p), np.exp(log_p)),
        cast=("log_p",),
        poison=("log_p",),
        kinds=("nan", "-inf"),
        scales=(1.0,),
    ),
    "relative_entropy_from_log_probs": Case(
        make=lambda rng, s: {"log_p": np.log(_probs(rng)), "log_q": np.log(_probs(rng))},
        ours=xl.relative_entropy_from_log_probs,
        ref=lambda log_p, log_q: ref_kl(log_q, np.exp(log_p)),
        cast=("log_p", "log_q"),
        poison=("log_p", "log_q"),
        kinds=("nan", "-inf"),
        scales=(1.0,),
    ),
    "smooth_labels": Case(
        make=lambda rng, s: {"labels": _probs(rng), "alpha": float(rng.choice([0.0, 0.1, 1.0]))},
        ours=lambda labels, alpha, where=None: xl.smooth_labels(labels, alpha, where=where),
        ref=lambda labels, alpha, where=None: (
            (1 - alpha) * labels + alpha / K
            if where is None
            else np.where(
                where,
                (1 - alpha) * labels + alpha / np.maximum(where.sum(-1, keepdims=True), 1),
                0.0,
            )
        ),
        cast=("labels",),
        poison=("labels",),
        kinds=("nan",),
        mask=True,
        scales=(1.0,),
        rtol=1e-2,  # the result has the labels' (low-precision) dtype
    ),
    "ctc_loss": Case(
        make=lambda rng, s: {
            "logits": _logits(rng, min(s, 30.0), (2, 7, 4)),
            "logit_paddings": np.array([[0, 0, 0, 0, 0, 0, 1], [0] * 7], float),
            "labels": rng.integers(1, 4, (2, 2)),
            "label_paddings": np.array([[0.0, 0.0], [0.0, 1.0]]),
        },
        ours=xl.ctc_loss,
        ref=ref_ctc,
        cast=("logits",),
        poison=("logits",),
        kinds=("nan",),
        scales=(1.0, 30.0),
        rtol=1e-4,
    ),
    "ntxent": Case(
        make=lambda rng, s: {
            "embeddings": _logits(rng, s, (4, 5)),
            "labels": np.array([0, 0, 1, 1]) if rng.uniform() > 0.2 else np.arange(4),
        },
        ours=lambda embeddings, labels: xl.ntxent(embeddings, labels, 0.5),
        ref=lambda embeddings, labels: ref_ntxent(embeddings, labels, 0.5),
        cast=("embeddings",),
        poison=("embeddings",),
        kinds=("nan", "inf"),
        rtol=1e-4,
    ),
    "gaussian_nll": Case(
        make=lambda rng, s: {
            "mean": _logits(rng, s),
            "var": rng.uniform(0.1, 3.0, (N, K)) * s,
            "targets": _logits(rng, s),
        },
        ours=xl.gaussian_nll,
        ref=lambda mean, var, targets: 0.5 * (_LOG_2PI + np.log(var) + (targets - mean) ** 2 / var),
        cast=("mean", "var", "targets"),
        poison=("mean", "var", "targets"),
        kinds=("nan",),
    ),
    "gaussian_kl": Case(
        make=lambda rng, s: {
            "mean_p": _logits(rng, s),
            "var_p": rng.uniform(0.1, 3.0, (N, K)) * s,
            "mean_q": _logits(rng, s),
            "var_q": rng.uniform(0.1, 3.0, (N, K)) * s,
        },
        ours=xl.gaussian_kl,
        ref=lambda mean_p, var_p, mean_q, var_q: (
            0.5 * (np.log(var_q / var_p) + (var_p + (mean_p - mean_q) ** 2) / var_q - 1)
        ),
        cast=("mean_p", "var_p", "mean_q", "var_q"),
        poison=("mean_p", "var_q"),
        kinds=("nan",),
    ),
    "gaussian_cross_entropy": Case(
        make=lambda rng, s: {
            "mean_p": _logits(rng, s),
            "var_p": rng.uniform(0.1, 3.0, (N, K)) * s,
            "mean_q": _logits(rng, s),
            "var_q": rng.uniform(0.1, 3.0, (N, K)) * s,
        },
        ours=xl.gaussian_cross_entropy,
        ref=lambda mean_p, var_p, mean_q, var_q: (
            0.5 * (_LOG_2PI + np.log(var_q) + (var_p + (mean_p - mean_q) ** 2) / var_q)
        ),
        cast=("mean_p", "var_p", "mean_q", "var_q"),
        poison=("mean_p", "var_p"),
        kinds=("nan",),
    ),
    "gaussian_entropy": Case(
        make=lambda rng, s: {"var": rng.uniform(0.1, 3.0, (N, K)) * s},
        ours=xl.gaussian_entropy,
        ref=lambda var: 0.5 * (_LOG_2PI + 1 + np.log(var)),
        cast=("var",),
        poison=("var",),
        kinds=("nan", "inf"),
    ),
    "gan_discriminator_loss": Case(
        make=lambda rng, s: {"real_logits": _logits(rng, s), "fake_logits": _logits(rng, s)},
        ours=lambda real_logits, fake_logits: xl.gan_discriminator_loss(
            real_logits, fake_logits, label_smoothing=0.1
        ),
        ref=lambda real_logits, fake_logits: (
            ref_bce(real_logits, np.full_like(real_logits, 0.9))
            + ref_bce(fake_logits, np.zeros_like(fake_logits))
        ),
        cast=("real_logits", "fake_logits"),
        poison=("real_logits", "fake_logits"),
    ),
    "gan_generator_loss": Case(
        make=lambda rng, s: {"fake_logits": _logits(rng, s)},
        ours=xl.gan_generator_loss,
        ref=lambda fake_logits: ref_bce(fake_logits, np.ones_like(fake_logits)),
        cast=("fake_logits",),
        poison=("fake_logits",),
    ),
    "linear_softmax_cross_entropy_with_integer_labels": Case(
        make=lambda rng, s: {
            "x": _logits(rng, min(s, 30.0), (N, 4)),
            "w": _logits(rng, 1.0, (K, 4)),
            "labels": rng.integers(0, K, N),
        },
        ours=lambda x, w, labels: xl.linear_softmax_cross_entropy_with_integer_labels(
            x, w, labels, chunk_size=4
        ),
        ref=lambda x, w, labels: ref_int_ce(x @ w.T, labels),
        cast=("x", "w"),
        poison=("x",),
        kinds=("nan",),
        scales=(1.0, 30.0),
        rtol=1e-4,
    ),
    "reduce_loss": Case(
        make=lambda rng, s: {
            "losses": np.abs(_logits(rng, s, (N * K,))),
            "weights": rng.uniform(0.0, 2.0, N * K),
            "where": rng.uniform(size=N * K) > 0.3,
        },
        ours=lambda losses, weights, where: xl.reduce_loss(losses, weights=weights, where=where),
        ref=lambda losses, weights, where: (
            np.sum(np.where(where, losses, 0.0)) / np.sum(np.where(where, weights, 0.0))
            if np.sum(np.where(where, weights, 0.0)) != 0
            else 0.0
        ),
        cast=("losses", "weights"),
        poison=("losses", "weights"),
        kinds=("nan", "inf"),
    ),
}


def _compare(name: str, ours, ref, rtol: float, scale_of) -> None:
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, (name, ours.shape, ref.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = np.where(np.abs(ref) > F32_MAX, np.sign(ref) * np.inf, ref)
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(ours), nan, err_msg=f"{name}: NaN pattern")
    inf = np.isinf(expected)
    np.testing.assert_array_equal(ours[inf], expected[inf], err_msg=f"{name}: infinities")
    finite = ~(nan | inf)
    tol = rtol * (1.0 + scale_of)
    np.testing.assert_allclose(ours[finite], expected[finite], rtol=rtol, atol=tol, err_msg=name)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(
    max_examples=16,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_property_matches_float64_reference(name, data):
    case = CASES[name]
    seed = data.draw(st.integers(0, 2**16), label="seed")
    scale = data.draw(st.sampled_from(case.scales), label="scale")
    dtypes = list(DTYPES) if case.low_precision else ["float32"]
    dtype = data.draw(st.sampled_from(dtypes), label="dtype")
    poison = data.draw(st.sampled_from(("none",) + case.kinds), label="non-finite")
    masked = case.mask and data.draw(st.booleans(), label="masked")
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore"):  # log of zero probabilities is -inf on purpose
        inputs = case.make(rng, scale)
    if masked:
        first = case.cast[0]
        inputs["where"] = _mask(rng, np.shape(inputs[first]))
    if poison != "none":
        key = case.poison[rng.integers(len(case.poison))]
        arr = np.array(inputs[key], np.float64, copy=True)
        index = tuple(rng.integers(0, n) for n in arr.shape)
        arr[index] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[poison]
        inputs[key] = arr
    ours_inputs, ref_inputs = {}, {}
    for key, value in inputs.items():
        if key in case.cast:
            with np.errstate(over="ignore"):  # values beyond the dtype's range become inf
                low = jnp.asarray(value, DTYPES[dtype])
            ours_inputs[key] = low
            ref_inputs[key] = np.asarray(low.astype(jnp.float32), np.float64)
        else:
            ours_inputs[key] = value
            ref_inputs[key] = value
    with np.errstate(all="ignore"):
        ref = case.ref(**ref_inputs)
        magnitude = max(
            [
                float(np.nanmax(np.abs(np.where(np.isfinite(v), v, 0.0)), initial=0.0))
                for k, v in ref_inputs.items()
                if k in case.cast
            ]
        )
    ours = case.ours(**ours_inputs)
    _compare(name, ours, ref, case.rtol, magnitude)
