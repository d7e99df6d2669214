"""A tiny masked-LM run used by test_mlm.py: killed by SIGKILL and resumed from a subprocess.

usage: python _mlm_resume_script.py OUT DELAY
"""

import json
import sys
import time

import jax
import numpy as np

from xent_jax import bio
from xent_jax.recipes.mlm import mlm_training
from xent_jax.train import Hook, fit

out, delay = sys.argv[1], float(sys.argv[2])
rng = np.random.default_rng(0)
letters = np.array(list(bio.STANDARD_AMINO_ACIDS))
seqs = [bio.tokenize("".join(rng.choice(letters, int(rng.integers(8, 60))))) for _ in range(40)]
config = dict(
    d_model=16, num_layers=1, num_heads=2, mlp_dim=32, max_len=32, boundaries=(16, 32),
    tokens_per_batch=128, steps=10, learning_rate=1e-2, warmup_steps=2, mask_rate=0.15,
    steps_per_call=2, log_every=3, eval_every=4, checkpoint_every=2, eval_max_len=32,
)  # fmt: skip
job = mlm_training(config, seqs[:34], seqs[34:], key=5)
slow = Hook("slow", 1, lambda state: time.sleep(delay))  # slow enough to be killed mid-run
options = {**job.fit_options, "hooks": [*job.fit_options["hooks"], slow]}
res = fit(job.step, job.state, job.batch_fn, key=5, workdir=out, progress=False, **options)
np.savez(f"{out}/final.npz", *[np.asarray(v) for v in jax.tree.leaves(res.state)])
with open(f"{out}/final.json", "w") as f:
    json.dump({"metrics": res.metrics, "resumed_from": res.resumed_from}, f)
