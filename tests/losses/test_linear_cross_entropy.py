"""Tests for the fused linear + softmax cross-entropy (no N x V logits).

References: the unfused ``softmax_cross_entropy_with_integer_labels`` on ``x @ W.T`` (every option),
a numpy float64 closed form, and XLA's compile-time memory analysis for the memory claims.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.experimental import checkify

from xent_jax.losses import (
    checked,
    linear_softmax_cross_entropy_with_integer_labels,
    softmax_cross_entropy_with_integer_labels,
)

fused = linear_softmax_cross_entropy_with_integer_labels
MIB = 2**20


def _rel(a, b) -> float:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def _problem(n, v, d, *, seed=0, scale=1.0, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((n, d)) * scale, dtype)
    w = jnp.asarray(rng.standard_normal((v, d)) / np.sqrt(d), dtype)
    y = jnp.asarray(rng.integers(0, v, n), jnp.int32)
    bias = jnp.asarray(rng.standard_normal(v) * 0.5, jnp.float32)
    cw = jnp.asarray(rng.uniform(0.2, 2.0, v), jnp.float32)
    ct = jnp.asarray(rng.standard_normal(n), jnp.float32)
    return x, w, y, bias, cw, ct


def _unfused(
    x,
    w,
    y,
    *,
    bias=None,
    w_layout="vd",
    logit_soft_cap=None,
    z_loss_weight=0.0,
    return_lse=False,
    where=None,
    ignore_index=None,
    **opts,
):
    """The reference: materialised logits, then the unfused loss (+ z-loss on the same mask)."""
    z = x @ (w.T if w_layout == "vd" else w)
    if bias is not None:
        z = z + bias[None, :]
    if logit_soft_cap is not None:
        z = logit_soft_cap * jnp.tanh(z / logit_soft_cap)
    # A per-token ``where`` is applied outside: the same value as the unfused loss's own ``where``
    # (checked in test_where_matches_the_unfused_where), and it keeps the class-weight gradient of
    # masked rows at 0 (the unfused loss gives NaN there: inf * 0 from the empty row).
    loss = softmax_cross_entropy_with_integer_labels(z, y, ignore_index=ignore_index, **opts)
    lse = jax.nn.logsumexp(z, axis=-1)
    keep = jnp.ones(y.shape, bool) if where is None else where
    if ignore_index is not None:
        keep = keep & (y != ignore_index)
    loss = jnp.where(keep, loss + z_loss_weight * lse**2, loss * 0.0)
    return (loss, lse) if return_lse else loss


# --------------------------------------------------------------------------- correctness


@pytest.fixture(scope="module")
def gpt2_shape():
    """The issue's small variant: N=1000, V=50257 (GPT-2 vocabulary), D=128; nothing divides."""
    return _problem(1000, 50257, 128, seed=1)


def test_matches_unfused_at_gpt2_vocabulary(gpt2_shape):
    x, w, y, _, _, ct = gpt2_shape

    def objective(loss_fn):
        def total(x, w):
            loss = loss_fn(x, w, y)
            return jnp.sum(ct * loss), loss

        return jax.jit(jax.value_and_grad(total, argnums=(0, 1), has_aux=True))

    (_, ref_loss), (ref_dx, ref_dw) = objective(_unfused)(x, w)
    (_, loss), (dx, dw) = objective(lambda x, w, y: fused(x, w, y, chunk_size=1024))(x, w)
    assert _rel(loss, ref_loss) <= 1e-6
    assert _rel(dx, ref_dx) <= 1e-5
    assert _rel(dw, ref_dw) <= 1e-5


def test_matches_float64_numpy_closed_form():
    x, w, y, bias, cw, _ = _problem(37, 150, 8, seed=2)
    eps = 0.1
    z = np.asarray(x, np.float64) @ np.asarray(w, np.float64).T + np.asarray(bias, np.float64)
    lse = np.log(np.sum(np.exp(z - z.max(1, keepdims=True)), 1)) + z.max(1)
    yy = np.asarray(y)
    om = np.asarray(cw, np.float64)
    nll = lse - z[np.arange(37), yy]
    smooth = (om[None, :] * (lse[:, None] - z)).sum(1) / 150
    expected = (1 - eps) * om[yy] * nll + eps * smooth
    got = jax.jit(
        lambda x, w: fused(x, w, y, bias=bias, class_weights=cw, label_smoothing=eps, chunk_size=64)
    )(x, w)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)


OPTIONS = {
    "plain": {},
    "bias+dv": {"bias": True, "w_layout": "dv"},
    "smoothing": {"label_smoothing": 0.1},
    "class_weights": {"class_weights": True},
    "smoothing+weights": {"label_smoothing": 0.2, "class_weights": True},
    "ignore_index": {"ignore_index": -100},
    "where": {"where": True},
    "cap+z_loss+lse": {"logit_soft_cap": 3.0, "z_loss_weight": 1e-2, "return_lse": True},
    "everything": {
        "bias": True,
        "w_layout": "dv",
        "label_smoothing": 0.1,
        "class_weights": True,
        "ignore_index": 7,
        "where": True,
        "logit_soft_cap": 5.0,
        "z_loss_weight": 1e-3,
        "return_lse": True,
    },
}


@pytest.fixture(scope="module")
def small_problem():
    return _problem(67, 1000, 16, seed=3, scale=2.0)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_every_option_matches_unfused(name, small_problem):
    x, w, y, bias, cw, ct = small_problem
    spec = dict(OPTIONS[name])
    diff = {"x": x, "w": w}
    if spec.pop("bias", False):
        diff["bias"] = bias
    if spec.pop("class_weights", False):
        diff["class_weights"] = cw
    if spec.get("w_layout") == "dv":
        diff["w"] = w.T
    if spec.get("ignore_index") is not None:
        y = y.at[::5].set(spec["ignore_index"])
    if spec.pop("where", False):
        spec["where"] = jnp.arange(y.shape[0]) % 3 != 1
    ret_lse = spec.get("return_lse", False)

    def total(loss_fn):
        def f(diff):
            args = dict(diff)
            out = loss_fn(args.pop("x"), args.pop("w"), y, **args, **spec)
            if ret_lse:
                return jnp.sum(ct * out[0]) + jnp.sum(jnp.cos(ct) * out[1]), out
            return jnp.sum(ct * out), out

        return jax.jit(jax.value_and_grad(f, has_aux=True))

    (ref_total, ref_out), ref_grads = total(_unfused)(diff)
    (got_total, got_out), grads = total(
        lambda *a, **k: fused(*a, chunk_size=128, token_chunk_size=24, **k)
    )(diff)
    for got, ref in zip(jax.tree.leaves(got_out), jax.tree.leaves(ref_out), strict=True):
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        assert _rel(got, ref) <= 1e-6
    for key in diff:
        assert grads[key].shape == diff[key].shape
        assert grads[key].dtype == diff[key].dtype
        assert _rel(grads[key], ref_grads[key]) <= 1e-5, key
    if ("where" in spec or "ignore_index" in spec) and not ret_lse:
        skipped = (y == spec.get("ignore_index", -1)) | ~spec.get("where", jnp.ones(y.shape, bool))
        assert np.all(np.asarray(got_out[0] if ret_lse else got_out)[np.asarray(skipped)] == 0)
        assert np.all(np.asarray(grads["x"])[np.asarray(skipped)] == 0)


def test_where_matches_the_unfused_where(small_problem):
    x, w, y, bias, cw, _ = small_problem
    where = jnp.arange(y.shape[0]) % 4 != 0
    opts = {"label_smoothing": 0.1, "class_weights": cw, "where": where}
    z = x @ w.T + bias[None, :]
    ref = jax.jit(lambda z: softmax_cross_entropy_with_integer_labels(z, y, **opts))(z)
    got = fused(x, w, y, bias=bias, chunk_size=300, **opts)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(got)[~np.asarray(where)] == 0)


@pytest.mark.parametrize("chunk,token_chunk", [(1, 5), (7, 1), (999, 67), (4096, None), (13, 66)])
def test_chunk_sizes_do_not_change_the_result(chunk, token_chunk, small_problem):
    x, w, y, bias, _, _ = small_problem
    ref = jax.jit(lambda x: _unfused(x, w, y, bias=bias, label_smoothing=0.1))(x)
    got = fused(
        x, w, y, bias=bias, label_smoothing=0.1, chunk_size=chunk, token_chunk_size=token_chunk
    )
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_batch_shape_and_traced_options(variant):
    x, w, y, _, _, _ = _problem(24, 90, 8, seed=4)
    ref = jax.jit(lambda x: _unfused(x, w, y, label_smoothing=0.3))(x).reshape(2, 3, 4)
    xb, yb = x.reshape(2, 3, 4, 8), y.reshape(2, 3, 4)
    got = variant(lambda xb, eps: fused(xb, w, yb, chunk_size=32, label_smoothing=eps))(xb, 0.3)
    assert got.shape == (2, 3, 4)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_vmap_of_grad_matches_unfused():
    x, w, y, _, _, _ = _problem(24, 90, 8, seed=4)
    per_row = jax.jit(
        jax.vmap(jax.value_and_grad(lambda xr, yr: jnp.sum(fused(xr, w, yr, chunk_size=32))))
    )
    loss, g = per_row(x.reshape(6, 4, 8), y.reshape(6, 4))
    ref_loss, g_ref = jax.jit(jax.value_and_grad(lambda x: jnp.sum(_unfused(x, w, y))))(x)
    np.testing.assert_allclose(jnp.sum(loss), ref_loss, rtol=1e-5)
    assert _rel(g.reshape(24, 8), g_ref) <= 1e-5


def test_empty_batch_and_tiny_vocabulary():
    x, w, y, _, _, _ = _problem(5, 3, 4, seed=5)
    assert fused(x[:0], w, y[:0]).shape == (0,)
    ref = jax.jit(_unfused)(x, w, y)
    np.testing.assert_allclose(fused(x, w, y, chunk_size=1024), ref, rtol=1e-6)


@jax.jit
def _fused_and_unfused_grads(x, w, y):
    def both(x):
        return jnp.sum(fused(x, w, y, chunk_size=16)), jnp.sum(_unfused(x, w, y))

    return jax.value_and_grad(lambda x: both(x)[0])(x), jax.value_and_grad(lambda x: both(x)[1])(x)


@given(scale=st.floats(1e-3, 60.0), seed=st.integers(0, 2**16))
@settings(max_examples=8, deadline=None)
def test_extreme_logits_stay_finite_and_match(scale, seed):
    x, w, y, _, _, _ = _problem(16, 70, 4, seed=seed, scale=scale)
    (got, got_dx), (ref, ref_dx) = _fused_and_unfused_grads(x, w, y)
    assert np.isfinite(got) and np.all(np.isfinite(got_dx))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
    assert _rel(got_dx, ref_dx) <= 1e-4


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_accumulates_in_float32(dtype):
    x, w, y, _, _, ct = _problem(50, 300, 32, seed=6, dtype=dtype)
    x64, w64 = np.asarray(x, np.float64), np.asarray(w, np.float64)
    z = x64 @ w64.T
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    ref = lse - z[np.arange(50), np.asarray(y)]
    loss, (dx, dw) = jax.jit(
        jax.value_and_grad(lambda x, w: jnp.sum(fused(x, w, y, chunk_size=64) * ct), argnums=(0, 1))
    )(x, w)
    assert dx.dtype == dtype and dw.dtype == dtype
    np.testing.assert_allclose(fused(x, w, y, chunk_size=64), ref, rtol=1e-5, atol=1e-5)
    p = np.exp(z - lse[:, None])
    g = p - np.eye(300)[np.asarray(y)]
    g *= np.asarray(ct, np.float64)[:, None]
    # Only the final rounding to the half dtype separates us from the float64 gradient.
    assert _rel(dw, g.T @ x64) <= 1e-2
    assert _rel(dx, g @ w64) <= 1e-2


# --------------------------------------------------------------------------- label policy


def test_out_of_range_labels_give_nan_loss_and_nan_gradient():
    x, w, _, _, _, _ = _problem(6, 20, 4, seed=7)
    y = jnp.array([0, 20, 3, -1, -100, 19])
    f = jax.jit(lambda x, w: fused(x, w, y, ignore_index=-100, chunk_size=8))
    loss = np.asarray(f(x, w))
    assert np.isnan(loss[[1, 3]]).all()
    assert np.isfinite(loss[[0, 2, 5]]).all() and loss[4] == 0
    dx, dw = jax.jit(jax.grad(lambda x, w: jnp.sum(f(x, w)), argnums=(0, 1)))(x, w)
    assert np.isnan(np.asarray(dx)[[1, 3]]).all()
    assert np.isfinite(np.asarray(dx)[[0, 2, 4, 5]]).all()
    assert np.isnan(np.asarray(dw)).all()  # as in the unfused loss: x^T g mixes every row
    ref = np.asarray(jax.jit(lambda x, w: _unfused(x, w, y, ignore_index=-100))(x, w))
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(ref))


def test_checked_raises_with_the_offending_index():
    x, w, _, _, _, _ = _problem(4, 10, 4, seed=8)
    y = jnp.array([0, 1, 12, 3])
    with pytest.raises(checkify.JaxRuntimeError, match=r"labels\[\[?2\]?\] = 12"):
        checked(lambda x: fused(x, w, y, chunk_size=4))(x)
    # Raw checkify sees the checks only in checked mode (off by default, so plain jit is free).
    with checked():
        f = jax.jit(checkify.checkify(lambda x: fused(x, w, y), errors=checkify.user_checks))
        err, _ = f(x)
    with pytest.raises(checkify.JaxRuntimeError, match="out of range"):
        err.throw()
    ok = checked(lambda x: fused(x, w, jnp.array([0, 1, -5, 9]), ignore_index=-5))(x)
    assert np.isfinite(np.asarray(ok)).all()


def test_forward_mode_is_refused_clearly():
    x, w, y, _, _, _ = _problem(4, 10, 4, seed=9)
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda x: fused(x, w, y), (x,), (jnp.ones_like(x),))


# --------------------------------------------------------------------------- validation

X, W, Y = jnp.zeros((3, 4)), jnp.zeros((10, 4)), jnp.zeros((3,), jnp.int32)


@pytest.mark.parametrize(
    "args,kwargs,error,match",
    [
        ((X.astype(jnp.int32), W, Y), {}, TypeError, "x must have a floating dtype"),
        ((X, W.astype(jnp.int32), Y), {}, TypeError, "w must have a floating dtype"),
        ((X, W, Y.astype(jnp.float32)), {}, TypeError, "labels must have an integer dtype"),
        ((X, W[0], Y), {}, ValueError, "w must have rank 2"),
        ((X, W, Y), {"w_layout": "vd "}, ValueError, "w_layout must be"),
        ((X, W.T, Y), {}, ValueError, "x must have last axis D = 10"),
        ((X, W, Y[:2]), {}, ValueError, r"labels must have shape \(3,\)"),
        ((X, W, Y), {"chunk_size": 0}, ValueError, "chunk_size must be a positive int"),
        ((X, W, Y), {"chunk_size": 2.0}, TypeError, "chunk_size must be a positive int"),
        ((X, W, Y), {"token_chunk_size": -1}, ValueError, "token_chunk_size"),
        ((X, W, Y), {"bias": jnp.zeros(9)}, ValueError, r"bias must have shape \(10,\)"),
        ((X, W, Y), {"class_weights": jnp.ones(9)}, ValueError, "class_weights must have shape"),
        ((X, W, Y), {"class_weights": -jnp.ones(10)}, ValueError, "non-negative"),
        ((X, W, Y), {"where": jnp.ones(3)}, TypeError, "where must be a boolean mask"),
        ((X, W, Y), {"where": jnp.ones((3, 10), bool)}, ValueError, "where must have the shape"),
        ((X, W, Y), {"label_smoothing": 1.5}, ValueError, r"label_smoothing must be in \[0, 1\]"),
        ((X, W, Y), {"logit_soft_cap": 0.0}, ValueError, "logit_soft_cap must be positive"),
        ((X, W, Y), {"z_loss_weight": -1.0}, ValueError, "z_loss_weight must be non-negative"),
        ((X, W, Y), {"ignore_index": 1.5}, TypeError, "ignore_index must be an int"),
    ],
)
def test_bad_input_raises_naming_the_argument(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fused(*args, **kwargs)


# --------------------------------------------------------------------------- memory


def _temp_mib(loss_fn, n, v, d, dtype=jnp.float32):
    shapes = (
        jax.ShapeDtypeStruct((n, d), dtype),
        jax.ShapeDtypeStruct((v, d), dtype),
        jax.ShapeDtypeStruct((n,), jnp.int32),
    )
    step = jax.jit(jax.value_and_grad(lambda x, w, y: jnp.mean(loss_fn(x, w, y)), argnums=(0, 1)))
    return step.lower(*shapes).compile().memory_analysis().temp_size_in_bytes / MIB


@pytest.fixture(scope="module")
def unfused_temp_mib():
    return _temp_mib(_unfused, 4096, 32768, 256)


def test_memory_of_the_issue_shape(unfused_temp_mib):
    """N=4096, V=32768, D=256 float32: the unfused loss needs ~1 GiB of temporaries."""
    assert unfused_temp_mib >= 900  # the [N, V] logits and their gradient: 2 x 512 MiB
    c1024 = _temp_mib(lambda x, w, y: fused(x, w, y, chunk_size=1024), 4096, 32768, 256)
    c256 = _temp_mib(lambda x, w, y: fused(x, w, y, chunk_size=256), 4096, 32768, 256)
    c1024_2v = _temp_mib(lambda x, w, y: fused(x, w, y, chunk_size=1024), 4096, 65536, 256)
    assert c1024 <= 24  # <= 1.5 tiles of N x chunk float32 (16 MiB each) plus O(N)
    assert c256 <= 0.01 * unfused_temp_mib
    assert abs(c1024_2v - c1024) <= 0.05 * c1024  # nothing grows with V


def test_half_precision_w_is_never_copied_to_float32():
    """A bf16 W of 16 MiB: a float32 copy would add 32 MiB of temporaries that grow with V."""
    bf16 = _temp_mib(lambda x, w, y: fused(x, w, y), 4096, 32768, 256, jnp.bfloat16)
    bf16_2v = _temp_mib(lambda x, w, y: fused(x, w, y), 4096, 65536, 256, jnp.bfloat16)
    w_f32_mib = 32768 * 256 * 4 / MIB
    # XLA:CPU keeps one W-sized buffer in W's own dtype for the dW accumulator (bf16: 16 MiB).
    assert bf16_2v - bf16 <= 0.5 * w_f32_mib + 1
    assert bf16 < w_f32_mib
