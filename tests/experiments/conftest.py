"""Helpers for the experiment tests: run a study through the kit at the tiny size."""

from __future__ import annotations

import pytest

from xent_jax.experiment import discover, run_study


@pytest.fixture
def run_tiny(tmp_path):
    """``run_tiny(name, **kw) -> (metrics, study_dir)``: ``run_study`` at size tiny in tmp_path."""

    def go(name: str, **kw):
        kw.setdefault("size", "tiny")
        kw.setdefault("progress", False)
        out = kw.pop("out", tmp_path)
        metrics = run_study(discover()[name], out, **kw)
        return metrics, out / name

    return go
