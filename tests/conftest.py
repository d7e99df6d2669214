"""Shared fixtures: strict rank promotion, eager/jit variants, and shared-data skips."""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

from xent_jax._paths import data_root  # noqa: E402

# Scripts that tests run in a subprocess (kill-and-resume): they read sys.argv when imported,
# so neither pytest nor --doctest-modules may import them.
collect_ignore_glob = ["*/_*_script.py"]


@pytest.fixture(params=["eager", "jit"])
def variant(request):
    """Runs a test once eagerly and once under ``jax.jit``."""
    if request.param == "eager":
        return lambda f, **kw: f
    return lambda f, **kw: jax.jit(f, **kw)


def require_data(*parts: str):
    """Skips the calling test when a shared data file is absent, naming it."""
    path = data_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"needs shared data file {path} (set XENT_DATA or put ../shared/data beside the repo)"
        )
    return path


@pytest.fixture
def shared_data():
    return require_data
