"""Tests for locating data files (the search order itself: tests/data/test_registry.py)."""

from __future__ import annotations

import pytest

from xent_jax import _paths


def test_data_root_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("XENT_DATA", str(tmp_path))
    assert _paths.data_root() == tmp_path.resolve()


def test_data_root_defaults_to_shared_beside_repo(monkeypatch):
    monkeypatch.delenv("XENT_DATA", raising=False)
    assert _paths.data_root() == (_paths.REPO_ROOT.parent / "shared" / "data").resolve()


def test_missing_file_error_names_file_and_env(tmp_path, monkeypatch):
    from xent_jax.data import _registry

    monkeypatch.setenv("XENT_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_registry, "REPO_ROOT", tmp_path / "checkout")  # no shared/data beside
    with pytest.raises(FileNotFoundError, match=r"mnist/t10k.*data fetch mnist.*XENT_DATA"):
        _paths.data_file("mnist", "t10k-images-idx3-ubyte.gz", what="MNIST test images")


def test_existing_file_is_returned(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_text("x")
    monkeypatch.setenv("XENT_DATA", str(tmp_path))
    assert _paths.data_file("a", "b.txt").read_text() == "x"
