"""A tiny GAN run used by test_gan.py: killed by SIGKILL and resumed from a subprocess.

usage: python _gan_resume_script.py OUT DELAY
"""

import json
import sys
import time

import jax
import numpy as np
from flax import nnx

from xent_jax.models import Discriminator, Generator
from xent_jax.recipes.gan import GANConfig, data_sampler, gan_step, init_gan_state, sample
from xent_jax.train import Hook, fit

out, delay = sys.argv[1], float(sys.argv[2])
data = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32) + [3.0, -2.0]
config = GANConfig(batch_size=16, r1_gamma=1.0, instance_noise=0.05, decay_steps=15)
gan, state = init_gan_state(
    Generator(2, 2, hidden=(8,), rngs=nnx.Rngs(0)),
    Discriminator(2, hidden=(8,), pack=2, rngs=nnx.Rngs(1)),
    config,
)
res = fit(
    gan_step(gan, data_sampler(data)),
    state,
    None,
    steps=20,
    key=7,
    steps_per_call=3,
    workdir=out,
    checkpoint_every=5,
    log_every=4,
    eval_fn=lambda s: {"sample_mean": float(sample(gan, s, 0, 64).mean())},
    eval_every=10,
    hooks=[Hook("slow", 1, lambda s: time.sleep(delay))],  # slow enough to be killed mid-run
    progress=False,
)
np.savez(f"{out}/final.npz", *[np.asarray(v) for v in jax.tree.leaves(res.state)])
with open(f"{out}/final.json", "w") as f:
    json.dump({"metrics": res.metrics, "resumed_from": res.resumed_from}, f)
