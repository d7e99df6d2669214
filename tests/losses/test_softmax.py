"""Softmax cross-entropy: float64 references (PyTorch semantics), optax, masks, dtypes, policy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.experimental import checkify
from jax.test_util import check_grads

from xent_jax.losses import (
    checked,
    poly_loss_cross_entropy,
    safe_softmax_cross_entropy,
    softmax_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
)

C = 7


def _log_softmax64(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def torch_ce_reference(z, y, *, eps=0.0, w=None, ignore=None):
    """PyTorch F.cross_entropy(reduction='none') written in float64 numpy."""
    logp = _log_softmax64(z)
    n, c = logp.shape
    w = np.ones(c) if w is None else np.asarray(w, np.float64)
    yy = np.where(y == ignore, 0, y) if ignore is not None else y
    nll = -logp[np.arange(n), yy] * w[yy]
    smooth = -(logp * w).sum(-1)
    loss = (1 - eps) * nll + eps / c * smooth
    if ignore is not None:
        loss = np.where(y == ignore, 0.0, loss)
    return loss


def closed_form_grad(z, y, *, eps=0.0, w=None, ignore=None):
    """d(sum of losses)/dz = (1-eps) w_y (p - onehot) + eps/C (sum(w) p - w)."""
    p = np.exp(_log_softmax64(z))
    n, c = p.shape
    w = np.ones(c) if w is None else np.asarray(w, np.float64)
    yy = np.where(y == ignore, 0, y) if ignore is not None else y
    onehot = np.eye(c)[yy]
    g = (1 - eps) * w[yy][:, None] * (p - onehot) + eps / c * (w.sum() * p - w[None, :])
    if ignore is not None:
        g = np.where((y == ignore)[:, None], 0.0, g)
    return g


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, C)).astype(np.float32) * 3
    y = rng.integers(0, C, size=6).astype(np.int32)
    w = rng.uniform(0.2, 2.0, size=C).astype(np.float32)
    return z, y, w


OPTIONS = [
    {},
    {"label_smoothing": 0.1},
    {"class_weights": True},
    {"ignore_index": -100},
    {"label_smoothing": 0.2, "class_weights": True, "ignore_index": 3},
]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o) or "plain")
def test_integer_labels_match_pytorch_reference_value_and_grad(variant, data, opts):
    z, y, w = data
    y = y.copy()
    kw = dict(opts)
    if kw.pop("class_weights", False):
        kw["class_weights"] = w
    ignore = kw.get("ignore_index")
    if ignore is not None:
        y[1] = ignore
    fn = variant(lambda z, y: softmax_cross_entropy_with_integer_labels(z, y, **kw))
    loss = fn(z, y)
    ref = torch_ce_reference(
        z, y, eps=kw.get("label_smoothing", 0.0), w=kw.get("class_weights"), ignore=ignore
    )
    assert loss.dtype == jnp.float32
    np.testing.assert_allclose(loss, ref, rtol=1e-6, atol=1e-6)
    grad = variant(jax.grad(lambda z: fn(z, y).sum()))(z)
    gref = closed_form_grad(
        z, y, eps=kw.get("label_smoothing", 0.0), w=kw.get("class_weights"), ignore=ignore
    )
    np.testing.assert_allclose(grad, gref, atol=1e-6)


def test_integer_and_soft_labels_match_optax(variant, data):
    z, y, _ = data
    ours = variant(softmax_cross_entropy_with_integer_labels)(z, y)
    np.testing.assert_allclose(
        ours, optax.softmax_cross_entropy_with_integer_labels(z, y), rtol=1e-6
    )
    onehot = jax.nn.one_hot(y, C)
    soft = variant(softmax_cross_entropy)(z, onehot)
    np.testing.assert_allclose(soft, ours, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(soft, optax.softmax_cross_entropy(z, onehot), rtol=1e-6)


def test_soft_labels_smoothing_and_grad_closed_form(variant, data):
    z, _, _ = data
    t = np.random.default_rng(1).dirichlet(np.ones(C), size=z.shape[0]).astype(np.float32)
    eps = 0.15
    fn = variant(lambda z, t: softmax_cross_entropy(z, t, label_smoothing=eps))
    ts = (1 - eps) * t.astype(np.float64) + eps / C
    ref = -(ts * _log_softmax64(z)).sum(-1)
    np.testing.assert_allclose(fn(z, t), ref, rtol=1e-6)
    grad = variant(jax.grad(lambda z: fn(z, t).sum()))(z)
    p = np.exp(_log_softmax64(z))
    np.testing.assert_allclose(grad, ts.sum(-1, keepdims=True) * p - ts, atol=1e-6)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_minus_inf_mask_equals_loss_on_finite_classes(eps):
    variant = jax.jit
    rng = np.random.default_rng(2)
    z = rng.normal(size=(3, 5)).astype(np.float32)
    y = np.array([0, 2, 4], np.int32)
    masked = z.copy()
    masked[:, 1] = -np.inf
    masked[:, 3] = -np.inf
    keep = [0, 2, 4]
    fn = variant(lambda z, y: softmax_cross_entropy_with_integer_labels(z, y, label_smoothing=eps))
    expected = fn(z[:, keep], np.array([0, 1, 2], np.int32))
    np.testing.assert_allclose(fn(masked, y), expected, rtol=1e-6)
    grad = variant(jax.grad(lambda z: fn(z, y).sum()))(masked)
    assert np.all(np.asarray(grad)[:, [1, 3]] == 0.0)
    np.testing.assert_allclose(
        np.asarray(grad)[:, keep],
        variant(jax.grad(lambda z: fn(z, np.array([0, 1, 2], np.int32)).sum()))(z[:, keep]),
        atol=1e-6,
    )
    # where= gives the same as -inf
    where = np.isfinite(masked)
    via_where = variant(
        lambda z: softmax_cross_entropy_with_integer_labels(z, y, where=where, label_smoothing=eps)
    )(z)
    np.testing.assert_allclose(via_where, expected, rtol=1e-6)
    soft = variant(lambda z: softmax_cross_entropy(z, jax.nn.one_hot(y, 5), label_smoothing=eps))
    np.testing.assert_allclose(soft(masked), expected, rtol=1e-6)


def test_minus_inf_no_nan_in_grad_jvp_hessian_and_fully_masked_row():
    z = jnp.array([[0.5, -jnp.inf, 1.0, -2.0], [-jnp.inf] * 4, [3.0, 1.0, -jnp.inf, 0.0]])
    y = jnp.array([0, 1, 3])
    for eps in (0.0, 0.1):

        def total(z, eps=eps):
            return softmax_cross_entropy_with_integer_labels(z, y, label_smoothing=eps).sum()

        def soft_total(z, eps=eps):
            # soft labels put no mass on the all -inf row (mass there is an infinite loss)
            t = jax.nn.one_hot(y, 4) * jnp.array([[1.0], [0.0], [1.0]])
            return softmax_cross_entropy(z, t, label_smoothing=eps).sum()

        for f in (total, soft_total):
            loss, g, tangent, h = jax.jit(
                lambda z, f=f: (
                    f(z),
                    jax.grad(f)(z),
                    jax.jvp(f, (z,), (jnp.ones_like(z),))[1],
                    jax.hessian(f)(z),
                )
            )(z)
            assert np.isfinite(loss) and np.isfinite(tangent)
            assert not np.isnan(g).any()
            assert np.all(np.asarray(g)[np.isinf(np.asarray(z))] == 0.0)
            assert np.all(np.asarray(g)[1] == 0.0)
            assert not np.isnan(h).any()
    row = softmax_cross_entropy_with_integer_labels(z, y)
    assert row[1] == 0.0


def test_large_logits_are_finite():
    z = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], jnp.float32)
    y = jnp.array([1, 0])
    f = jax.jit(lambda z: softmax_cross_entropy_with_integer_labels(z, y, label_smoothing=0.1))
    loss = f(z)
    assert np.all(np.isfinite(loss))
    np.testing.assert_allclose(
        loss, torch_ce_reference(np.asarray(z), np.asarray(y), eps=0.1), rtol=1e-6
    )
    g = jax.jit(jax.grad(lambda z: f(z).sum()))(z)
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize(
    ("dtype", "vocab"), [(jnp.bfloat16, 32_000), (jnp.float16, 100_000)], ids=["bf16", "f16"]
)
def test_low_precision_inputs_match_float64_on_rounded_inputs(dtype, vocab):
    rng = np.random.default_rng(3)
    z = jnp.asarray(rng.normal(size=(2, vocab)) * 4, dtype)
    y = jnp.array([5, vocab - 1])
    fn = jax.jit(softmax_cross_entropy_with_integer_labels)
    loss = fn(z, y)
    assert loss.dtype == jnp.float32
    ref = torch_ce_reference(np.asarray(z.astype(jnp.float32)), np.asarray(y))
    np.testing.assert_allclose(loss, ref, atol=1e-4, rtol=0)
    g = jax.jit(jax.grad(lambda z: fn(z, y).sum()))(z)
    assert g.dtype == dtype
    assert np.all(np.isfinite(np.asarray(g, np.float32)))


def test_out_of_range_labels_give_nan_value_and_grad(variant):
    z = jnp.zeros((3, 4))
    for bad in (4, -1):
        y = jnp.array([0, bad, 2])
        loss = variant(softmax_cross_entropy_with_integer_labels)(z, y)
        assert np.isnan(loss[1]) and np.isfinite(loss[0]) and np.isfinite(loss[2])
        g = variant(jax.grad(lambda z, y=y: softmax_cross_entropy_with_integer_labels(z, y).sum()))(
            z
        )
        assert np.isnan(g[1]).all() and np.isfinite(g[0]).all() and np.isfinite(g[2]).all()
    # ignore_index is not out of range
    y = jnp.array([0, -100, 2])
    loss = variant(lambda z: softmax_cross_entropy_with_integer_labels(z, y, ignore_index=-100))(z)
    assert np.all(np.isfinite(loss)) and loss[1] == 0.0


def test_checked_path_raises_with_offending_index():
    z = jnp.zeros((2, 3, 4))
    y = jnp.array([[0, 1, 2], [3, 9, 0]])
    with pytest.raises(checkify.JaxRuntimeError, match=r"labels\[\[1 1\]\] = 9"):
        checked(softmax_cross_entropy_with_integer_labels)(z, y)
    with pytest.raises(checkify.JaxRuntimeError, match="expected a class index in"):
        checked(jax.jit(softmax_cross_entropy_with_integer_labels))(z, y)
    err, _ = jax.jit(
        checkify.checkify(softmax_cross_entropy_with_integer_labels, errors=checkify.user_checks)
    )(z, jnp.array([[0, 1, 2], [3, 1, 0]]))
    assert err.get() is None


def test_label_value_changes_do_not_recompile():
    fn = jax.jit(lambda z, y: softmax_cross_entropy_with_integer_labels(z, y))
    z = jnp.zeros((4, 5))
    for labels in ([0, 1, 2, 3], [4, 4, 4, 4], [1, 9, -3, 0]):
        fn(z, jnp.array(labels, jnp.int32))
    assert fn._cache_size() == 1


def test_leading_batch_dims_axis_and_vmap():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(2, 3, C)).astype(np.float32)
    y = rng.integers(0, C, size=(2, 3)).astype(np.int32)

    @jax.jit
    def all_forms(z, y):
        ce = softmax_cross_entropy_with_integer_labels
        full = ce(z, y, label_smoothing=0.1)
        flat = ce(z.reshape(6, C), y.reshape(6), label_smoothing=0.1).reshape(2, 3)
        moved = ce(jnp.moveaxis(z, -1, 0), y, axis=0, label_smoothing=0.1)
        mapped = jax.vmap(lambda z, y: ce(z, y, label_smoothing=0.1))(z, y)
        onehot = jax.nn.one_hot(y, C)
        soft = softmax_cross_entropy(
            jnp.moveaxis(z, -1, 1), jnp.moveaxis(onehot, -1, 1), axis=1, label_smoothing=0.1
        )
        return full, flat, moved, mapped, soft

    full, *others = all_forms(z, y)
    ref = torch_ce_reference(z.reshape(6, C), y.reshape(6), eps=0.1).reshape(2, 3)
    np.testing.assert_allclose(full, ref, rtol=1e-6)
    for other in others:
        np.testing.assert_allclose(other, full, rtol=1e-6)


def test_per_example_where_zeroes_rows():
    z = jnp.ones((3, 4))
    y = jnp.array([0, 1, 2])
    loss = softmax_cross_entropy_with_integer_labels(z, y, where=jnp.array([True, False, True]))
    np.testing.assert_allclose(loss, [np.log(4), 0.0, np.log(4)], rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (
            lambda: softmax_cross_entropy_with_integer_labels(
                jnp.zeros((2, 3), int), jnp.zeros(2, int)
            ),
            TypeError,
            "logits",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy_with_integer_labels(jnp.zeros((2, 3)), jnp.zeros(2)),
            TypeError,
            "labels",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy_with_integer_labels(jnp.zeros((2, 3)), jnp.zeros(3, int)),
            ValueError,
            r"labels must have .*\(2,\) \(or broadcast to it\), got \(3,\)",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy_with_integer_labels(
                jnp.zeros((2, 3)), jnp.zeros(2, int), label_smoothing=-0.1
            ),
            ValueError,
            "label_smoothing",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy_with_integer_labels(
                jnp.zeros((2, 3)), jnp.zeros(2, int), label_smoothing=1.5
            ),
            ValueError,
            r"label_smoothing must be in \[0, 1\], got 1.5",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy_with_integer_labels(
                jnp.zeros((2, 3)), jnp.zeros(2, int), class_weights=jnp.ones(4)
            ),
            ValueError,
            r"class_weights must have shape \(3,\).*got shape \(4,\)",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy_with_integer_labels(
                jnp.zeros((2, 3)), jnp.zeros(2, int), axis=2
            ),
            ValueError,
            "axis",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy_with_integer_labels(
                jnp.zeros((2, 3)), jnp.zeros(2, int), where=jnp.ones((3,), bool)
            ),
            ValueError,
            "where",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy(jnp.zeros((2, 3)), jnp.zeros((2, 4))),
            ValueError,
            r"the shapes must broadcast together, got logits \(2, 3\), labels \(2, 4\)",
        ),  # noqa: E501
        (
            lambda: softmax_cross_entropy(jnp.zeros((2, 3), int), jnp.zeros((2, 3))),
            TypeError,
            "logits must have a floating dtype",
        ),  # noqa: E501
    ],
)
def test_bad_input_raises_naming_argument(call, err, match):
    with pytest.raises(err, match=match):
        call()


@settings(max_examples=30, deadline=None)
@given(
    scale=st.sampled_from([1.0, 30.0, 1e3, 1e4]),
    seed=st.integers(0, 2**16),
    n_masked=st.integers(0, C),
    eps=st.sampled_from([0.0, 0.05, 0.3]),
)
def test_property_matches_float64_and_stays_finite(scale, seed, n_masked, eps):
    rng = np.random.default_rng(seed)
    z = (rng.normal(size=(2, C)) * scale).astype(np.float32)
    masked_cols = rng.permutation(C)[:n_masked]
    mask = np.ones(C, bool)
    mask[masked_cols] = False
    z[:, ~mask] = -np.inf
    kept = np.flatnonzero(mask)
    labels = rng.choice(kept, size=2) if kept.size else np.zeros(2, int)
    loss, grad = _jit_value_and_grad(jnp.asarray(z), jnp.asarray(labels, jnp.int32), eps)
    assert not np.isnan(loss).any() and not np.isnan(grad).any()
    if kept.size:
        remap = np.searchsorted(kept, labels)
        ref = torch_ce_reference(z[:, kept], remap, eps=eps)
        np.testing.assert_allclose(loss, ref, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(
            np.asarray(grad)[:, kept], closed_form_grad(z[:, kept], remap, eps=eps), atol=1e-6
        )
        assert np.all(np.asarray(grad)[:, ~mask] == 0.0)
    else:
        assert np.all(np.asarray(loss) == 0) and np.all(np.asarray(grad) == 0)


@jax.jit
def _jit_value_and_grad(z, y, eps):
    def f(z):
        losses = softmax_cross_entropy_with_integer_labels(z, y, label_smoothing=eps)
        return losses.sum(), losses

    (_, losses), grad = jax.value_and_grad(f, has_aux=True)(z)
    return losses, grad


def test_tuple_axis_matches_optax_flat_index_rule():
    z = jnp.arange(24, dtype=jnp.float32).reshape(1, 2, 3, 4) / 7
    labels = jnp.ravel_multi_index((jnp.array([[1, 2]]), jnp.array([[1, 3]])), (3, 4))
    ours = softmax_cross_entropy_with_integer_labels(z, labels, axis=(2, 3))
    theirs = optax.softmax_cross_entropy_with_integer_labels(z, labels, axis=(2, 3))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    flat = softmax_cross_entropy_with_integer_labels(z.reshape(1, 2, 12), labels)
    np.testing.assert_allclose(ours, flat, rtol=1e-6)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_class_weight_gradient_is_finite_on_masked_rows(label_smoothing):
    # Regression: a fully masked row used to give inf * 0 = NaN in d/d(class_weights).
    logits = jnp.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]])
    labels = jnp.array([1, 2])
    where = jnp.array([True, False])
    weights = jnp.array([1.0, 2.0, 0.5])

    def total(w, masked):
        return softmax_cross_entropy_with_integer_labels(
            logits, labels, where=masked, class_weights=w, label_smoothing=label_smoothing
        ).sum()

    g_masked = jax.grad(total)(weights, where)
    # Same as the gradient over the unmasked first row alone.
    g_first = jax.grad(
        lambda w: softmax_cross_entropy_with_integer_labels(
            logits[:1], labels[:1], class_weights=w, label_smoothing=label_smoothing
        ).sum()
    )(weights)
    np.testing.assert_allclose(g_masked, g_first, rtol=1e-6, atol=1e-7)


def test_safe_and_poly_match_float64_and_gradients(variant, data):
    z, _, _ = data
    t = np.random.default_rng(5).dirichlet(np.ones(C), size=z.shape[0]).astype(np.float32)
    logp = _log_softmax64(z)
    np.testing.assert_allclose(
        variant(safe_softmax_cross_entropy)(z, t), -(t * logp).sum(-1), rtol=1e-6
    )
    poly = variant(lambda z, t: poly_loss_cross_entropy(z, t, epsilon=1.5))
    ref = -(t * logp).sum(-1) + 1.5 * (t * (1 - np.exp(logp))).sum(-1)
    np.testing.assert_allclose(poly(z, t), ref, rtol=1e-6)
    for f in (poly, softmax_cross_entropy):
        check_grads(
            lambda z, f=f: f(z, t),
            (jnp.asarray(z),),
            order=2,
            modes=["rev", "fwd"],
            atol=2e-2,
            rtol=2e-2,
        )
        check_grads(
            lambda t, f=f: f(jnp.asarray(z), t),
            (jnp.asarray(t),),
            order=1,
            modes=["rev", "fwd"],
            atol=2e-2,
            rtol=2e-2,
        )
    # the label derivative of the soft-label CE is -log p
    gt = jax.grad(lambda t: softmax_cross_entropy(z, t).sum())(jnp.asarray(t))
    np.testing.assert_allclose(gt, -logp, rtol=1e-5)
