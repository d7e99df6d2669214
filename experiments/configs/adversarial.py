"""Adversarial robustness study: FGSM, PGD, PGD with restarts, APGD-CE and APGD-DLR.

Command (full: MNIST 10k test set split 8,000 / 2,000, needs ``../shared/data/mnist``)::

    xent-jax run adversarial --out results

Trains an MLP (784-256-256-10) and a small CNN, each normally and with PGD adversarial training
(L-inf, eps 0.3, 10 steps), then attacks 500 held-out images under L-inf and L2 at five budgets.
Not yet run end to end: expect several times the quick run's CPU time (about an hour or more on a
2-core CPU). Expected result: standard models near 0% robust accuracy at L-inf eps 0.3; the
adversarially trained ones keep far more, with FGSM >= PGD-10 >= PGD-100 x5 >= APGD up to an
example or two.

``--quick`` (the CPU demo): sklearn digits (1,437 / 360 split), an MLP (64-256-256-10) and a CNN
(16, 32), adversarial training at L-inf eps 0.1, all attacks on the 360 test digits. Measured:
9.3 minutes of CPU time (47 minutes wall on a 2-core CPU shared with other jobs, load about 19);
standard models 0.0% at L-inf eps 0.3 and about 43-52% at eps 0.1; PGD-trained ones 80-89% at
eps 0.1 (worst case over the five attacks). ``tiny`` (tests only): 300 digits, the MLP only, a
few steps, FGSM and PGD under L-inf: about 15 s of CPU time.
"""

from __future__ import annotations


def get_config(size: str = "full") -> dict:
    """Returns the settings for ``size`` in {"full", "quick", "tiny"}."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    cfg = dict(
        dataset="mnist10k",  # mnist10k | digits
        n_limit=None,
        n_train=8000,
        n_attack=500,  # held-out examples attacked
        mlp_hidden=(256, 256),
        cnn_widths=(32, 64),
        train_steps=1500,
        batch_size=128,
        learning_rate=1e-3,
        ckpt_every=250,
        at_eps=0.3,  # PGD adversarial training budget (L-inf)
        at_steps=10,
        linf_eps=(0.0, 0.1, 0.2, 0.3, 0.4),
        l2_eps=(0.0, 1.0, 2.0, 3.0, 4.0),
        pgd_steps=10,
        strong_steps=100,
        restarts=5,
        apgd_steps=100,
        attack_batch=250,
        archs=("mlp", "cnn"),
        norms=("linf", "l2"),
        attacks=("fgsm", "pgd", "pgd_restarts", "apgd_ce", "apgd_dlr"),
    )
    if size == "quick":
        cfg.update(
            dataset="digits",
            n_train=1437,
            n_attack=360,
            mlp_hidden=(256, 256),
            cnn_widths=(16, 32),
            train_steps=800,
            at_eps=0.1,
            at_steps=7,
            linf_eps=(0.0, 0.05, 0.1, 0.2, 0.3),
            l2_eps=(0.0, 0.25, 0.5, 1.0, 1.5),
            restarts=3,
            attack_batch=360,
        )
    elif size == "tiny":
        cfg.update(
            dataset="digits",
            n_limit=300,
            n_train=240,
            n_attack=40,
            mlp_hidden=(32,),
            cnn_widths=(4,),
            train_steps=6,
            batch_size=32,
            ckpt_every=0,
            at_eps=0.1,
            at_steps=2,
            linf_eps=(0.0, 0.3),
            l2_eps=(0.0, 1.0),
            pgd_steps=2,
            strong_steps=3,
            restarts=2,
            apgd_steps=3,
            attack_batch=40,
            archs=("mlp",),
            norms=("linf",),
            attacks=("fgsm", "pgd"),
        )
    return cfg
