"""MetricsLogger: one JSON object per call, arrays converted, resume truncation, bad lines."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax.train import MalformedLogError, MetricsLogger, read_metrics


def test_logs_lines_and_converts_arrays(tmp_path):
    log = MetricsLogger(tmp_path / "sub" / "metrics.jsonl")
    log.log({"step": 1, "loss": jnp.float32(0.5)}, split="train")
    log.log(step=2, acc=np.float64(0.75), vec=jnp.arange(2), bad=float("nan"))
    lines = (tmp_path / "sub" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
    recs = read_metrics(log.path)
    assert recs[0] == {"step": 1, "loss": 0.5, "split": "train"}
    assert {k: v for k, v in recs[1].items() if k != "bad"} == {
        "step": 2,
        "acc": 0.75,
        "vec": [0, 1],
    }
    assert math.isnan(recs[1]["bad"])  # NaN stays a number


def test_directory_path_truncate_and_partial_line(tmp_path):
    log = MetricsLogger(tmp_path)
    assert log.path == tmp_path / "metrics.jsonl"
    for s in range(5):
        log.log(step=s)
    with open(log.path, "a") as f:
        f.write('{"step": 9, "lo')  # a line cut by a kill
    with pytest.warns(RuntimeWarning, match="incomplete last line"):
        assert [r["step"] for r in log.records()] == [0, 1, 2, 3, 4]
    with pytest.warns(RuntimeWarning, match="incomplete last line"):
        log.truncate_after(2)
    assert [r["step"] for r in log.records()] == [0, 1, 2]


def test_a_malformed_line_is_reported_not_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2, oops}\n{"step": 3}\n')
    with pytest.raises(MalformedLogError, match=r"metrics.jsonl:2"):
        read_metrics(path)
    path.write_text('{"step": 1}\n[1, 2]\n')
    with pytest.raises(MalformedLogError, match=r":2: expected a JSON object"):
        read_metrics(path)
