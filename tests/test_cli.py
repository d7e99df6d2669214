"""Tests for the ``xent-jax`` command line: discovery, run, report, errors."""

from __future__ import annotations

import json
import textwrap

import pytest

from xent_jax import cli

_SCRIPT = textwrap.dedent(
    '''
    """A fake experiment for the CLI tests."""
    NAME = "{name}"
    DESCRIPTION = "fake study {name}"
    ORDER = {order}


    def run(out_dir, *, size="full", seed=0):
        (out_dir / "plot.png").write_bytes(b"png")
        if "{fail}" == "yes":
            raise RuntimeError("boom")
        return {{"value": seed + 1, "size_seen": size}}


    def headline(metrics):
        return f"value={{metrics['value']}} |x|"
    '''
)


@pytest.fixture
def exp_dir(tmp_path, monkeypatch):
    d = tmp_path / "experiments"
    d.mkdir()
    (d / "b_study.py").write_text(_SCRIPT.format(name="beta", order=20, fail="no"))
    (d / "a_study.py").write_text(_SCRIPT.format(name="alpha", order=30, fail="no"))
    (d / "helper.py").write_text("X = 1\n")  # not an experiment: no NAME
    monkeypatch.setenv("XENT_EXPERIMENTS", str(d))
    return d


def test_discover_orders_by_order_and_skips_non_experiments(exp_dir):
    found = cli.discover()
    assert list(found) == ["beta", "alpha"]
    assert found["alpha"].description == "fake study alpha"


def test_duplicate_names_raise(exp_dir):
    (exp_dir / "c_study.py").write_text(_SCRIPT.format(name="alpha", order=1, fail="no"))
    with pytest.raises(ValueError, match="alpha"):
        cli.discover()


def test_run_writes_metrics_json(exp_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", "alpha", "--quick", "--out", str(out), "--seed", "4"]) == 0
    metrics = json.loads((out / "alpha" / "metrics.json").read_text())
    assert metrics["value"] == 5 and metrics["size_seen"] == "quick"
    assert metrics["headline"] == "value=5 |x|"
    assert (out / "alpha" / "plot.png").exists()
    assert not (out / "REPORT.md").exists()


def test_run_all_writes_report_and_reports_failures(exp_dir, tmp_path):
    (exp_dir / "z_study.py").write_text(_SCRIPT.format(name="zeta", order=99, fail="yes"))
    out = tmp_path / "out"
    assert cli.main(["run", "all", "--tiny", "--out", str(out)]) == 1
    report = (out / "REPORT.md").read_text()
    assert "| `beta` | fake study beta | value=1 \\|x\\| |" in report  # pipes escaped
    assert "`zeta`" in report and "FAILED" in report


def test_unknown_experiment_names_the_known_ones(exp_dir, capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "nope"])
    err = capsys.readouterr().err
    assert "nope" in err and "alpha" in err and "beta" in err


def test_list_prints_names(exp_dir, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "fake study beta" in out


def test_bad_size_raises(exp_dir, tmp_path):
    with pytest.raises(ValueError, match="size"):
        cli.run_experiment(cli.discover()["alpha"], tmp_path, size="huge")
