"""The package layout: implementation modules are private, public names are functions."""

import importlib
import pkgutil
import types

import pytest

import xent_jax
import xent_jax.attacks as attacks

PUBLIC_FUNCTIONS = {
    "apgd": "_apgd",
    "evaluate": "_evaluate",
    "fgsm": "_fgsm",
    "pgd": "_pgd",
    "attack_suite": "_suite",
    "robustness_curves": "_suite",
    "dlr_loss": "_objectives",
}


@pytest.mark.parametrize("name", ["fgsm", "pgd", "apgd", "evaluate", "objectives", "suite"])
def test_old_module_paths_are_gone(name):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"xent_jax.attacks.{name}")
    importlib.import_module(f"xent_jax.attacks._{name}")


def test_public_names_are_functions_not_modules():
    for name in attacks.__all__:
        assert not isinstance(getattr(attacks, name), types.ModuleType), name
    for name, module in PUBLIC_FUNCTIONS.items():
        fn = getattr(attacks, name)
        assert callable(fn) and fn.__module__ == f"xent_jax.attacks.{module}", name
    # the top-level re-exports are the same functions
    for name in ("apgd", "evaluate", "fgsm", "pgd"):
        assert getattr(xent_jax, name) is getattr(attacks, name)


def test_every_implementation_module_is_private():
    public = [m.name for m in pkgutil.iter_modules(attacks.__path__) if not m.name.startswith("_")]
    # training.py (the adversarial-training step) is moving to xent_jax.recipes
    assert public in ([], ["training"]), public
