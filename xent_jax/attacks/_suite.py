"""A standard suite of attacks and robust-accuracy curves over budgets, in batches."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from xent_jax.attacks import _common as C
from xent_jax.attacks._apgd import apgd
from xent_jax.attacks._evaluate import evaluate
from xent_jax.attacks._fgsm import fgsm
from xent_jax.attacks._pgd import pgd

__all__ = ["attack_suite", "robustness_curves"]

WORST = "worst case"
KINDS = ("fgsm", "pgd", "pgd_restarts", "apgd_ce", "apgd_dlr")


def attack_suite(
    norm: str,
    *,
    key: jax.Array,
    pgd_steps: int = 10,
    strong_steps: int = 100,
    restarts: int = 5,
    apgd_steps: int = 100,
    kinds: Sequence[str] = KINDS,
) -> dict[str, Callable[..., Any]]:
    """FGSM, PGD, PGD with restarts, APGD-CE and APGD-DLR for one norm, weakest first.

    Args:
      norm: ``"linf"`` or ``"l2"``.
      key: PRNG key (each attack gets its own fold).
      pgd_steps: steps of the plain PGD attack.
      strong_steps: steps of the PGD attack with restarts.
      restarts: its restarts.
      apgd_steps: iterations of both APGD attacks.
      kinds: which of ``"fgsm", "pgd", "pgd_restarts", "apgd_ce", "apgd_dlr"`` to include.

    Returns:
      ``{name: attack(logits_fn, x, y, *, eps)}`` for :func:`evaluate`, e.g. ``"PGD-10"``.

    Examples:
      >>> import jax
      >>> list(attack_suite("linf", key=jax.random.key(0), restarts=5))
      ['FGSM', 'PGD-10', 'PGD-100 x5', 'APGD-CE', 'APGD-DLR']
    """
    C.check_choice("norm", norm, C.NORMS)
    for kind in kinds:
        C.check_choice("kinds", kind, KINDS)
    keys = [jax.random.fold_in(key, i) for i in range(4)]
    suite = {
        "fgsm": ("FGSM", functools.partial(fgsm, norm=norm)),
        "pgd": (
            f"PGD-{pgd_steps}",
            functools.partial(pgd, steps=pgd_steps, norm=norm, key=keys[0]),
        ),
        "pgd_restarts": (
            f"PGD-{strong_steps} x{restarts}",
            functools.partial(pgd, steps=strong_steps, restarts=restarts, norm=norm, key=keys[1]),
        ),
        "apgd_ce": (
            "APGD-CE",
            functools.partial(apgd, steps=apgd_steps, loss="ce", norm=norm, key=keys[2]),
        ),
        "apgd_dlr": (
            "APGD-DLR",
            functools.partial(apgd, steps=apgd_steps, loss="dlr", norm=norm, key=keys[3]),
        ),
    }
    return dict(suite[k] for k in KINDS if k in kinds)


def robustness_curves(
    logits_fn: Callable[[jax.Array], jax.Array],
    x: Any,
    y: Any,
    attacks: Mapping[str, Callable[..., Any]],
    *,
    epsilons: Sequence[float],
    batch_size: int = 500,
    progress: bool = False,
) -> dict[str, list[float]]:
    """Robust accuracy per attack and budget, plus the per-example worst case over the attacks.

    Runs :func:`evaluate` (all budgets in one compiled call) on batches of ``x``.

    Args:
      logits_fn: ``x -> logits`` in evaluation mode.
      x: inputs ``[N, ...]``; y: integer labels ``[N]``.
      attacks: ``{name: attack}`` as made by :func:`attack_suite`.
      epsilons: budgets.
      batch_size: examples per call (the call holds ``len(epsilons) * batch_size`` inputs).
      progress: show a tqdm bar over attacks and batches.

    Returns:
      ``{name: [robust accuracy per budget]}`` with an extra ``"worst case"`` entry: an example
      counts as robust only if no attack broke it.

    Examples:
      >>> import jax.numpy as jnp
      >>> w = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
      >>> robustness_curves(lambda x: x @ w, jnp.array([[0.6, 0.4]]), jnp.array([0]),
      ...                   {"FGSM": fgsm}, epsilons=[0.0, 0.2])
      {'FGSM': [1.0, 0.0], 'worst case': [1.0, 0.0]}
    """
    x, y = np.asarray(x), np.asarray(y)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(y)
    starts = range(0, n, batch_size)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(attacks) * len(starts), desc="attacks", leave=False)
    broken = {}
    for name, attack in attacks.items():
        parts = []
        for s in starts:
            ev = evaluate(
                logits_fn, x[s : s + batch_size], y[s : s + batch_size], attack, epsilons=epsilons
            )
            parts.append(np.asarray(ev.success))
            if bar is not None:
                bar.update(1)
        broken[name] = np.concatenate(parts, axis=1)
    if bar is not None:
        bar.close()
    curves = {name: (1.0 - s.mean(axis=1)).tolist() for name, s in broken.items()}
    worst = np.logical_or.reduce(list(broken.values()))
    curves[WORST] = (1.0 - worst.mean(axis=1)).tolist()
    return curves
