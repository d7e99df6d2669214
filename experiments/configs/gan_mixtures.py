"""Config for ``xent-jax run gan-mixtures``: BCE GANs on the VEEGAN ring and grid.

Command (full): ``.venv/bin/xent-jax run gan-mixtures --out results`` -- ring (8,000 steps,
3 seeds) and grid (20,000 steps, 2 seeds), non-saturating and minimax generator losses, packed
discriminator (PacGAN, pack 4). Measured: 1,445 s on the shared 2-core CPU; ring 8.0/8 modes with
both losses but only 31% high-quality samples (target 50%); grid non-saturating 21.0/25 modes,
36% high quality (target 23 and 40%); grid minimax 4.0/25 (diverges).
Quick: ``--quick`` (ring only, both losses, one seed, 3,000 steps; under 2 minutes), a smoke run
whose numbers are not the reported ones (measured 106 s: 8/8 ring modes, 3-4% high quality).
``tiny`` is for tests (seconds).
"""

from __future__ import annotations

_COMMON = {
    "noise_dim": 16,
    "batch_size": 256,
    "pack": 4,
    "n_eval": 2500,
    "chunk": 1000,
}


def get_config(size: str = "full") -> dict:
    """Returns the experiment configuration for ``size`` in {"full", "quick", "tiny"}."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    # The grid needs a faster discriminator (two-timescale learning rates) and more steps.
    mixtures = {
        "ring": {"steps": 8000, "g_learning_rate": 5e-4, "d_learning_rate": 5e-4, "seeds": 3},
        "grid": {"steps": 20000, "g_learning_rate": 5e-4, "d_learning_rate": 2e-3, "seeds": 2},
    }
    cfg = {
        **_COMMON,
        "hidden": (128, 128, 128),
        "mixtures": mixtures,
        "losses": ("non_saturating", "minimax"),
    }
    if size == "quick":
        cfg["mixtures"] = {"ring": {**mixtures["ring"], "steps": 3000, "seeds": 1}}
    elif size == "tiny":
        cfg["mixtures"] = {name: {**m, "steps": 20, "seeds": 1} for name, m in mixtures.items()}
        cfg.update(hidden=(16,), batch_size=32, chunk=10, n_eval=200)
    return cfg
