"""Tests for the package front door: re-exports and import hygiene."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import xent_jax
from xent_jax import losses


def test_every_loss_is_reexported_at_top_level():
    names = [n for n in dir(losses) if not n.startswith("_") and callable(getattr(losses, n))]
    assert "softmax_cross_entropy_with_integer_labels" in names
    for name in names:
        assert getattr(xent_jax, name) is getattr(losses, name), name
        assert name in xent_jax.__all__


def test_lazy_subpackages_and_unknown_attribute():
    assert xent_jax.train.fit is not None
    try:
        xent_jax.no_such_thing  # noqa: B018
    except AttributeError as err:
        assert "no_such_thing" in str(err)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_every_subpackage_is_an_attribute_in_a_fresh_interpreter():
    folders = sorted(
        p.name
        for p in Path(xent_jax.__file__).parent.iterdir()
        if (p / "__init__.py").exists() and not p.name.startswith("_")
    )
    code = f"import xent_jax; print([getattr(xent_jax, n).__name__ for n in {folders!r}])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str([f"xent_jax.{n}" for n in folders])


def test_losses_and_attacks_do_not_import_flax():
    code = "import sys, xent_jax, xent_jax.losses, xent_jax.attacks; print('flax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
