"""A standard suite of attacks and robust-accuracy curves over budgets, in batches."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from xent_jax._keys import as_key
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
      key: PRNG key (each attack gets its own fold); a typed key, a raw key or an int seed
        meaning ``jax.random.key(seed)``; ``None`` is refused.
      pgd_steps: steps of the plain PGD attack (a Python int ``>= 1``, as are the next three).
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
    key = as_key(key, "key")
    pgd_steps = C.check_count("pgd_steps", pgd_steps)
    strong_steps = C.check_count("strong_steps", strong_steps)
    restarts = C.check_count("restarts", restarts)
    apgd_steps = C.check_count("apgd_steps", apgd_steps)
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not kinds:
        raise ValueError(f"kinds must be a non-empty sequence of names from {KINDS}, got {kinds!r}")
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
    norm: str | None = None,
    bounds: tuple[float, float] | None = None,
    tolerance: float = 1e-5,
) -> dict[str, list[float]]:
    """Robust accuracy per attack and budget, plus the per-example worst case over the attacks.

    Runs :func:`evaluate` (all budgets in one compiled call) on batches of ``x``, so every attack
    point is checked to lie in its ball and box, and non-finite logits raise a ``ValueError``.

    Args:
      logits_fn: ``x -> logits`` in evaluation mode.
      x: inputs ``[N, ...]`` with ``N >= 1``; y: integer labels ``[N]``.
      attacks: a non-empty ``{name: attack}`` as made by :func:`attack_suite`.
      epsilons: budgets.
      batch_size: examples per call, a Python int ``>= 1`` (the call holds
        ``len(epsilons) * batch_size`` inputs).
      progress: show a tqdm bar over attacks and batches.
      norm: passed to :func:`evaluate` (default: each attack's own ``norm``).
      bounds: passed to :func:`evaluate` (default: each attack's own ``bounds``).
      tolerance: passed to :func:`evaluate`.

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
    x, y = np.asarray(C.check_array("x", x)), np.asarray(C.check_array("y", y))
    batch_size = C.check_count("batch_size", batch_size)
    if not isinstance(attacks, Mapping) or not attacks:
        raise ValueError(f"attacks must be a non-empty mapping {{name: attack}}, got {attacks!r}")
    if x.ndim < 1 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"x must be [N, ...] and y [N]; got x {x.shape} and y {y.shape}")
    if len(y) == 0:
        raise ValueError(f"x must hold at least one example, got shape {x.shape}")
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
                logits_fn,
                x[s : s + batch_size],
                y[s : s + batch_size],
                attack,
                epsilons=epsilons,
                norm=norm,
                bounds=bounds,
                tolerance=tolerance,
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
