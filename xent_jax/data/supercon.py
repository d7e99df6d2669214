"""Superconductor compositions as element-fraction vectors (shared data ``supercon/``).

Two sources, both in the shared data folder:

* ``"hamidieh"``: ``supercon/composition_train.csv.gz`` (UCI Superconductivity, Hamidieh 2018),
  86 element-amount columns H..Rn plus ``critical_temp`` and ``material``. Fractions come from the
  element columns (amount / total). 19,137 rows but only 14,162 distinct formulas.
* ``"stanev"``: ``supercon/Supercon_data_by_2018_Stanev.csv`` (``name``, ``Tc``); fractions come
  from parsing the formula with :func:`parse_formula`. Of its 16,414 rows, 16,375 are kept: 31
  name the hydrogen isotopes ``D`` or ``T``, 7 carry annotations that are not a formula (``=z``,
  ``+3``, ``!``) and 1 has a negative amount (``Ba-1``). Its actinides (Th, U, Pu, ...; 569 rows)
  are elements like any other.

Fraction vectors have one column per element of the periodic table through oganesson
(:data:`ELEMENTS`, 118, atomic-number order). Rows are de-duplicated by formula string (first
occurrence kept), so a split by row is a split by formula. No row is dropped silently: every
loaded :class:`SuperconData` carries a :class:`~xent_jax.data.LoadReport` with the rows read,
kept and dropped by reason (the first few line numbers of each). :func:`composition_key` rounds a
fraction vector to a canonical formula string, used to compare generated and training
compositions (novelty, uniqueness).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import operator
import os
import re
import zlib
from collections.abc import Iterator

import numpy as np

from xent_jax._paths import data_file
from xent_jax.data._report import LoadReport

__all__ = [
    "ELEMENTS",
    "SuperconData",
    "composition_key",
    "fractions_from_formula",
    "load_supercon",
    "parse_formula",
    "sample_independent_marginals",
]

# The 118 elements H..Og in atomic-number order; the first 86 (H..Rn) are the UCI file's columns.
ELEMENTS: tuple[str, ...] = tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy "
    "Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf "
    "Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og".split()
)
_UCI_COLUMNS = ELEMENTS[:86]  # H..Rn
_INDEX = {el: i for i, el in enumerate(ELEMENTS)}
_TOKEN = re.compile(r"([A-Z][a-z]?)(-?(?:\d+\.?\d*|\.\d+))?")
_SOURCES = {
    "hamidieh": ("supercon", "composition_train.csv.gz"),
    "stanev": ("supercon", "Supercon_data_by_2018_Stanev.csv"),
}


def _parse(formula: str) -> tuple[dict[str, float] | None, str, str]:
    """``(amounts, "", "")``, or ``(None, reason, message)`` for a formula that is not valid."""
    if not isinstance(formula, str) or not formula:
        return None, "missing_formula", f"formula must be a non-empty string, got {formula!r}"
    amounts: dict[str, float] = {}
    pos = 0
    for match in _TOKEN.finditer(formula):
        if match.start() != pos:
            break
        el, num = match.group(1), match.group(2)
        if el not in _INDEX:
            return (
                None,
                f"unknown_element:{el}",
                f"formula {formula!r}: unknown element {el!r} (expected one of H..Og)",
            )
        amount = float(num) if num else 1.0
        if amount < 0:
            return None, "negative_amount", f"formula {formula!r}: negative amount {num} of {el}"
        amounts[el] = amounts.get(el, 0.0) + amount
        pos = match.end()
    if pos != len(formula):
        return (
            None,
            "malformed_formula",
            f"formula {formula!r}: cannot parse from position {pos} ({formula[pos:]!r}); "
            "expected element symbols each followed by an optional amount",
        )
    if sum(amounts.values()) <= 0:
        return None, "no_elements", f"formula {formula!r}: amounts must sum to a positive number"
    return amounts, "", ""


def parse_formula(formula: str) -> dict[str, float]:
    """Parses a flat chemical formula such as ``"Ba0.4K0.6Fe2As2"`` into element amounts.

    A missing amount means 1; repeated elements are summed. Parentheses are not supported (the
    SuperCon formulas are flat). Elements are those of :data:`ELEMENTS` (H..Og); the isotope
    symbols ``D`` and ``T`` are not elements and are refused.

    Args:
      formula: the formula string.

    Returns:
      A dict element -> amount (not normalised), in order of first appearance.

    Raises:
      ValueError: when the string is not a flat formula of known elements with non-negative
        amounts summing to a positive number.

    Examples:
      >>> parse_formula("Ba0.4K0.6Fe2As2")
      {'Ba': 0.4, 'K': 0.6, 'Fe': 2.0, 'As': 2.0}
      >>> parse_formula("U1Pt3")
      {'U': 1.0, 'Pt': 3.0}
    """
    amounts, _, message = _parse(formula)
    if amounts is None:
        raise ValueError(message)
    return amounts


def fractions_from_formula(formula: str) -> np.ndarray:
    """Returns the element-fraction vector of a formula, float64 ``[118]`` summing to 1.

    Examples:
      >>> f = fractions_from_formula("MgB2")
      >>> f.shape, round(float(f[ELEMENTS.index("B")]), 4)
      ((118,), 0.6667)
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
      fractions: non-negative amounts, shape ``[n, 118]`` (or ``[118]``).
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
      fractions: float32 ``[n, 118]``, rows sum to 1, columns in :data:`ELEMENTS` order.
      formulas: the ``n`` source formula strings (distinct).
      critical_temp: float32 ``[n]`` in kelvin (first occurrence of each formula).
      report: rows read, kept and dropped by reason, with line numbers (``None`` when the data
        were not read from a file).
    """

    fractions: np.ndarray
    formulas: tuple[str, ...]
    critical_temp: np.ndarray
    report: LoadReport | None = None

    def __len__(self) -> int:
        return len(self.formulas)


def _csv_rows(path) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each non-blank row of a CSV file (gzip by magic bytes), header first.

    Raises:
      ValueError: naming the file (and the line) for a truncated gzip or text that is not UTF-8.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise ValueError(f"{path}: cannot read the gzip data ({err}); truncated?") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is not part of the header
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ValueError(
            f"{path}, line {line}: not UTF-8 text (byte {raw[err.start]:#04x}: {err.reason})"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    for fields in reader:
        if fields:
            yield reader.line_num, fields


def _columns(path, header: list[str], required: tuple[str, ...], want: str) -> dict[str, int]:
    index = {name.strip(): i for i, name in enumerate(header)}
    missing = [c for c in required if c not in index]
    if missing:
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        raise ValueError(f"{path}: expected columns {want}, missing {missing[:8]}{more}")
    return index


def _finite_non_negative(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return bool(np.isfinite(value) and value >= 0)


def _number(text: str) -> float:
    """``float(text)``; an empty field is NaN and a field that is not a number is +inf."""
    text = text.strip()
    if not text:
        return np.nan
    try:
        return float(text)
    except ValueError:
        return np.inf


def _read_hamidieh(path):
    """``(amounts [n, 118], formulas, tc texts, lines, drops, read)`` of the UCI table."""
    rows = _csv_rows(path)
    _, header = next(rows, (0, []))
    col = _columns(path, header, (*_UCI_COLUMNS, "material", "critical_temp"),
                   "H..Rn, 'material' and 'critical_temp'")  # fmt: skip
    present = [j for j, el in enumerate(ELEMENTS) if el in col]
    values = operator.itemgetter(*[col[ELEMENTS[j]] for j in present])
    drops, table, formulas, tcs, lines, read = [], [], [], [], [], 0
    for line, fields in rows:
        read += 1
        if len(fields) != len(header):
            drops.append(("malformed_row", line))
            continue
        try:
            table.append(list(map(float, values(fields))))
        except ValueError:
            table.append(list(map(_number, values(fields))))
        formulas.append(fields[col["material"]].strip())
        tcs.append(fields[col["critical_temp"]])
        lines.append(line)
    amounts = np.zeros((len(table), len(ELEMENTS)))
    amounts[:, present] = np.asarray(table, dtype=np.float64).reshape(len(table), len(present))
    reason = np.full(len(table), "", dtype=object)
    for bad, name in (  # the first that applies, in this order
        (np.isinf(amounts).any(1), "malformed_amount"),
        (np.isnan(amounts).any(1), "nan_amount"),
        ((amounts < 0).any(1), "negative_amount"),
        (amounts.sum(1) <= 0, "no_elements"),
        (np.array([not f for f in formulas], dtype=bool), "missing_formula"),
        (np.array([not _finite_non_negative(t) for t in tcs], dtype=bool), "invalid_critical_temp"),
    ):
        reason[bad & (reason == "")] = name
    ok = reason == ""
    lines = np.asarray(lines, dtype=np.int64)
    drops += [(str(r), int(n)) for r, n in zip(reason[~ok], lines[~ok], strict=True)]
    formulas = [f for f, k in zip(formulas, ok, strict=True) if k]
    tcs = [t for t, k in zip(tcs, ok, strict=True) if k]
    return amounts[ok], formulas, tcs, lines[ok], drops, read


def _read_stanev(path):
    """``(amounts [n, 118], formulas, tc texts, lines, drops, read)`` of the SuperCon list."""
    rows = _csv_rows(path)
    _, header = next(rows, (0, []))
    col = _columns(path, header, ("name", "Tc"), "'name' and 'Tc'")
    drops, vecs, formulas, tcs, lines, read = [], [], [], [], [], 0
    for line, fields in rows:
        read += 1
        if len(fields) != len(header):
            drops.append(("malformed_row", line))
            continue
        formula, tc = fields[col["name"]].strip(), fields[col["Tc"]]
        amounts, reason, _ = _parse(formula)
        if amounts is None:
            drops.append((reason, line))
            continue
        if not _finite_non_negative(tc):
            drops.append(("invalid_critical_temp", line))
            continue
        vec = np.zeros(len(ELEMENTS))
        for el, amount in amounts.items():
            vec[_INDEX[el]] += amount
        vecs.append(vec)
        formulas.append(formula)
        tcs.append(tc)
        lines.append(line)
    amounts = np.stack(vecs) if vecs else np.zeros((0, len(ELEMENTS)))
    return amounts, formulas, tcs, np.asarray(lines, dtype=np.int64), drops, read


def load_supercon(
    source: str = "hamidieh", *, path: str | os.PathLike | None = None
) -> SuperconData:
    """Loads superconductor compositions as element fractions, de-duplicated by formula.

    Every data row is kept or counted in the returned ``report`` under one reason, with its
    line number among the first few of that reason: ``duplicate_formula`` (a later row of a
    formula already kept), ``unknown_element:SYMBOL`` (a symbol that is not an element H..Og,
    such as the isotopes ``D`` and ``T``), ``negative_amount``, ``nan_amount`` (an empty or NaN
    element amount), ``malformed_amount``, ``malformed_formula``, ``missing_formula``,
    ``no_elements`` (amounts summing to 0), ``invalid_critical_temp`` (NaN, negative or not a
    number) and ``malformed_row`` (a wrong number of fields). Print the report or put
    ``report.as_metrics()`` into a run's metrics.

    Args:
      source: ``"hamidieh"`` (UCI, fractions from the element columns; 14,162 formulas) or
        ``"stanev"`` (SuperCon list, fractions parsed from the formula; 16,375 formulas).
      path: a file in that source's format to read instead of the shared one (plain or gzip).

    Returns:
      A :class:`SuperconData` with its ``report``.

    Raises:
      ValueError: for an unknown source, a file without the expected columns, text that is not
        UTF-8, or a file in which no row is usable (naming the file).
      FileNotFoundError: when the shared file is absent.

    Examples:
      >>> data = load_supercon()  # doctest: +SKIP
      >>> data.fractions.shape  # doctest: +SKIP
      (14162, 118)
      >>> data.report.as_metrics()  # doctest: +SKIP
      {'read': 19137, 'kept': 14162, 'dropped': 4975, 'dropped_duplicate_formula': 4975}
    """
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {tuple(_SOURCES)}, got {source!r}")
    if path is None:
        path = data_file(*_SOURCES[source], what=f"superconductor compositions ({source})")
    reader = _read_hamidieh if source == "hamidieh" else _read_stanev
    amounts, formulas, tcs, lines, drops, read = reader(path)
    seen: set[str] = set()
    first = np.zeros(len(formulas), dtype=bool)
    for i, formula in enumerate(formulas):
        if formula in seen:
            drops.append(("duplicate_formula", int(lines[i])))
        else:
            seen.add(formula)
            first[i] = True
    drops.sort(key=lambda d: d[1])
    report = LoadReport.from_drops(str(path), read=read, drops=drops)
    if not first.any():
        raise ValueError(f"{path}: no usable row ({report})")
    amounts = amounts[first]
    fractions = (amounts / amounts.sum(axis=1, keepdims=True)).astype(np.float32)
    tc = np.asarray([t for t, k in zip(tcs, first, strict=True) if k], dtype=np.float64)
    kept = tuple(f for f, k in zip(formulas, first, strict=True) if k)
    return SuperconData(fractions, kept, tc.astype(np.float32), report)


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
      fractions: training compositions, shape ``[N, 118]``, rows summing to 1.
      n: number of compositions to draw.
      rng: numpy random generator.

    Returns:
      float32 ``[n, 118]``, rows summing to 1.

    Examples:
      >>> import numpy as np
      >>> f = np.eye(len(ELEMENTS))[:3] * 0.5 + np.eye(len(ELEMENTS))[1:4] * 0.5
      >>> x = sample_independent_marginals(f, 5, rng=np.random.default_rng(0))
      >>> x.shape, bool(np.allclose(x.sum(1), 1))
      ((5, 118), True)
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
