"""optax 0.2.8's own loss tests, read from the installed optax package, run against xent_jax.

The test files ship inside the optax wheel (``optax/losses/_classification_test.py`` and the
others below). Each is read from the installed package (never copied into this repository),
compiled under its own file name and executed with one change: ``from optax.losses import
_classification`` (and the other private modules) yields a copy of that module in which every
name that ``xent_jax.losses`` exports is replaced by xent_jax's function. Every test that touches
a redirected name therefore runs xent_jax's code, including the reference values the tests
compute with the same module (e.g. ``_classification.softmax_cross_entropy`` as the reference of
``poly_loss_cross_entropy``). Test classes that use none of our names (optax's hinge, perceptron
and triplet-margin losses, which are not cross-entropies) are reported as skipped with that
reason. optax's tests draw from numpy's global generator without a seed; each test here starts
from ``np.random.seed(0)`` so that a run is reproducible. (Unseeded, ``test_mask`` draws an
all-False mask about once in 32 runs and then calls the loss on zero classes: optax returns 0 there,
xent_jax refuses zero classes with a named ValueError, as the reliability issue asks; see
``test_zero_classes_refused_where_optax_returns_zero``.) The module is skipped as a whole, with
the reason, when the installed optax is not 0.2.8 or absl-py (which those files import) is missing.

Also here: optax's ranking doctests (its ``load_tests``) against our ``ranking_softmax_loss``.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import importlib
import importlib.metadata
import pathlib
import types
import unittest

import pytest

OPTAX_VERSION = "0.2.8"

try:
    _installed = importlib.metadata.version("optax")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - optax is a core dependency
    _installed = None
if _installed != OPTAX_VERSION:
    pytest.skip(
        f"optax's own loss tests are pinned to optax {OPTAX_VERSION}; installed: {_installed}",
        allow_module_level=True,
    )
pytest.importorskip(
    "absl.testing.parameterized",
    reason="optax's loss test files import absl-py (pip install 'xent-jax[test]')",
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import xent_jax.losses as xl  # noqa: E402

OPTAX_LOSSES = pathlib.Path(optax.__file__).parent / "losses"
TEST_FILES = (
    "_classification_test.py",
    "_fenchel_young_test.py",
    "_ranking_test.py",
    "_self_supervised_test.py",
    "_smoothing_test.py",
)
PRIVATE_MODULES = (
    "_classification",
    "_fenchel_young",
    "_ranking",
    "_self_supervised",
    "_smoothing",
)
OURS = {name for name in dir(xl) if not name.startswith("_")}


def _redirected_module(name: str) -> tuple[types.ModuleType, set[str]]:
    """A copy of ``optax.losses.<name>`` whose names exported by xent_jax point to xent_jax."""
    original = importlib.import_module(f"optax.losses.{name}")
    proxy = types.ModuleType(f"xent_jax_redirect.{name}")
    proxy.__dict__.update(vars(original))
    redirected = {n for n in vars(original) if n in OURS and callable(getattr(original, n))}
    for n in redirected:
        setattr(proxy, n, getattr(xl, n))
    return proxy, redirected


PROXIES: dict[str, types.ModuleType] = {}
REDIRECTED: dict[str, set[str]] = {}
for _name in PRIVATE_MODULES:
    PROXIES[_name], REDIRECTED[_name] = _redirected_module(_name)

_real_import = builtins.__import__


def _redirecting_import(name, globals=None, locals=None, fromlist=(), level=0):
    module = _real_import(name, globals, locals, fromlist, level)
    if name == "optax.losses" and level == 0 and fromlist:
        return types.SimpleNamespace(
            **{n: PROXIES.get(n) or getattr(module, n) for n in fromlist if n != "*"}
        )
    return module


def _names_used(tree: ast.ClassDef) -> set[str]:
    """Attributes read from the redirected private modules inside one test class."""
    used = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in PROXIES
        ):
            used.add(node.attr)
    return used


def _load(file_name: str) -> dict[str, type]:
    """Executes one optax test file with the redirect and returns its test classes."""
    path = OPTAX_LOSSES / file_name
    source = path.read_text()
    namespace = {
        "__name__": f"optax_loss_tests.{path.stem}",
        "__file__": str(path),
        "__builtins__": {**vars(builtins), "__import__": _redirecting_import},
    }
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - optax's own test file
    classes = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        cls = namespace[node.name]
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            continue
        ours = sorted(
            f"{mod}.{attr}"
            for mod in PROXIES
            for attr in _names_used(node)
            if attr in REDIRECTED[mod]
        )
        if not ours:
            others = ", ".join(sorted(_names_used(node))) or "no loss"
            cls = unittest.skip(
                f"tests optax's {others}, which xent_jax does not export (not a cross-entropy)"
            )(cls)
        cls.redirected_names = ours
        classes[f"TestOptax{path.stem.title().replace('_', '')}{node.name}"] = cls
    return classes


if not OPTAX_LOSSES.joinpath(TEST_FILES[0]).exists():  # pragma: no cover
    pytest.skip(
        f"the installed optax {_installed} ships no test files in {OPTAX_LOSSES}",
        allow_module_level=True,
    )

LOADED: dict[str, type] = {}
for _file in TEST_FILES:
    LOADED.update(_load(_file))
globals().update(LOADED)  # pytest collects unittest.TestCase classes from the module namespace


@pytest.fixture(autouse=True)
def _seeded_numpy():
    """optax's tests use ``np.random`` unseeded: start each from the same state."""
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)


def test_zero_classes_refused_where_optax_returns_zero():
    """An empty class axis is an error here; optax returns 0 (soft labels) or -inf (integer)."""
    empty = np.zeros((0,), np.float32)
    assert float(optax.losses.softmax_cross_entropy(empty, empty)) == 0.0
    with pytest.raises(ValueError, match="at least one class"):
        xl.softmax_cross_entropy(empty, empty)
    no_classes, labels = np.zeros((2, 0), np.float32), np.zeros((2,), np.int32)
    theirs = optax.losses.softmax_cross_entropy_with_integer_labels(no_classes, labels)
    assert np.all(np.isneginf(theirs))
    with pytest.raises(ValueError, match="at least one class"):
        xl.softmax_cross_entropy_with_integer_labels(no_classes, labels)


def test_every_redirected_name_is_exercised():
    """The 18 cross-entropy-family names we share with optax are each hit by optax's tests."""
    exercised = {name.split(".")[1] for cls in LOADED.values() for name in cls.redirected_names}
    shared = set().union(*REDIRECTED.values())
    expected = {
        "convex_kl_divergence",
        "ctc_loss",
        "ctc_loss_with_forward_probs",
        "generalized_kl_divergence",
        "kl_divergence",
        "kl_divergence_with_log_targets",
        "make_fenchel_young_loss",
        "multiclass_sparsemax_loss",
        "ntxent",
        "poly_loss_cross_entropy",
        "ranking_softmax_loss",
        "safe_softmax_cross_entropy",
        "sigmoid_binary_cross_entropy",
        "sigmoid_focal_loss",
        "smooth_labels",
        "softmax_cross_entropy",
        "softmax_cross_entropy_with_integer_labels",
        "sparsemax_loss",
    }
    assert shared == expected
    assert exercised == expected
    for name in expected:  # the redirect really points at xent_jax
        module = next(PROXIES[m] for m in PROXIES if name in REDIRECTED[m])
        assert getattr(module, name) is getattr(xl, name)
        assert getattr(module, name) is not getattr(optax.losses, name)


def test_optax_ranking_doctests_against_ours():
    """optax's ``_ranking`` module docstring (its ``load_tests`` doctests), calling ours."""
    fake_losses = types.SimpleNamespace(ranking_softmax_loss=xl.ranking_softmax_loss)
    fake_optax = types.SimpleNamespace(losses=fake_losses)
    module = importlib.import_module("optax.losses._ranking")
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [
        t
        for t in finder.find(module, globs={"jax": jax, "jnp": jnp, "optax": fake_optax})
        if t.examples
    ]
    assert tests, "optax's _ranking docstring examples were not found"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 8 and result.failed == 0, result
