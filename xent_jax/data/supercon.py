"""Superconductor compositions as element-fraction vectors (shared data ``supercon/``).

Two sources, both in the shared data folder:

* ``"hamidieh"``: ``supercon/composition_train.csv.gz`` (UCI Superconductivity, Hamidieh 2018),
  86 element-amount columns H..Rn plus ``critical_temp`` and ``material``. Fractions come from the
  element columns (amount / total). 19,137 rows but only 14,162 distinct formulas.
* ``"stanev"``: ``supercon/Supercon_data_by_2018_Stanev.csv`` (``name``, ``Tc``); fractions come
  from parsing the formula with :func:`parse_formula` (the 8 rows with characters that are not a
  formula, such as ``=z`` or ``+3``, are dropped).

Rows are de-duplicated by formula string (first occurrence kept), so a split by row is a split by
formula. :func:`composition_key` rounds a fraction vector to a canonical formula string, used to
compare generated and training compositions (novelty, uniqueness).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from xent_jax._paths import data_file

__all__ = [
    "ELEMENTS",
    "SuperconData",
    "composition_key",
    "fractions_from_formula",
    "load_supercon",
    "parse_formula",
    "sample_independent_marginals",
]

# The 86 elements H..Rn in atomic-number order: the column order of the UCI file.
ELEMENTS: tuple[str, ...] = tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy "
    "Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn".split()
)
_INDEX = {el: i for i, el in enumerate(ELEMENTS)}
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d+\.?\d*|\.\d+)?")
_SOURCES = {
    "hamidieh": ("supercon", "composition_train.csv.gz"),
    "stanev": ("supercon", "Supercon_data_by_2018_Stanev.csv"),
}


def parse_formula(formula: str) -> dict[str, float]:
    """Parses a flat chemical formula such as ``"Ba0.4K0.6Fe2As2"`` into element amounts.

    A missing amount means 1; repeated elements are summed. Parentheses are not supported (the
    SuperCon formulas are flat).

    Args:
      formula: the formula string.

    Returns:
      A dict element -> amount (not normalised), in order of first appearance.

    Raises:
      ValueError: when the string is not a flat formula of known elements with positive amounts.

    Examples:
      >>> parse_formula("Ba0.4K0.6Fe2As2")
      {'Ba': 0.4, 'K': 0.6, 'Fe': 2.0, 'As': 2.0}
    """
    if not isinstance(formula, str) or not formula:
        raise ValueError(f"formula must be a non-empty string, got {formula!r}")
    amounts: dict[str, float] = {}
    pos = 0
    for match in _TOKEN.finditer(formula):
        if match.start() != pos:
            break
        el, num = match.group(1), match.group(2)
        if el not in _INDEX:
            raise ValueError(f"formula {formula!r}: unknown element {el!r} (expected one of H..Rn)")
        amounts[el] = amounts.get(el, 0.0) + (float(num) if num else 1.0)
        pos = match.end()
    if pos != len(formula):
        raise ValueError(
            f"formula {formula!r}: cannot parse from position {pos} ({formula[pos:]!r}); "
            "expected element symbols each followed by an optional amount"
        )
    if sum(amounts.values()) <= 0:
        raise ValueError(f"formula {formula!r}: amounts must sum to a positive number")
    return amounts


def fractions_from_formula(formula: str) -> np.ndarray:
    """Returns the element-fraction vector of a formula, float64 ``[86]`` summing to 1.

    Examples:
      >>> f = fractions_from_formula("MgB2")
      >>> round(float(f[ELEMENTS.index("B")]), 4)
      0.6667
    """
    vec = np.zeros(len(ELEMENTS))
    for el, amount in parse_formula(formula).items():
        vec[_INDEX[el]] += amount
    return vec / vec.sum()


def composition_key(fractions: np.ndarray, *, decimals: int = 2) -> list[str]:
    """Canonical formula strings of fraction vectors rounded to ``decimals`` places.

    Each vector is normalised to sum 1, rounded, and written as elements in atomic-number order
    with their rounded fractions; elements whose fraction rounds to 0 are left out. Two
    compositions are "the same" at this precision when their keys are equal.

    Args:
      fractions: non-negative amounts, shape ``[n, 86]`` (or ``[86]``).
      decimals: rounding precision of the fractions.

    Returns:
      A list of ``n`` strings (``""`` for a vector with no element left after rounding).

    Examples:
      >>> composition_key(fractions_from_formula("MgB2")[None])
      ['B0.67Mg0.33']
    """
    arr = np.asarray(fractions, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != len(ELEMENTS):
        raise ValueError(f"fractions must have shape [n, {len(ELEMENTS)}], got {arr.shape}")
    if not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a non-negative int, got {decimals!r}")
    total = arr.sum(axis=1, keepdims=True)
    arr = np.round(np.divide(arr, total, out=np.zeros_like(arr), where=total > 0), decimals)
    keys = []
    for row in arr:
        idx = np.nonzero(row)[0]
        keys.append("".join(f"{ELEMENTS[i]}{row[i]:.{decimals}f}" for i in idx))
    return keys


@dataclasses.dataclass(frozen=True)
class SuperconData:
    """De-duplicated compositions.

    Attributes:
      fractions: float32 ``[n, 86]``, rows sum to 1, columns in :data:`ELEMENTS` order.
      formulas: the ``n`` source formula strings (distinct).
      critical_temp: float32 ``[n]`` in kelvin (first occurrence of each formula).
    """

    fractions: np.ndarray
    formulas: tuple[str, ...]
    critical_temp: np.ndarray

    def __len__(self) -> int:
        return len(self.formulas)


def load_supercon(source: str = "hamidieh") -> SuperconData:
    """Loads superconductor compositions as element fractions, de-duplicated by formula.

    Args:
      source: ``"hamidieh"`` (UCI, fractions from the 86 element columns; 14,162 formulas) or
        ``"stanev"`` (SuperCon list, fractions parsed from the formula).

    Returns:
      A :class:`SuperconData`.

    Raises:
      ValueError: for an unknown source. FileNotFoundError: when the shared file is absent.

    Examples:
      >>> data = load_supercon()  # doctest: +SKIP
      >>> data.fractions.shape  # doctest: +SKIP
      (14162, 86)
    """
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {tuple(_SOURCES)}, got {source!r}")
    import pandas as pd

    path = data_file(*_SOURCES[source], what=f"superconductor compositions ({source})")
    if source == "hamidieh":
        frame = pd.read_csv(path)
        missing = [el for el in ELEMENTS if el not in frame.columns]
        if missing or "material" not in frame.columns:
            raise ValueError(f"{path}: expected columns H..Rn and 'material', missing {missing}")
        frame = frame.drop_duplicates(subset="material", keep="first")
        amounts = frame[list(ELEMENTS)].to_numpy(dtype=np.float64)
        keep = amounts.sum(axis=1) > 0
        amounts, frame = amounts[keep], frame[keep]
        fractions = amounts / amounts.sum(axis=1, keepdims=True)
        formulas = tuple(frame["material"].astype(str))
        tc = frame["critical_temp"].to_numpy(dtype=np.float32)
    else:
        frame = pd.read_csv(path).drop_duplicates(subset="name", keep="first")
        rows, formulas_list, tcs = [], [], []
        for name, tc_value in zip(frame["name"].astype(str), frame["Tc"], strict=True):
            try:
                rows.append(fractions_from_formula(name))
            except ValueError:
                continue  # a handful of entries carry annotations such as "=z" or "+3"
            formulas_list.append(name)
            tcs.append(tc_value)
        fractions = np.stack(rows)
        formulas = tuple(formulas_list)
        tc = np.asarray(tcs, dtype=np.float32)
    return SuperconData(fractions.astype(np.float32), formulas, tc)


def sample_independent_marginals(
    fractions: np.ndarray, n: int, *, rng: np.random.Generator
) -> np.ndarray:
    """Naive baseline: compositions whose elements are drawn independently from the marginals.

    Each element ``e`` is present independently with its presence frequency in ``fractions``;
    a present element gets an amount drawn from the empirical fractions of ``e`` among the
    compositions that contain it; the row is then renormalised. Rows with no element are
    redrawn. This keeps every per-element marginal (presence, amount) but none of the
    co-occurrence structure (which elements go together, how many there are).

    Args:
      fractions: training compositions, shape ``[N, 86]``, rows summing to 1.
      n: number of compositions to draw.
      rng: numpy random generator.

    Returns:
      float32 ``[n, 86]``, rows summing to 1.

    Examples:
      >>> import numpy as np
      >>> f = np.eye(86)[:3] * 0.5 + np.eye(86)[1:4] * 0.5
      >>> x = sample_independent_marginals(f, 5, rng=np.random.default_rng(0))
      >>> x.shape, bool(np.allclose(x.sum(1), 1))
      ((5, 86), True)
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 2 or fractions.shape[1] != len(ELEMENTS):
        raise ValueError(f"fractions must have shape [N, {len(ELEMENTS)}], got {fractions.shape}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    present = fractions > 0
    freq = present.mean(axis=0)
    pools = [fractions[present[:, j], j] for j in range(fractions.shape[1])]
    out = np.zeros((n, fractions.shape[1]))
    todo = np.arange(n)
    while todo.size:
        mask = rng.random((todo.size, fractions.shape[1])) < freq
        empty = ~mask.any(axis=1)
        rows = todo[~empty]
        for j in np.nonzero(mask[~empty].any(axis=0))[0]:
            sel = rows[mask[~empty][:, j]]
            out[sel, j] = rng.choice(pools[j], size=sel.size)
        todo = todo[empty]
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)
