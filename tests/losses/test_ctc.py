"""CTC loss: float64 textbook recursion, forward probabilities, gradients, dtypes, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from xent_jax.losses import ctc_loss, ctc_loss_with_forward_probs


def ctc_reference(logits, logit_paddings, labels, label_paddings, blank=0):
    """-log p(labels | logits) by the textbook alpha recursion in float64."""
    out = []
    for b in range(logits.shape[0]):
        t_len = int(np.sum(logit_paddings[b] == 0))
        lab = labels[b][label_paddings[b] == 0]
        z = np.asarray(logits[b, :t_len], np.float64)
        lp = z - np.log(np.sum(np.exp(z - z.max(-1, keepdims=True)), -1, keepdims=True))
        lp -= z.max(-1, keepdims=True)
        ext = [blank]
        for c in lab:
            ext += [int(c), blank]
        alpha = np.full(len(ext), -np.inf)
        alpha[0] = lp[0, ext[0]]
        if len(ext) > 1:
            alpha[1] = lp[0, ext[1]]
        for t in range(1, t_len):
            new = np.full(len(ext), -np.inf)
            for s in range(len(ext)):
                c = [alpha[s]] + ([alpha[s - 1]] if s else [])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    c.append(alpha[s - 2])
                new[s] = np.logaddexp.reduce(c) + lp[t, ext[s]]
            alpha = new
        out.append(-np.logaddexp.reduce(alpha[-2:] if len(ext) > 1 else alpha))
    return np.array(out)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 8, 5)).astype(np.float32) * 2
    logit_paddings = np.zeros((3, 8), np.float32)
    logit_paddings[1, 6:] = 1.0
    labels = np.array([[1, 2, 2], [3, 1, 4], [4, 4, 0]], np.int32)  # repeats; row 2 padded
    label_paddings = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 1]], np.float32)
    return logits, logit_paddings, labels, label_paddings


def test_matches_float64_forward_algorithm(variant, batch):
    loss = variant(ctc_loss)(*batch)
    assert loss.dtype == jnp.float32 and loss.shape == (3,)
    np.testing.assert_allclose(loss, ctc_reference(*batch), rtol=1e-5)


def test_forward_probabilities_shapes_and_final_value(batch):
    loss, blank, label = jax.jit(ctc_loss_with_forward_probs)(*batch)
    assert blank.shape == (8, 3, 4) and label.shape == (8, 3, 3)
    # the loss is minus the final blank alpha at each sequence's label length
    lengths = np.array([3, 3, 2])
    np.testing.assert_allclose(-np.asarray(blank)[-1, np.arange(3), lengths], loss, rtol=1e-6)


def test_gradient_numerically_and_padded_frames_get_zero(batch):
    logits, lp, labels, lab_p = batch
    check_grads(
        lambda z: ctc_loss(z, lp, labels, lab_p),
        (jnp.asarray(logits),),
        order=1,
        modes=["rev"],
        atol=2e-2,
        rtol=2e-2,
    )
    g = jax.grad(lambda z: ctc_loss(z, lp, labels, lab_p).sum())(jnp.asarray(logits))
    assert np.all(np.asarray(g)[1, 6:] == 0.0)
    # per frame, the gradient is softmax minus the alignment posterior: it sums to 0
    np.testing.assert_allclose(np.asarray(g).sum(-1)[0], 0.0, atol=1e-5)


def test_low_precision_logits_are_computed_in_float32(batch):
    logits, *rest = batch
    low = jnp.asarray(logits, jnp.bfloat16)
    loss = ctc_loss(low, *rest)
    assert loss.dtype == jnp.float32
    ref = ctc_reference(np.asarray(low.astype(jnp.float32)), *rest)
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    g = jax.grad(lambda z: ctc_loss(z, *rest).sum())(low)
    assert g.dtype == jnp.bfloat16 and np.isfinite(np.asarray(g, np.float32)).all()


def test_blank_id_and_minus_inf_logits(batch):
    logits, lp, labels, lab_p = batch
    moved = np.roll(logits, -1, axis=-1)  # the blank is now the last class
    np.testing.assert_allclose(
        ctc_loss(moved, lp, labels - 1 + 5 * (labels == 0), lab_p, blank_id=4),
        ctc_loss(logits, lp, labels, lab_p),
        rtol=1e-5,
    )
    # a class no label uses at -inf: the loss is that of the logits without it
    masked = logits.copy()
    masked[..., 3] = -np.inf
    keep = [0, 1, 2, 4]
    relabel = np.array([[1, 2, 2], [3, 1, 3], [3, 3, 0]], np.int32)
    lab = np.array([[1, 2, 2], [4, 1, 4], [4, 4, 0]], np.int32)
    np.testing.assert_allclose(
        ctc_loss(masked, lp, lab, lab_p), ctc_loss(masked[..., keep], lp, relabel, lab_p), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "err", "match"),
    [
        (
            (np.zeros((2, 3)), np.zeros((2,)), np.zeros((2, 1), int), np.zeros((2, 1))),
            {},
            ValueError,
            "rank 3",
        ),
        (
            (np.zeros((2, 3, 4)), np.zeros((2, 3)), np.zeros((2, 1)), np.zeros((2, 1))),
            {},
            TypeError,
            "integer",
        ),
        (
            (np.zeros((2, 3, 4)), np.zeros((2, 2)), np.zeros((2, 1), int), np.zeros((2, 1))),
            {},
            ValueError,
            "logit_paddings",
        ),
        (
            (np.zeros((2, 3, 4)), np.zeros((2, 3)), np.zeros((3, 1), int), np.zeros((3, 1))),
            {},
            ValueError,
            "batch size 2",
        ),
        (
            (np.zeros((2, 3, 4)), np.zeros((2, 3)), np.zeros((2, 1), int), np.zeros((2, 1))),
            {"blank_id": 4},
            ValueError,
            "blank_id",
        ),
    ],
)
def test_bad_input(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        ctc_loss(*args, **kwargs)
