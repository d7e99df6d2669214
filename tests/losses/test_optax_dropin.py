"""xent_jax as a drop-in for optax 0.2.8's cross-entropy family: signatures, calling forms, defects.

* Signatures: for each of the 18 shared names, optax's parameters (names, order, kinds, defaults)
  are a prefix of ours and every extra parameter is keyword-only with a default.
* Calling forms optax accepts (positional ``axis``/``where``, tuple and None ``axis``, a
  broadcasting ``where``, broadcasting labels, integer or boolean labels that optax casts), each
  compared with optax's value eagerly and under ``jax.jit``.
* optax's known numerical defects: each test shows optax's wrong value (NaN, inf or an error of
  0.07 nats) next to ours, checked against a float64 numpy reference.

Skipped as a whole when the installed optax is not 0.2.8 (the signatures and defects are
version-specific).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

OPTAX_VERSION = "0.2.8"
if importlib.metadata.version("optax") != OPTAX_VERSION:
    pytest.skip(
        f"pinned to optax {OPTAX_VERSION}; installed {importlib.metadata.version('optax')}",
        allow_module_level=True,
    )

import optax  # noqa: E402
from jax.scipy.special import logsumexp  # noqa: E402

import xent_jax.losses as xl  # noqa: E402

SHARED = (
    "convex_kl_divergence",
    "ctc_loss",
    "ctc_loss_with_forward_probs",
    "generalized_kl_divergence",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "make_fenchel_young_loss",
    "multiclass_sparsemax_loss",
    "ntxent",
    "poly_loss_cross_entropy",
    "ranking_softmax_loss",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "sparsemax_loss",
)
EMPTY = inspect.Parameter.empty


def _params(fn):
    return list(inspect.signature(fn).parameters.values())


def _optax(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(optax.losses, name)


def _allow_rank_promotion():
    """optax itself relies on implicit rank promotion for some broadcasting forms."""
    return jax.numpy_rank_promotion("allow")


# ------------------------------------------------------------------------------ signatures


@pytest.mark.parametrize("name", SHARED)
def test_signature_is_optax_then_keyword_only_extras(name):
    theirs, ours = _params(_optax(name)), _params(getattr(xl, name))
    head = [(p.name, p.kind, p.default) for p in ours[: len(theirs)]]
    assert head == [(p.name, p.kind, p.default) for p in theirs], name
    for extra in ours[len(theirs) :]:
        assert extra.kind is inspect.Parameter.KEYWORD_ONLY, (name, extra.name)
        assert extra.default is not EMPTY, (name, extra.name)


def test_every_optax_cross_entropy_name_is_exported():
    assert set(SHARED) <= set(dir(xl))
    for name in SHARED:
        assert getattr(xl, name) is not getattr(optax.losses, name, None)


def test_fenchel_young_loss_function_signature_matches():
    ours = _params(xl.make_fenchel_young_loss(logsumexp))
    theirs = _params(optax.losses.make_fenchel_young_loss(logsumexp))
    assert [(p.name, p.kind) for p in ours] == [(p.name, p.kind) for p in theirs]


# ---------------------------------------------------------------------------- calling forms

RNG = np.random.default_rng(0)
Z = RNG.normal(size=(3, 4, 5)).astype(np.float32)
P = RNG.dirichlet(np.ones(5), size=(3, 4)).astype(np.float32)
Q = RNG.dirichlet(np.ones(5), size=(3, 4)).astype(np.float32)
Y = RNG.integers(0, 5, size=(3, 4)).astype(np.int32)
W_EX = np.array([[True, False, True, True]] * 3)
W_K = np.array([True, True, False, True, True])
W_FULL = RNG.uniform(size=(3, 4, 5)) > 0.3
W_FULL[..., 0] = True

FORMS = {
    "sce/positional-axis": ("softmax_cross_entropy", (Z, P, 1), {}),
    "sce/positional-axis-0": ("softmax_cross_entropy", (np.moveaxis(Z, -1, 0),), {}),
    "sce/tuple-axis": ("softmax_cross_entropy", (Z, P), {"axis": (1, 2)}),
    "sce/none-axis": ("softmax_cross_entropy", (Z, P), {"axis": None}),
    "sce/positional-where-per-example": ("softmax_cross_entropy", (Z, P, -1, W_EX), {}),
    "sce/where-broadcast-classes": ("softmax_cross_entropy", (Z, P), {"where": W_K[None, None]}),
    "sce/where-full": ("softmax_cross_entropy", (Z, P), {"where": W_FULL}),
    "sce/labels-broadcast": ("softmax_cross_entropy", (Z, P[0, 0]), {}),
    "sce/int-one-hot-labels": ("softmax_cross_entropy", (Z, np.eye(5, dtype=np.int32)[Y]), {}),
    "int/positional-axis": ("softmax_cross_entropy_with_integer_labels", (Z[0].T, Y[0], 0), {}),
    "int/tuple-axis": (
        "softmax_cross_entropy_with_integer_labels",
        (Z, RNG.integers(0, 20, size=(3,)).astype(np.int32), (1, 2)),
        {},
    ),
    "int/positional-where": ("softmax_cross_entropy_with_integer_labels", (Z, Y, -1, W_EX), {}),
    # (a label on a masked class is inf for us, finite for optax: keep the label classes unmasked)
    "int/where-full": (
        "softmax_cross_entropy_with_integer_labels",
        (Z, Y),
        {"where": W_FULL | (np.arange(5) == Y[..., None])},
    ),
    "int/labels-broadcast": ("softmax_cross_entropy_with_integer_labels", (Z, Y[:1]), {}),
    "safe/labels-broadcast": ("safe_softmax_cross_entropy", (Z, P[0]), {}),
    "poly/tuple-axis": ("poly_loss_cross_entropy", (Z, P), {"axis": (1, 2), "epsilon": 1.5}),
    "poly/none-axis": ("poly_loss_cross_entropy", (Z, P), {"axis": None}),
    "poly/where": ("poly_loss_cross_entropy", (Z, P), {"where": W_FULL}),
    "sbce/int-labels": ("sigmoid_binary_cross_entropy", (Z, (P > 0.2).astype(np.int32)), {}),
    "sbce/bool-labels": ("sigmoid_binary_cross_entropy", (Z, P > 0.2), {}),
    "sbce/labels-broadcast": ("sigmoid_binary_cross_entropy", (Z, P[0, 0]), {}),
    "sbce/logits-broadcast": ("sigmoid_binary_cross_entropy", (Z[0, 0], P), {}),
    "focal/int-labels": ("sigmoid_focal_loss", (Z, (P > 0.2).astype(np.int32)), {"alpha": 0.25}),
    "focal/labels-broadcast": ("sigmoid_focal_loss", (Z, P[0, 0]), {"gamma": 0.5}),
    "kl/positional-axis": ("kl_divergence", (np.log(Q), P, 1), {}),
    "kl/tuple-axis": ("kl_divergence", (np.log(Q), P, (0, 2)), {}),
    "kl/none-axis": ("kl_divergence", (np.log(Q), P, None), {}),
    "kl/where-broadcast": ("kl_divergence", (np.log(Q), P, -1, W_K), {}),
    "kl/targets-broadcast": ("kl_divergence", (np.log(Q), P[0, 0]), {}),
    "kllog/tuple-axis": ("kl_divergence_with_log_targets", (np.log(Q), np.log(P), (1, 2)), {}),
    "kllog/where": ("kl_divergence_with_log_targets", (np.log(Q), np.log(P)), {"where": W_FULL}),
    "gkl/none-axis": ("generalized_kl_divergence", (np.log(Q), P * 2), {"axis": None}),
    "gkl/where-broadcast": ("generalized_kl_divergence", (np.log(Q), P, -1, W_K), {}),
    "smooth/tuple-axis": ("smooth_labels", (P, 0.1), {"axis": (1, 2)}),
    "smooth/none-axis": ("smooth_labels", (P, 0.3), {"axis": None}),
    "sparsemax/bool-labels": ("sparsemax_loss", (Z, P > 0.2), {}),
    "sparsemax/labels-broadcast": ("sparsemax_loss", (Z, np.array([1, 0, 1, 0, 1])), {}),
    "msparsemax/2d": ("multiclass_sparsemax_loss", (Z[0], Y[0]), {}),
    "ranking/positional-free": ("ranking_softmax_loss", (Z, P), {"reduce_fn": None}),
    "ranking/weights-where-sum": (
        "ranking_softmax_loss",
        (Z, P),
        {"weights": P * 3, "where": W_FULL, "reduce_fn": jnp.sum},
    ),
    "ranking/mean-where": ("ranking_softmax_loss", (Z, P), {"where": W_FULL}),
    "ntxent/positional-temperature": ("ntxent", (Z[0], np.array([0, 0, 1, 1]), 0.5), {}),
    "ctc/blank-id": (
        "ctc_loss",
        (Z, np.zeros((3, 4), np.float32), np.array([[1, 2], [3, 3], [4, 1]]), np.zeros((3, 2))),
        {"blank_id": 0},
    ),
    "ctc/blank-last": (
        "ctc_loss",
        (Z, np.zeros((3, 4), np.float32), np.array([[1, 2], [3, 3], [0, 1]]), np.zeros((3, 2))),
        {"blank_id": 4},
    ),
}
FORMS["sce/positional-axis-0"] = (
    "softmax_cross_entropy",
    (np.moveaxis(Z, -1, 0), np.moveaxis(P, -1, 0), 0),
    {},
)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_calling_form_matches_optax(form, variant):
    name, args, kwargs = FORMS[form]
    ours = variant(lambda: getattr(xl, name)(*args, **kwargs))()
    with _allow_rank_promotion():
        theirs = _optax(name)(*args, **kwargs)
    assert np.shape(ours) == np.shape(theirs), (np.shape(ours), np.shape(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-5)


def test_defect_fenchel_young_drops_keyword_arguments(variant):
    """optax vectorises max_fun with jnp.vectorize, which silently drops keyword arguments."""

    def max_fun(s, scale=1.0):
        return logsumexp(s * scale) / scale

    ours = variant(lambda s, t: xl.make_fenchel_young_loss(max_fun)(s, t, scale=2.0))(Z, P)
    theirs = optax.losses.make_fenchel_young_loss(max_fun)(Z, P, scale=2.0)
    z64, p64 = Z.astype(np.float64), P.astype(np.float64)
    ref = np.logaddexp.reduce(2 * z64, axis=-1) / 2 - np.sum(p64 * z64, -1)
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
    unscaled = np.logaddexp.reduce(z64, axis=-1) - np.sum(p64 * z64, -1)
    np.testing.assert_allclose(theirs, unscaled, rtol=1e-5)  # scale=2.0 ignored


def test_convex_kl_divergence_warns_like_optax():
    with pytest.warns(DeprecationWarning, match="Please use generalized_kl_divergence instead"):
        ours = xl.convex_kl_divergence(np.log(Q), P)
    np.testing.assert_allclose(ours, xl.generalized_kl_divergence(np.log(Q), P), rtol=1e-6)


# ----------------------------------------------------------------- optax's numerical defects

INF = np.inf


def _np_log_softmax(z):
    z = np.asarray(z, np.float64)
    m = np.max(np.where(np.isfinite(z), z, -np.inf), axis=-1, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def test_defect_zero_label_on_minus_inf_logit():
    z = np.array([[-INF, 1.0, 2.0]], np.float32)
    t = np.array([[0.0, 0.25, 0.75]], np.float32)
    with np.errstate(invalid="ignore"):
        ref = -np.sum(np.where(t > 0, t * _np_log_softmax(z), 0.0), axis=-1)
    assert np.isnan(optax.losses.softmax_cross_entropy(z, t)).all()
    assert np.isnan(optax.losses.poly_loss_cross_entropy(z, t)).all()
    np.testing.assert_allclose(xl.softmax_cross_entropy(z, t), ref, rtol=1e-6)
    p = np.exp(_np_log_softmax(z))
    poly_ref = ref + 2.0 * np.sum(t * (1 - p), axis=-1)
    np.testing.assert_allclose(xl.poly_loss_cross_entropy(z, t), poly_ref, rtol=1e-6)


def test_defect_safe_softmax_forward_mode_derivative_at_minus_inf():
    z = jnp.array([[-INF, 0.0, 1.0]])
    t = jnp.array([[0.0, 0.5, 0.5]])
    dz = jnp.array([[1.0, 1.0, -1.0]])

    def their(z):
        return optax.losses.safe_softmax_cross_entropy(z, t).sum()

    def ours(z):
        return xl.safe_softmax_cross_entropy(z, t).sum()

    assert np.isnan(jax.jvp(their, (z,), (dz,))[1])
    p = np.exp(_np_log_softmax(z))
    expected = np.sum(np.where(np.isfinite(np.asarray(z)), np.asarray(dz), 0.0) * (p - t))
    for f in (
        lambda z: jax.jvp(ours, (z,), (dz,))[1],
        jax.jit(lambda z: jax.jvp(ours, (z,), (dz,))[1]),
    ):
        np.testing.assert_allclose(f(z), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jax.jacfwd(ours)(z), jax.grad(ours)(z), atol=1e-7)


def test_defect_kl_family_zero_target_at_minus_inf():
    log_q = jnp.array([-np.inf, np.log(0.25), np.log(0.75)], jnp.float32)
    t = jnp.array([0.0, 0.5, 0.5], jnp.float32)
    log_t = jnp.array([-np.inf, np.log(0.5), np.log(0.5)], jnp.float32)
    kl_ref = 0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75)
    assert np.isnan(optax.losses.kl_divergence(log_q, t))
    assert np.isnan(optax.losses.kl_divergence_with_log_targets(log_q, log_t))
    assert np.isnan(optax.losses.generalized_kl_divergence(log_q, t))
    np.testing.assert_allclose(xl.kl_divergence(log_q, t), kl_ref, rtol=1e-6)
    np.testing.assert_allclose(xl.kl_divergence_with_log_targets(log_q, log_t), kl_ref, rtol=1e-6)
    np.testing.assert_allclose(xl.generalized_kl_divergence(log_q, t), kl_ref, rtol=1e-6)
    g = jax.grad(lambda lq: xl.kl_divergence(lq, t))(log_q)
    np.testing.assert_allclose(g, -t, atol=1e-7)


def test_defect_focal_loss_at_infinite_logits():
    x = jnp.array([-INF, INF, 3.0])
    y = jnp.array([0.0, 1.0, 1.0])
    # gamma = 0 is plain BCE: 0 for an infinite logit that agrees with its label
    assert np.isnan(optax.losses.sigmoid_focal_loss(x, y, gamma=0.0)[:2]).all()
    bce = np.log1p(np.exp(-3.0))
    np.testing.assert_allclose(xl.sigmoid_focal_loss(x, y, gamma=0.0), [0.0, 0.0, bce], rtol=1e-6)
    assert np.isnan(jax.grad(lambda x: optax.losses.sigmoid_focal_loss(x, y).sum())(x)[:2]).all()
    g = jax.grad(lambda x: xl.sigmoid_focal_loss(x, y).sum())(x)
    assert np.all(np.asarray(g)[:2] == 0.0) and np.isfinite(g).all()


def test_defect_ctc_minus_inf_logit_and_nan_in_padded_frame():
    key = jax.random.key(0)
    logits = jax.random.normal(key, (2, 5, 4))
    pads = jnp.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], jnp.float32)
    labels, label_pads = jnp.array([[1, 2], [3, 1]]), jnp.zeros((2, 2))
    clean = xl.ctc_loss(logits, pads, labels, label_pads)
    np.testing.assert_allclose(
        clean, optax.losses.ctc_loss(logits, pads, labels, label_pads), rtol=1e-5
    )
    # a NaN in a padded frame: optax's loss and gradient are NaN, ours unchanged and finite
    dirty = logits.at[0, 4].set(jnp.nan)
    assert np.isnan(optax.losses.ctc_loss(dirty, pads, labels, label_pads)[0])
    np.testing.assert_allclose(xl.ctc_loss(dirty, pads, labels, label_pads), clean, rtol=1e-6)
    g = jax.grad(lambda x: xl.ctc_loss(x, pads, labels, label_pads).sum())(dirty)
    assert np.isfinite(g).all() and np.all(np.asarray(g)[0, 3:] == 0.0)
    # a -inf logit for a class no label uses: optax NaN (one-hot product), ours equals the loss
    # without that class
    without_2 = logits.at[:, :, 2].set(-INF)
    lab = jnp.array([[1, 3], [3, 1]])
    no_pads = jnp.zeros((2, 5))
    assert np.isnan(optax.losses.ctc_loss(without_2, no_pads, lab, label_pads)).all()
    ours = xl.ctc_loss(without_2, no_pads, lab, label_pads)
    dropped = xl.ctc_loss(
        jnp.delete(logits, 2, axis=-1), no_pads, jnp.array([[1, 2], [2, 1]]), label_pads
    )
    np.testing.assert_allclose(ours, dropped, rtol=1e-5)


def test_defect_ntxent_without_positive_pair():
    e = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = jnp.array([0, 1, 2])
    assert np.isnan(optax.losses.ntxent(e, labels))
    assert float(xl.ntxent(e, labels)) == 0.0
    assert np.all(jax.grad(lambda e: xl.ntxent(e, labels))(e) == 0.0)


def test_defect_ntxent_large_embeddings():
    """Cosine similarity is scale-free; optax's squared norms overflow above ~1e19 in float32."""
    e = jnp.array([[-1.954, 1.078], [0.238, -0.5703], [1.8745, -0.0195], [-0.6719, -1.921]])
    labels = jnp.array([0, 0, 1, 1])
    small = xl.ntxent(e, labels)
    np.testing.assert_allclose(small, optax.losses.ntxent(e, labels), rtol=1e-5)
    np.testing.assert_allclose(xl.ntxent(e * 1e25, labels), small, rtol=1e-5)
    assert abs(float(optax.losses.ntxent(e * 1e25, labels)) - float(small)) > 1.0


def test_defect_multiclass_sparsemax_bfloat16_gradient():
    """optax's custom JVP returns a bf16 tangent for a float32 primal and raises."""
    scores = jnp.array([[0.5, 0.0, 1.0], [2.0, 0.1, 0.0]], jnp.bfloat16)
    labels = jnp.array([2, 0])
    with pytest.raises(TypeError, match="Custom JVP rule must produce"):
        jax.grad(lambda s: optax.losses.multiclass_sparsemax_loss(s, labels).sum())(scores)
    g = jax.grad(lambda s: xl.multiclass_sparsemax_loss(s, labels).sum())(scores)
    assert g.dtype == jnp.bfloat16
    s32 = np.asarray(scores.astype(jnp.float32))
    p = np.asarray(jax.vmap(optax.projections.projection_simplex)(jnp.asarray(s32)))
    np.testing.assert_allclose(np.asarray(g, np.float32), p - np.eye(3)[labels], atol=1e-2)


def test_defect_fenchel_young_zero_target_at_minus_inf():
    s = jnp.array([-INF, 0.0, 1.0])
    t = jnp.array([0.0, 0.0, 1.0])
    assert np.isnan(optax.losses.make_fenchel_young_loss(logsumexp)(s, t))
    ref = np.logaddexp(0.0, 1.0) - 1.0
    np.testing.assert_allclose(xl.make_fenchel_young_loss(logsumexp)(s, t), ref, rtol=1e-6)


def test_defect_bfloat16_large_vocabulary():
    rng = np.random.default_rng(1)
    z = jnp.asarray(rng.normal(size=(4, 32_000)) * 4, jnp.bfloat16)
    y = jnp.array([1, 2, 3, 4])
    z64 = np.asarray(z.astype(jnp.float32), np.float64)
    ref = -_np_log_softmax(z64)[np.arange(4), np.asarray(y)]
    theirs = optax.losses.softmax_cross_entropy_with_integer_labels(z, y)
    ours = xl.softmax_cross_entropy_with_integer_labels(z, y)
    assert np.max(np.abs(np.asarray(theirs, np.float64) - ref)) > 1e-2
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0)


def test_defect_overflow_with_soft_labels_near_float32_max():
    z = np.array([3e38, -3e38], np.float32)
    t = np.array([0.9, 0.1], np.float32)
    assert np.isinf(optax.losses.softmax_cross_entropy(z, t))
    np.testing.assert_allclose(xl.softmax_cross_entropy(z, t), 0.1 * 6e38, rtol=1e-6)


def test_defect_float16_nearly_uniform_large_vocabulary():
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.normal(size=(2, 100_000)) * 1e-3, jnp.float16)
    y = jnp.array([3, 7])
    z64 = np.asarray(z.astype(jnp.float32), np.float64)
    ref = -_np_log_softmax(z64)[np.arange(2), np.asarray(y)]
    assert np.isinf(optax.losses.softmax_cross_entropy_with_integer_labels(z, y)).all()
    for f in (xl.softmax_cross_entropy_with_integer_labels,
              jax.jit(xl.softmax_cross_entropy_with_integer_labels)):  # fmt: skip
        np.testing.assert_allclose(f(z, y), ref, rtol=1e-5)


def test_defect_out_of_range_label_gradient_under_jit():
    """optax: NaN loss but a finite (wrong) gradient; ours: NaN in both."""
    z, y = jnp.array([[1.0, 2.0, 3.0]]), jnp.array([5])

    def value_and_grad(fn):
        return jax.jit(jax.value_and_grad(lambda z: fn(z, y).sum()))(z)

    v, g = value_and_grad(optax.losses.softmax_cross_entropy_with_integer_labels)
    assert np.isnan(v) and np.isfinite(g).all()
    v, g = value_and_grad(xl.softmax_cross_entropy_with_integer_labels)
    assert np.isnan(v) and np.isnan(g).all()


def test_defect_sigmoid_bce_at_infinite_logits_that_agree_with_the_label():
    x, t = jnp.array([-INF, INF, 2.0]), jnp.array([0.0, 1.0, 1.0])
    assert np.isnan(optax.losses.sigmoid_binary_cross_entropy(x, t)[:2]).all()
    ref = [0.0, 0.0, np.log1p(np.exp(-2.0))]
    for f in (xl.sigmoid_binary_cross_entropy, jax.jit(xl.sigmoid_binary_cross_entropy)):
        np.testing.assert_allclose(f(x, t), ref, rtol=1e-6)


def test_defect_ranking_softmax_with_a_minus_inf_score():
    s, labels = jnp.array([-INF, 1.0, 2.0]), jnp.array([0.0, 1.0, 0.0])
    assert np.isnan(optax.losses.ranking_softmax_loss(s, labels))
    ref = -(1.0 - np.log(np.exp(1.0) + np.exp(2.0)))
    np.testing.assert_allclose(xl.ranking_softmax_loss(s, labels), ref, rtol=1e-6)


def test_defect_sparsemax_gradient_at_infinite_logits():
    x, t = jnp.array([-INF, INF, 1.0]), jnp.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(optax.losses.sparsemax_loss(x, t), [0.0, 0.0, 1.0])
    assert np.isnan(jax.grad(lambda x: optax.losses.sparsemax_loss(x, t).sum())(x)[:2]).all()
    np.testing.assert_allclose(xl.sparsemax_loss(x, t), [0.0, 0.0, 1.0])
    g = jax.grad(lambda x: xl.sparsemax_loss(x, t).sum())(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])  # d/dx of the linear branch 1 + x - 1


def test_defect_safe_softmax_gradient_on_an_all_minus_inf_row_without_label_mass():
    z, t = jnp.full((1, 3), -INF), jnp.zeros((1, 3))
    their = jax.grad(lambda z: optax.losses.safe_softmax_cross_entropy(z, t).sum())(z)
    assert np.isnan(their).all()
    assert float(xl.safe_softmax_cross_entropy(z, t)[0]) == 0.0
    ours = jax.grad(lambda z: xl.safe_softmax_cross_entropy(z, t).sum())(z)
    np.testing.assert_array_equal(ours, np.zeros((1, 3)))
