"""Fused linear + softmax cross-entropy for large vocabularies, without the N x V logits.

A language-model head computes ``cross_entropy(x @ W.T, labels)``; the ``[N, V]`` logits and their
gradient dominate memory (4096 tokens x 32768 classes in float32 are 512 MiB, about 1 GiB with the
gradient). :func:`linear_softmax_cross_entropy_with_integer_labels` computes the same per-token
losses while holding only one ``[token_chunk, chunk]`` tile of logits at a time:

* forward: a loop over vocabulary chunks (and, inside it, token chunks) keeps an online
  log-sum-exp ``(m, s)`` per token, plus the label logit and, for label smoothing, the
  (class-weighted) sum of logits;
* backward: a ``jax.custom_vjp`` rule recomputes each tile of logits, forms its gradient
  ``a * softmax - b * onehot - c * omega`` and immediately contracts it into ``dx``, ``dW`` and
  ``dbias``. The vocabulary loop is outermost, so each ``[chunk, D]`` block of ``dW`` is summed
  over all tokens in float32 and written once, in W's dtype.

Everything accumulates in float32. A bf16/f16 W is upcast one ``[chunk, D]`` slice at a time,
never in full (x, which is ``O(N D)``, is upcast once). The last vocabulary
or token chunk is clamped to end at ``V`` (or ``N``) and its already-processed columns (rows) are
masked, so V and N need not divide the chunk sizes and no padded copy of W is made.

Differentiation: reverse mode (``jax.grad``, ``jax.vjp``, ``jax.value_and_grad``) with respect to
``x``, ``w``, ``bias`` and ``class_weights``, also under ``jax.vmap``; forward mode (``jax.jvp``,
``jax.jacfwd``, ``jax.hessian``) is not supported: it raises ``TypeError`` (a ``custom_vjp``
function cannot be differentiated in forward mode), whereas the unfused loss supports it.

References:
  Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models", 2024 (arXiv:2411.09009).
  Milakov & Gimelshein, "Online normalizer calculation for softmax", 2018 (arXiv:1805.02867).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from xent_jax.losses._checks import (
    as_array,
    check_class_weights,
    check_floating,
    check_integer,
    check_label_smoothing,
    check_labels_in_range,
    check_nonnegative,
    is_concrete,
)

__all__ = ["linear_softmax_cross_entropy_with_integer_labels"]

_F32 = jnp.float32
# Default token tile: about 2**18 float32 logits (1 MiB) per [token_chunk, chunk] tile, which keeps
# a tile in cache on CPU; never fewer than 64 tokens.
_DEFAULT_TILE_ELEMENTS = 2**18


class _Config(NamedTuple):
    """Static (hashable) description of one fused call."""

    num_classes: int
    chunk: int
    token_chunk: int
    layout: str
    has_bias: bool
    has_cap: bool
    has_class_weights: bool
    smoothing: bool
    acc: str  # accumulation dtype: float32 (float64 for float64 inputs)
    w_bits: str | None  # "bfloat16"/"float16" for a 16-bit W (see _tile_logits, _backward_tiles)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _w_axis(cfg: _Config) -> int:
    return 0 if cfg.layout == "vd" else 1


def _tile_logits(cfg: _Config, x_blk, w, bias, cap, vstart):
    """Logits of one tile ``[T, C]`` in float32, their tanh (soft cap) and the W slice used.

    For bf16/f16 W the slice is upcast inside the loop; an optimization barrier on ``(vstart, w)``
    keeps XLA from hoisting a full float32 copy of W out of the loop (XLA:CPU otherwise does).
    """
    c = cfg.chunk
    if cfg.w_bits is not None:
        vstart, w = lax.optimization_barrier((vstart, w))
    w_c = lax.dynamic_slice_in_dim(w, vstart, c, axis=_w_axis(cfg)).astype(x_blk.dtype)
    if cfg.layout == "vd":  # w_c [C, D]
        dims = (((1,), (1,)), ((), ()))
    else:  # w_c [D, C]
        dims = (((1,), (0,)), ((), ()))
    z = lax.dot_general(x_blk, w_c, dims, preferred_element_type=jnp.dtype(cfg.acc))
    if cfg.has_bias:
        z = z + lax.dynamic_slice_in_dim(bias, vstart, c).astype(z.dtype)[None, :]
    t = None
    if cfg.has_cap:
        t = jnp.tanh(z / cap)
        z = cap * t
    return z, t, w_c


def _dot(a, b, a_axis: int, b_axis: int, acc):
    """2-D matrix product contracting ``a_axis`` of ``a`` with ``b_axis`` of ``b``."""
    return lax.dot_general(a, b, (((a_axis,), (b_axis,)), ((), ())), preferred_element_type=acc)


def _chunk_starts(index, size: int, total: int):
    """Clamped start of chunk ``index`` and the mask of entries not seen in earlier chunks."""
    start = jnp.minimum(index * size, total - size)
    fresh = (start + jnp.arange(size)) >= index * size
    return start, fresh


def _loop(n: int, body, init):
    """``fori_loop`` that skips the loop machinery for a single iteration."""
    if n == 1:
        return body(0, init)
    return lax.fori_loop(0, n, body, init)


def _class_weight_chunk(cfg: _Config, class_weights, vstart, acc):
    """Class weights of one vocabulary chunk ``[C]`` (ones without class weights)."""
    if not cfg.has_class_weights:
        return None
    return lax.dynamic_slice_in_dim(class_weights, vstart, cfg.chunk).astype(acc)


def _forward_stats(cfg: _Config, x, w, bias, class_weights, labels, cap):
    """Online statistics per token, chunk by chunk.

    Returns:
      ``(lse, label_logit, weighted_logit_sum)``, each ``[N]`` in the accumulation dtype; the last
      is ``sum_k omega_k z_k`` (``omega = 1`` without class weights), None without smoothing.
    """
    n = x.shape[0]
    v, c, tb = cfg.num_classes, cfg.chunk, cfg.token_chunk
    acc = jnp.dtype(cfg.acc)
    cols = jnp.arange(c)

    def vocab_body(ci, state):
        vstart, col_fresh = _chunk_starts(ci, c, v)
        omega = _class_weight_chunk(cfg, class_weights, vstart, acc)

        def token_body(bi, state):
            tstart, row_fresh = _chunk_starts(bi, tb, n)
            x_blk = lax.dynamic_slice_in_dim(x, tstart, tb, axis=0)
            y_blk = lax.dynamic_slice_in_dim(labels, tstart, tb)
            z, _, _ = _tile_logits(cfg, x_blk, w, bias, cap, vstart)
            old = [lax.dynamic_slice_in_dim(a, tstart, tb) for a in state]
            m_old, s_old, zy_old = old[:3]
            zm = jnp.where(col_fresh[None, :], z, -jnp.inf)
            m_new = jnp.maximum(m_old, jnp.max(zm, axis=1))
            s_new = s_old * jnp.exp(m_old - m_new) + jnp.sum(jnp.exp(zm - m_new[:, None]), axis=1)
            hit = ((vstart + cols)[None, :] == y_blk[:, None]) & col_fresh[None, :]
            new = [m_new, s_new, zy_old + jnp.sum(jnp.where(hit, z, 0.0), axis=1)]
            if cfg.smoothing:
                zw = z if omega is None else z * omega[None, :]
                new.append(old[3] + jnp.sum(jnp.where(col_fresh[None, :], zw, 0.0), axis=1))
            return tuple(
                lax.dynamic_update_slice_in_dim(a, jnp.where(row_fresh, nw, od), tstart, axis=0)
                for a, nw, od in zip(state, new, old, strict=True)
            )

        return _loop(_cdiv(n, tb), token_body, state)

    init = (jnp.full((n,), -jnp.inf, acc), jnp.zeros((n,), acc), jnp.zeros((n,), acc))
    if cfg.smoothing:
        init = (*init, jnp.zeros((n,), acc))
    stats = _loop(_cdiv(v, c), vocab_body, init)
    m, s, zy = stats[:3]
    zs = stats[3] if cfg.smoothing else None
    return m + jnp.log(s), zy, zs


def _backward_tiles(cfg: _Config, x, w, bias, class_weights, labels, cap, lse, coef):
    """Contracts ``g = a p - b onehot(y) - c omega`` tile by tile into dx, dW, dbias, domega.

    ``coef = (a, b, c, e)`` are per-token ``[N]`` coefficients; ``e`` (class weights with label
    smoothing only) gives ``domega_k += sum_i e_i (lse_i - z_ik)``.
    """
    n, d = x.shape
    v, c, tb = cfg.num_classes, cfg.chunk, cfg.token_chunk
    acc = jnp.dtype(cfg.acc)
    cols = jnp.arange(c)
    vd = cfg.layout == "vd"
    a, b, cc, e = coef
    want_domega = cfg.has_class_weights and cfg.smoothing

    def vocab_body(ci, carry):
        dx, dw, db, dom = carry
        vstart, col_fresh = _chunk_starts(ci, c, v)
        omega = _class_weight_chunk(cfg, class_weights, vstart, acc)

        def token_body(bi, inner):
            dx, dw_c, db_c, dom_c = inner
            tstart, row_fresh = _chunk_starts(bi, tb, n)
            x_blk = lax.dynamic_slice_in_dim(x, tstart, tb, axis=0)
            y_blk = lax.dynamic_slice_in_dim(labels, tstart, tb)
            z, t, w_c = _tile_logits(cfg, x_blk, w, bias, cap, vstart)
            lse_blk = lax.dynamic_slice_in_dim(lse, tstart, tb)[:, None]
            p = jnp.exp(z - lse_blk)
            hit = (vstart + cols)[None, :] == y_blk[:, None]
            a_blk = lax.dynamic_slice_in_dim(a, tstart, tb)[:, None]
            b_blk = lax.dynamic_slice_in_dim(b, tstart, tb)[:, None]
            g = a_blk * p - jnp.where(hit, b_blk, 0.0)
            if cfg.smoothing:
                c_blk = lax.dynamic_slice_in_dim(cc, tstart, tb)[:, None]
                g = g - (c_blk if omega is None else c_blk * omega[None, :])
            if cfg.has_cap:
                g = g * (1.0 - t * t)
            keep = col_fresh[None, :] & row_fresh[:, None]
            g = jnp.where(keep, g, 0.0)
            if want_domega:
                e_blk = lax.dynamic_slice_in_dim(e, tstart, tb)[:, None]
                dom_c = dom_c + jnp.sum(jnp.where(keep, e_blk * (lse_blk - z), 0.0), axis=0)
            gc = g.astype(x_blk.dtype)
            if vd:  # w_c [C, D]
                dx_blk = lax.dot_general(
                    gc, w_c, (((1,), (0,)), ((), ())), preferred_element_type=acc
                )
                dw_blk = lax.dot_general(
                    gc, x_blk, (((0,), (0,)), ((), ())), preferred_element_type=acc
                )
            else:  # w_c [D, C]
                dx_blk = lax.dot_general(
                    gc, w_c, (((1,), (1,)), ((), ())), preferred_element_type=acc
                )
                dw_blk = lax.dot_general(
                    x_blk, gc, (((0,), (0,)), ((), ())), preferred_element_type=acc
                )
            dx_old = lax.dynamic_slice_in_dim(dx, tstart, tb, axis=0)
            dx = lax.dynamic_update_slice_in_dim(dx, dx_old + dx_blk, tstart, axis=0)
            if cfg.has_bias:
                db_c = db_c + jnp.sum(g, axis=0)
            return dx, dw_c + dw_blk, db_c, dom_c

        dw_shape = (c, d) if vd else (d, c)
        vec = jnp.zeros((c,), acc)
        dx, dw_c, db_c, dom_c = _loop(
            _cdiv(n, tb), token_body, (dx, jnp.zeros(dw_shape, acc), vec, vec)
        )
        axis = _w_axis(cfg)
        dw_old = lax.dynamic_slice_in_dim(dw, vstart, c, axis=axis)
        if cfg.w_bits is not None:
            dw_old = lax.bitcast_convert_type(dw_old, jnp.dtype(cfg.w_bits))
        dw_new = (dw_old.astype(acc) + dw_c).astype(cfg.w_bits or dw.dtype)
        if cfg.w_bits is not None:
            dw_new = lax.bitcast_convert_type(dw_new, dw.dtype)
        dw = lax.dynamic_update_slice_in_dim(dw, dw_new, vstart, axis)
        if cfg.has_bias:
            db = lax.dynamic_update_slice_in_dim(
                db, lax.dynamic_slice_in_dim(db, vstart, c) + db_c, vstart, 0
            )
        if want_domega:
            dom = lax.dynamic_update_slice_in_dim(
                dom, lax.dynamic_slice_in_dim(dom, vstart, c) + dom_c, vstart, 0
            )
        return dx, dw, db, dom

    init = (
        jnp.zeros((n, d), acc),
        # bf16/f16 dW is carried as uint16 bits: XLA:CPU would otherwise rewrite each in-place
        # chunk update of a bf16 buffer as a full float32 round trip of dW.
        jnp.zeros(w.shape, jnp.uint16 if cfg.w_bits is not None else w.dtype),
        jnp.zeros((v if cfg.has_bias else 0,), acc),
        jnp.zeros((v if want_domega else 0,), acc),
    )
    dx, dw, db, dom = _loop(_cdiv(v, c), vocab_body, init)
    if cfg.w_bits is not None:
        dw = lax.bitcast_convert_type(dw, jnp.dtype(cfg.w_bits))
    return dx, dw, db, dom


def _label_weight(cfg: _Config, class_weights, labels, acc):
    if not cfg.has_class_weights:
        return jnp.ones(labels.shape, acc)
    return class_weights.astype(acc).at[labels].get(mode="fill", fill_value=0.0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fused(cfg, x, w, bias, class_weights, labels, valid, bad, smoothing, z_weight, cap):
    out, _ = _fused_fwd(
        cfg, x, w, bias, class_weights, labels, valid, bad, smoothing, z_weight, cap
    )
    return out


def _fused_fwd(cfg, x, w, bias, class_weights, labels, valid, bad, smoothing, z_weight, cap):
    acc = jnp.dtype(cfg.acc)
    lse, zy, zs = _forward_stats(cfg, x, w, bias, class_weights, labels, cap)
    nll = lse - zy
    omega_y = _label_weight(cfg, class_weights, labels, acc)
    loss = omega_y * nll
    if cfg.smoothing:
        # PyTorch: (1 - eps) w_y (lse - z_y) + eps / V * sum_k w_k (lse - z_k).
        total = jnp.sum(class_weights.astype(acc)) if cfg.has_class_weights else cfg.num_classes
        loss = (1.0 - smoothing) * loss + (smoothing / cfg.num_classes) * (total * lse - zs)
    loss = loss + z_weight * lse * lse
    loss = jnp.where(valid, loss, 0.0)
    loss = jnp.where(bad, jnp.nan, loss)
    res = (x, w, bias, class_weights, labels, valid, bad, smoothing, z_weight, cap, lse, nll)
    return (loss, lse), res


def _fused_bwd(cfg, res, cts):
    x, w, bias, class_weights, labels, valid, bad, smoothing, z_weight, cap, lse, nll = res
    acc = jnp.dtype(cfg.acc)
    ct_loss, ct_lse = cts
    ct = jnp.where(valid, ct_loss.astype(acc), 0.0)
    omega_y = _label_weight(cfg, class_weights, labels, acc)
    a_scale = omega_y
    if cfg.smoothing:
        total = jnp.sum(class_weights.astype(acc)) if cfg.has_class_weights else cfg.num_classes
        a_scale = (1.0 - smoothing) * omega_y + (smoothing / cfg.num_classes) * total
    a = ct * (a_scale + 2.0 * z_weight * lse) + ct_lse.astype(acc)
    # Out-of-range labels: NaN loss and NaN gradient (never a finite wrong value).
    a = jnp.where(bad, jnp.nan, a)
    b = ct * omega_y * (1.0 - smoothing)
    cc = ct * (smoothing / cfg.num_classes)
    coef = (a, b, cc, jnp.where(bad, jnp.nan, cc))
    dx, dw, db, dom = _backward_tiles(cfg, x, w, bias, class_weights, labels, cap, lse, coef)
    d_bias = db.astype(bias.dtype) if cfg.has_bias else None
    d_cw = None
    if cfg.has_class_weights:
        scale = (1.0 - smoothing) if cfg.smoothing else 1.0
        contrib = jnp.where(bad, jnp.nan, ct * scale * nll)
        d_cw = jnp.zeros(class_weights.shape, acc).at[labels].add(contrib, mode="drop")
        if cfg.smoothing:
            d_cw = d_cw + dom
        d_cw = d_cw.astype(class_weights.dtype)
    return (
        dx.astype(x.dtype),
        dw,
        d_bias,
        d_cw,
        None,
        None,
        None,
        jnp.zeros_like(smoothing),
        jnp.zeros_like(z_weight),
        jnp.zeros_like(cap),
    )


_fused.defvjp(_fused_fwd, _fused_bwd)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"{name} must be a positive int, got {value!r} of type {type(value).__name__}"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def _scalar(value: Any, name: str) -> jax.Array:
    if np.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {tuple(np.shape(value))}")
    return jnp.asarray(value, _F32)


def linear_softmax_cross_entropy_with_integer_labels(
    x: jax.typing.ArrayLike,
    w: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    bias: jax.typing.ArrayLike | None = None,
    chunk_size: int = 1024,
    w_layout: str = "vd",
    label_smoothing: float | jax.typing.ArrayLike = 0.0,
    class_weights: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    where: jax.typing.ArrayLike | None = None,
    logit_soft_cap: float | jax.typing.ArrayLike | None = None,
    z_loss_weight: float | jax.typing.ArrayLike = 0.0,
    return_lse: bool = False,
    token_chunk_size: int | None = None,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    r"""Softmax cross-entropy of the logits ``x @ W.T (+ bias)`` without materialising them.

    With logits :math:`z_{ij} = x_i \cdot w_j + b_j` (optionally soft-capped,
    :math:`z \leftarrow c \tanh(z / c)`), :math:`\mathrm{lse}_i = \log \sum_j e^{z_{ij}}`,
    label smoothing :math:`\varepsilon`, class weights :math:`\omega` (all 1 by default) and z-loss
    weight :math:`\lambda`, the loss of token ``i`` is (PyTorch's weighting of the smoothing term)

    .. math::
      \ell_i = (1-\varepsilon)\,\omega_{y_i}(\mathrm{lse}_i - z_{i y_i})
               + \tfrac{\varepsilon}{V}\textstyle\sum_j \omega_j (\mathrm{lse}_i - z_{ij})
               + \lambda\,\mathrm{lse}_i^2,

    i.e. exactly ``softmax_cross_entropy_with_integer_labels(z, labels, ...)`` on the
    materialised logits, plus the z-loss (PaLM's auxiliary ``lambda * log(Z)**2``, not
    class-weighted). Tokens with ``where`` False or ``labels == ignore_index`` get loss 0 and no
    gradient. A label outside ``[0, V)`` (and not ``ignore_index``) gives a NaN loss and NaN
    gradients under plain ``jit`` (as the unfused loss: the NaN row reaches every entry of ``dW``),
    and raises naming the index under ``checkify`` (see :func:`xent_jax.losses.checked`).

    Differences from the unfused loss: ``where`` is per token only (a per-class ``[..., V]`` mask
    would be as large as the logits), and forward-mode differentiation is not supported.

    Memory: the ``[N, V]`` logits are never formed; only ``[token_chunk_size, chunk_size]`` float32
    tiles plus ``O(N)`` statistics and the gradient accumulators (``dx`` in float32, ``[N, D]``).
    The backward pass recomputes each tile (about 4/3 of the unfused matmul FLOPs).

    Args:
      x: hidden states ``[..., D]``, floating point.
      w: output embedding ``[V, D]`` (``w_layout="vd"``) or ``[D, V]`` (``w_layout="dv"``, read
        in place, never transposed).
      labels: integer class indices ``[...]`` (the shape of ``x`` without its last axis).
      bias: optional ``[V]`` logit bias.
      chunk_size: vocabulary chunk; ``V`` need not be a multiple of it.
      w_layout: ``"vd"`` or ``"dv"``, the layout of ``w``.
      label_smoothing: ``eps`` in ``[0, 1]``; targets are ``(1 - eps) * onehot + eps / V``
        (may be traced).
      class_weights: optional ``[V]`` non-negative weight per class (PyTorch's ``weight``: the
        label term carries the label's weight, each smoothing term its class's weight);
        differentiable.
      ignore_index: a label value whose tokens are skipped (loss 0, no gradient).
      where: optional boolean mask ``[...]``, same shape as ``labels``; False tokens get loss 0.
      logit_soft_cap: optional positive ``c``; logits become ``c * tanh(z / c)`` (Gemma 2).
      z_loss_weight: non-negative ``lambda`` of the auxiliary ``lambda * lse**2`` term.
      return_lse: also return the log-sum-exp ``[...]`` (float32), differentiable.
      token_chunk_size: tokens per tile; None picks about ``2**18 / chunk_size`` tokens (>= 64).

    Returns:
      Per-token losses ``[...]`` in float32 (reduce them with ``reduce_loss``), or the pair
      ``(losses, lse)`` when ``return_lse`` is True.

    Raises:
      TypeError: non-floating ``x``/``w``/``bias``/``class_weights``, non-integer ``labels``,
        non-boolean ``where`` or non-int chunk sizes.
      ValueError: mismatched shapes or ranks, an unknown ``w_layout``, or option values out of
        range.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from xent_jax.losses import linear_softmax_cross_entropy_with_integer_labels
      >>> kx, kw = jax.random.split(jax.random.key(0))
      >>> x = jax.random.normal(kx, (6, 4))
      >>> w = jax.random.normal(kw, (50, 4))
      >>> labels = jnp.array([0, 3, 49, 7, 7, 1])
      >>> loss = linear_softmax_cross_entropy_with_integer_labels(x, w, labels, chunk_size=16)
      >>> loss.shape
      (6,)
      >>> bool(jnp.allclose(loss, jax.nn.logsumexp(x @ w.T, -1) - (x @ w.T)[jnp.arange(6), labels],
      ...                   atol=1e-5))
      True
    """
    x = as_array(x, "x")
    w = as_array(w, "w")
    labels = as_array(labels, "labels")
    check_floating(x, "x")
    check_floating(w, "w")
    check_integer(labels, "labels")
    if x.ndim < 1:
        raise ValueError(f"x must have shape [..., D] (rank >= 1), got a scalar of shape {x.shape}")
    if w.ndim != 2:
        raise ValueError(f"w must have rank 2 ([V, D] or [D, V]), got shape {w.shape}")
    if w_layout not in ("vd", "dv"):
        raise ValueError(f'w_layout must be "vd" or "dv", got {w_layout!r}')
    num_classes, dim = w.shape if w_layout == "vd" else w.shape[::-1]
    if x.shape[-1] != dim:
        raise ValueError(
            f"x must have last axis D = {dim} to match w of shape {w.shape} "
            f"(w_layout={w_layout!r}), got x of shape {x.shape}"
        )
    if labels.shape != x.shape[:-1]:
        raise ValueError(
            f"labels must have shape {x.shape[:-1]} (x without its last axis), "
            f"got shape {labels.shape}"
        )
    if num_classes < 1:
        raise ValueError(f"w must have at least one class, got shape {w.shape}")
    chunk = min(_positive_int(chunk_size, "chunk_size"), num_classes)
    if token_chunk_size is not None:
        _positive_int(token_chunk_size, "token_chunk_size")
    if bias is not None:
        bias = jnp.asarray(bias)
        check_floating(bias, "bias")
        if bias.shape != (num_classes,):
            raise ValueError(f"bias must have shape ({num_classes},), got shape {bias.shape}")
    if class_weights is not None:
        class_weights = check_class_weights(class_weights, num_classes)
    if where is not None:
        where = jnp.asarray(where)
        if where.dtype != jnp.bool_:
            raise TypeError(f"where must be a boolean mask, got dtype {where.dtype}")
        if where.shape != labels.shape:
            raise ValueError(
                f"where must have the shape of labels {labels.shape}, got shape {where.shape}"
            )
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer)
    ):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
    check_label_smoothing(label_smoothing)
    smoothing = _scalar(label_smoothing, "label_smoothing")
    z_weight = _scalar(z_loss_weight, "z_loss_weight")
    check_nonnegative(z_weight, "z_loss_weight")
    has_cap = logit_soft_cap is not None
    cap = _scalar(1.0 if logit_soft_cap is None else logit_soft_cap, "logit_soft_cap")
    if has_cap and is_concrete(cap) and not float(cap) > 0.0:
        raise ValueError(f"logit_soft_cap must be positive, got {float(cap)}")

    batch_shape = labels.shape
    n = int(np.prod(batch_shape, dtype=np.int64))
    if n == 0:
        empty = jnp.zeros(batch_shape, _F32)
        return (empty, empty) if return_lse else empty
    dtype = jnp.promote_types(jnp.result_type(x.dtype, w.dtype), _F32)
    if token_chunk_size is None:
        token_chunk_size = max(64, _DEFAULT_TILE_ELEMENTS // chunk)
    cfg = _Config(
        num_classes=int(num_classes),
        chunk=chunk,
        token_chunk=min(int(token_chunk_size), n),
        layout=w_layout,
        has_bias=bias is not None,
        has_cap=has_cap,
        has_class_weights=class_weights is not None,
        smoothing=not (is_concrete(smoothing) and float(smoothing) == 0.0),
        acc=str(dtype),
        w_bits=str(w.dtype) if w.dtype.itemsize == 2 else None,
    )
    empty_f = jnp.zeros((0,), _F32)
    loss, lse = _flat_call(
        cfg,
        ignore_index,
        x,
        w,
        empty_f if bias is None else bias,
        empty_f if class_weights is None else class_weights,
        labels,
        jnp.ones(labels.shape, bool) if where is None else where,
        smoothing,
        z_weight,
        cap,
    )
    if return_lse:
        return loss, lse
    return loss


@functools.partial(jax.jit, static_argnums=(0, 1))
def _flat_call(
    cfg, ignore_index, x, w, bias, class_weights, labels, where, smoothing, z_weight, cap
):
    """Flattens the batch, records the label check and runs the fused kernel (jitted once)."""
    batch_shape = labels.shape
    n = labels.size
    flat_labels = labels.reshape(n).astype(jnp.int32)
    bad = check_labels_in_range(flat_labels, cfg.num_classes, ignore_index=ignore_index)
    valid = where.reshape(n)
    if ignore_index is not None:
        valid = valid & (flat_labels != ignore_index)
    xf = x.reshape(n, x.shape[-1]).astype(cfg.acc)
    loss, lse = _fused(
        cfg, xf, w, bias, class_weights, flat_labels, valid, bad, smoothing, z_weight, cap
    )
    return loss.reshape(batch_shape), lse.reshape(batch_shape)
