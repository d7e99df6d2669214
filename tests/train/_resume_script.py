"""A tiny training run used by test_loop.py: killed and resumed from a subprocess."""

import json
import sys
import time

import numpy as np
import optax
from flax import nnx

from xent_jax.models import MLP
from xent_jax.train import classification_step, fit, init_classifier_state, make_batch_fn

out, delay = sys.argv[1], float(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 64)).astype(np.float32)
y = (x[:, :10].argmax(1)).astype(np.int32)
tx = optax.adam(1e-2)
graphdef, state = init_classifier_state(MLP(64, (16,), 10, rngs=nnx.Rngs(0)), tx)
data_fn = make_batch_fn((x, y), batch_size=32, seed=3)


def batch_fn(step):
    time.sleep(delay)  # slow enough that the test can interrupt it mid-run
    return data_fn(step)


res = fit(
    classification_step(graphdef, tx),
    state,
    batch_fn,
    num_steps=30,
    key=7,
    ckpt_dir=f"{out}/ckpt",
    ckpt_every=5,
    metrics_path=f"{out}/metrics.jsonl",
    eval_fn=lambda s: {"w_sum": float(np.sum(np.asarray(s["params"]["layers"][0]["kernel"])))},
    eval_every=10,
    progress=False,
)
np.savez(f"{out}/final.npz", *[np.asarray(v) for v in __import__("jax").tree.leaves(res.state)])
with open(f"{out}/final.json", "w") as f:
    json.dump({"metrics": res.metrics, "resumed_from": res.resumed_from}, f)
