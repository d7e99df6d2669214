"""Shared fixtures: strict rank promotion, eager/jit variants, and shared-data skips."""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

from xent_jax.data._registry import search_dirs  # noqa: E402

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
    """Skips the calling test when a data file is in none of the data folders, naming it."""
    dirs = [d for _, d in search_dirs()]
    for d in dirs:
        if (path := d.joinpath(*parts)).exists():
            return path
    pytest.skip(
        f"needs data file {'/'.join(parts)} in one of {', '.join(map(str, dirs))} "
        f"(xent-jax data fetch {parts[0]})"
    )


@pytest.fixture
def shared_data():
    return require_data


@pytest.fixture
def empty_data(tmp_path, monkeypatch):
    """No data anywhere: ``XENT_DATA`` is ``tmp_path`` (returned), no ``shared/data`` beside the
    checkout, an empty user cache (the three folders loaders search)."""
    from xent_jax.data import _registry

    monkeypatch.setenv("XENT_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    monkeypatch.setattr(_registry, "REPO_ROOT", tmp_path / "checkout")
    return tmp_path
