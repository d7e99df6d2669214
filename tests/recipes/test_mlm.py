"""The masked-LM recipe: the step against a written-out loss, batches, fit logs, exact resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from xent_jax import bio
from xent_jax.data.proteins import bucket_batches
from xent_jax.eval import eval_batches, masked_perplexity
from xent_jax.recipes import init_classifier_state
from xent_jax.recipes.mlm import (
    build_model,
    embed_sequences,
    make_optimizer,
    mlm_batch_fn,
    mlm_step,
    mlm_training,
    residue_count,
)
from xent_jax.tasks import mask_tokens
from xent_jax.train import Hook, fit, read_metrics

SCRIPT = Path(__file__).with_name("_mlm_resume_script.py")
# One bucket shape here (one compilation); the SIGKILL script uses two.
CFG = dict(
    d_model=16, num_layers=1, num_heads=2, mlp_dim=32, max_len=32, boundaries=(32,),
    tokens_per_batch=128, steps=4, learning_rate=1e-2, warmup_steps=1, mask_rate=0.15,
    log_every=2, eval_every=2, checkpoint_every=2, eval_max_len=32,
)  # fmt: skip
V = bio.VOCAB_SIZE


def _seqs(n, seed):
    rng = np.random.default_rng(seed)
    letters = np.array(list(bio.STANDARD_AMINO_ACIDS))
    return [
        bio.tokenize("".join(rng.choice(letters, size=int(rng.integers(10, 60))))) for _ in range(n)
    ]


def _bits(tree):
    return [np.asarray(x).tobytes() for x in jax.tree.leaves(tree)]


def _no_timing(records):
    return [r for r in records if r["split"] != "timing"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train, val = _seqs(40, 0), _seqs(6, 1)
    workdir = tmp_path_factory.mktemp("a")
    job = mlm_training(CFG, train, val, key=3)
    res = fit(job.step, job.state, job.batch_fn, key=3, workdir=workdir, progress=False,
              **job.fit_options)  # fmt: skip
    return train, val, workdir, job, res


def test_history_checkpoints_and_token_throughput(trained):
    train, _, workdir, job, res = trained
    log = read_metrics(workdir)
    assert [r["step"] for r in log if r["split"] == "train"] == [2, 4]
    assert [r["step"] for r in log if r["split"] == "val"] == [2, 4]
    assert all(np.isfinite(r["loss"]) and r["masked"] > 0 for r in log if r["split"] == "train")
    timing = [r for r in log if r["split"] == "timing"]
    assert timing and all(r["tokens_per_s"] > 0 for r in timing)
    val = [r for r in log if r["split"] == "val"][-1]
    assert 1.0 < val["perplexity"] < 3 * V and 15.0 < val["unigram_perplexity"] < 25.0
    assert res.hooks["val"]["perplexity"] == val["perplexity"]
    steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [2, 4]
    # the throughput counts residue tokens of the batches the run saw
    assert res.examples == sum(residue_count(job.batch_fn(s)) for s in range(4))
    assert res.examples == sum(
        int(((b >= bio.FIRST_RESIDUE) & (b < V)).sum()) for b in map(job.batch_fn, range(4))
    )


def test_interrupted_run_resumes_to_the_uninterrupted_result(trained, tmp_path):
    train, val, workdir, _, ref = trained

    def stop_at_2(state, calls=[]):  # noqa: B006 - counts calls across the run
        calls.append(1)
        if len(calls) == 2:  # after step 2 (the hook runs every step)
            raise KeyboardInterrupt

    job = mlm_training(CFG, train, val, key=3)
    options = {**job.fit_options, "hooks": [*job.fit_options["hooks"], Hook("stop", 1, stop_at_2)]}
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C: fit saves the last finished step
        fit(job.step, job.state, job.batch_fn, key=3, workdir=tmp_path, progress=False, **options)
    job = mlm_training(CFG, train, val, key=3)  # a fresh process would rebuild everything
    res = fit(job.step, job.state, job.batch_fn, key=3, workdir=tmp_path, progress=False,
              **job.fit_options)  # fmt: skip
    assert res.resumed_from == 2
    assert _bits(res.state) == _bits(ref.state)
    assert _no_timing(read_metrics(tmp_path)) == _no_timing(read_metrics(workdir))


def test_one_step_is_a_gradient_step_on_the_mean_masked_cross_entropy():
    model = build_model(CFG, key=0)
    tx = optax.sgd(1.0)  # the update is minus the gradient: checks the loss and its gradient
    graphdef, state = init_classifier_state(model, tx)
    tokens = jnp.asarray(np.stack([t[:16] for t in _seqs(8, 4) if len(t) >= 16][:4]), jnp.int32)
    key = jax.random.key(9)
    new, metrics = jax.jit(mlm_step(graphdef, tx, mask_rate=0.3))(state, tokens, key)

    m = mask_tokens(key, tokens, mask_rate=0.3)
    sel = np.asarray(m.loss_mask)

    def loss(params):  # written out: log-softmax at the selected positions, mean over them
        logits = nnx.merge(graphdef, params, state["rest"])(m.inputs)
        logp = jax.nn.log_softmax(logits, -1)
        nll = -jnp.take_along_axis(logp, m.targets[..., None], -1)[..., 0]
        return jnp.sum(jnp.where(sel, nll, 0.0)) / sel.sum()

    value, grads = jax.jit(jax.value_and_grad(loss))(state["params"])
    np.testing.assert_allclose(float(metrics["loss"]), float(value), rtol=1e-5)
    assert float(metrics["masked"]) == sel.sum() > 0
    moved = jax.tree.map(lambda a, b: a - b, state["params"], new["params"])
    for a, b in zip(jax.tree.leaves(moved), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    opt = make_optimizer(CFG)
    assert mlm_step(graphdef, opt) == mlm_step(graphdef, make_optimizer(dict(CFG)))  # shared
    with pytest.raises(ValueError, match="mask_rate"):
        mlm_step(graphdef, tx, mask_rate=0.0)


def test_optimizer_schedule_warms_up_and_decays():
    cfg = {"learning_rate": 0.1, "warmup_steps": 2, "steps": 10, "final_lr_fraction": 0.05,
           "weight_decay": 0.0}  # fmt: skip
    tx = make_optimizer(cfg)
    params = {"w": jnp.zeros(())}
    state = tx.init(params)
    sizes = []
    for _ in range(10):  # Adam on a constant gradient: each step moves by about the lr
        updates, state = tx.update({"w": jnp.ones(())}, state, params)
        sizes.append(-float(updates["w"]))
    np.testing.assert_allclose(sizes[:3], [0.0, 0.05, 0.1], atol=1e-6)
    assert sizes[3] > sizes[6] > sizes[9] > 0.005 - 1e-6
    with pytest.raises(ValueError, match="learning_rate"):
        make_optimizer({"warmup_steps": 1, "steps": 2})


def test_batch_fn_is_a_pure_function_of_the_step():
    seqs = _seqs(60, 5)
    a = mlm_batch_fn(seqs, boundaries=(16, 32), tokens_per_batch=64, key=1)
    b = mlm_batch_fn(seqs, boundaries=(16, 32), tokens_per_batch=64, key=1)
    order = [17, 3, 0, 17, 40, 3]  # any order, revisits across epochs
    for s in order:
        np.testing.assert_array_equal(a(s), b(s))
    assert {a(s).shape for s in range(30)} == {(4, 16), (2, 32)}
    c = mlm_batch_fn(seqs, boundaries=(16, 32), tokens_per_batch=64, key=2)
    assert any(not np.array_equal(a(s), c(s)) for s in range(5))
    # the documented rule: epoch e is bucket_batches with rng default_rng([*key_data(key), e])
    entropy = [int(v) for v in np.asarray(jax.random.key_data(jax.random.key(1))).ravel()]
    epochs = [
        bucket_batches(seqs, boundaries=(16, 32), tokens_per_batch=64,
                       rng=np.random.default_rng([*entropy, e]), drop_last=True)
        for e in (0, 1)
    ]  # fmt: skip
    n = len(epochs[0])
    for s in (0, 1, n - 1, n, n + 2):
        np.testing.assert_array_equal(a(s), epochs[s // n][s % n])
    assert all((a(s) != bio.PAD).any(axis=1).all() for s in range(n))  # no padding rows
    with pytest.raises(ValueError, match="no full batch"):
        mlm_batch_fn(seqs[:2], boundaries=(16, 32), tokens_per_batch=1024, key=0)


def test_uniform_model_has_vocab_size_perplexity(trained):
    _, val, _, job, res = trained
    state = jax.tree.map(lambda x: x, res.state)
    params = jax.tree.map(np.asarray, state["params"])
    params["token_embed"]["embedding"] = np.zeros_like(params["token_embed"]["embedding"])
    params["out_bias"] = np.zeros_like(params["out_bias"])  # logits are all zero
    batches = eval_batches(val, max_len=32, tokens_per_batch=128)
    out = masked_perplexity(job.logits_fn, (params, state["rest"]), batches)
    assert out.perplexity == pytest.approx(V, rel=1e-5) and out.tokens > 0
    trained_out = masked_perplexity(job.logits_fn, job.variables(res.state), batches)
    assert trained_out.perplexity < V  # the trained model beats uniform on validation


def test_embed_sequences_keeps_order(trained):
    _, val, _, job, res = trained
    model = job.model(res.state)
    emb = embed_sequences(model, val, max_len=32, rows=4)
    assert emb.shape == (len(val), CFG["d_model"])
    graphdef, state = nnx.split(model)
    ref_fn = jax.jit(lambda s, t: nnx.merge(graphdef, s).embed(t, where=t >= bio.FIRST_RESIDUE))
    for i in (0, 3, 5):
        ref = ref_fn(state, jnp.asarray(val[i][:32])[None])
        np.testing.assert_allclose(emb[i], np.asarray(ref)[0], atol=1e-5)
    with pytest.raises(ValueError, match="rows"):
        embed_sequences(model, val, max_len=32, rows=0)


def _launch(out: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(out), str(delay)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow  # ~55 s: three subprocesses each compile the bucketed Transformer
def test_mlm_killed_after_a_checkpoint_resumes_to_identical_result(tmp_path):
    """SIGKILL after the first checkpoint, restart: parameters and log as uninterrupted."""
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    ref_proc = _launch(ref, 0.0)
    proc = _launch(cut, 0.3)
    end = time.monotonic() + 180
    while not any(p.name.isdigit() for p in (cut / "checkpoints").glob("*")):
        assert time.monotonic() < end, "no checkpoint appeared"
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()}"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "final.json").exists()
    proc = _launch(cut, 0.0)
    assert proc.wait(timeout=180) == 0, proc.stderr.read()
    assert ref_proc.wait(timeout=180) == 0, ref_proc.stderr.read()
    got, want = (json.loads((d / "final.json").read_text()) for d in (cut, ref))
    assert 0 < got["resumed_from"] < 10 and want["resumed_from"] == 0
    assert got["metrics"] == want["metrics"]
    a, b = np.load(cut / "final.npz"), np.load(ref / "final.npz")
    assert len(a.files) == len(b.files) > 0
    for name in a.files:
        assert a[name].tobytes() == b[name].tobytes()
    assert _no_timing(read_metrics(cut)) == _no_timing(read_metrics(ref))
