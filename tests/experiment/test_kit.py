"""The experiment kit and the CLI: configs, overrides, seeds, intervals, caches, reports, errors."""

from __future__ import annotations

import json
import re
import textwrap

import ml_collections
import pytest

from xent_jax import cli
from xent_jax.experiment import (
    ConfigError,
    ExperimentsNotFound,
    apply_overrides,
    discover,
    load_config,
    run_all,
    run_study,
)

_SCRIPT = textwrap.dedent(
    '''
    """A fake experiment for the kit tests."""
    NAME = "{name}"
    DESCRIPTION = "fake study {name}"
    ORDER = {order}


    def run(run):
        calls = run.cached("calls", lambda: {{"seed": run.seed, "fresh": True}})
        (run.dir / "marker.txt").write_text(str(run.seed))
        if run.config.fail:
            raise RuntimeError("boom")
        if run.config.missing:
            err = FileNotFoundError("needs data file mnist/x.gz")
            err.fetch_command = "xent-jax data fetch mnist/x"
            raise err
        return {{"value": run.seed * run.config.scale + 1.0, "nested": {{"n": 2}},
                 "curve": [1, 2], "ok": True, "cache_seed": calls["seed"]}}


    def summarize(summary):
        summary.lines.append("extra line from summarize")


    def headline(summary):
        return f"value={{summary.fmt('value')}} |x|"
    '''
)

_CONFIG = textwrap.dedent(
    """
    import ml_collections

    def get_config(size="full"):
        cfg = ml_collections.ConfigDict()
        cfg.seeds = 3 if size == "full" else 1
        cfg.scale = 1.0
        cfg.fail = False
        cfg.missing = {missing}
        cfg.widths = (8, 16)
        cfg.name = "digits"
        cfg.model = ml_collections.ConfigDict({{"depth": 2}})
        return cfg
    """
)


@pytest.fixture
def exp_dir(tmp_path, monkeypatch):
    d = tmp_path / "experiments"
    (d / "configs").mkdir(parents=True)
    studies = (("b_study", "beta", 20, False), ("a_study", "alpha", 30, False),
               ("c_study", "gamma", 40, True))  # fmt: skip
    for stem, name, order, missing in studies:
        (d / f"{stem}.py").write_text(_SCRIPT.format(name=name, order=order))
        (d / "configs" / f"{stem}.py").write_text(_CONFIG.format(missing=missing))
    (d / "helper.py").write_text("X = 1\n")  # not an experiment: no NAME
    monkeypatch.setenv("XENT_EXPERIMENTS", str(d))
    return d


def test_discover_orders_and_skips_non_experiments(exp_dir):
    found = discover()
    assert list(found) == ["beta", "alpha", "gamma"]
    assert found["alpha"].description == "fake study alpha"
    assert found["alpha"].config_path == exp_dir / "configs" / "a_study.py"


def test_outside_a_checkout_says_where_experiments_live(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XENT_EXPERIMENTS", str(tmp_path / "nowhere"))
    with pytest.raises(ExperimentsNotFound, match="--experiments"):
        discover()
    assert cli.main(["list"]) == 2
    assert "--experiments" in capsys.readouterr().err


def test_overrides_are_checked_before_anything_runs():
    cfg = ml_collections.ConfigDict({"steps": 10, "lr": 1e-3, "flag": False, "widths": (8, 16),
                                     "name": "a", "sub": {"depth": 2}})  # fmt: skip
    got = apply_overrides(cfg, ["steps=3", "lr=1", "flag=True", "widths=(4,)", "name=b",
                                "sub.depth=5"])  # fmt: skip
    assert (got.steps, got.lr, got.flag, tuple(got.widths), got.name, got.sub.depth) == (
        3, 1.0, True, (4,), "b", 5)  # fmt: skip
    assert isinstance(got.lr, float) and cfg.steps == 10  # a copy; ints widen to float
    with pytest.raises(ConfigError, match="unknown config key 'stepz'.*'steps'"):
        apply_overrides(cfg, ["stepz=3"])
    with pytest.raises(ConfigError, match="expected a value of type int"):
        apply_overrides(cfg, ["steps=1.5"])
    with pytest.raises(ConfigError, match="expected a value of type bool"):
        apply_overrides(cfg, ["flag=3"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(cfg, ["steps"])
    with pytest.raises(ConfigError, match="group of keys"):
        apply_overrides(cfg, ["sub=3"])


def test_unknown_key_on_the_command_line_writes_nothing(exp_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", "alpha", "--out", str(out), "--config.no_such_key_zz=1"]) == 2
    assert "no_such_key_zz" in capsys.readouterr().err
    assert not (out / "alpha" / "metrics.json").exists()
    assert cli.main(["run", "alpha", "--out", str(out), "--config.scale", "oops"]) == 2
    assert "expected a value of type float" in capsys.readouterr().err


def test_config_json_round_trips_and_seeds_give_intervals(exp_dir, tmp_path):
    out = tmp_path / "out"
    rc = cli.main(["run", "alpha", "--quick", "--out", str(out), "--seeds", "2",
                   "--config.scale=10", "--no-progress"])  # fmt: skip
    assert rc == 0
    saved = json.loads((out / "alpha" / "config.json").read_text())
    assert saved["seeds"] == [0, 1] and saved["overrides"] == ["scale=10"]
    cfg = load_config(exp_dir / "configs" / "a_study.py", "quick")
    assert saved["config"]["seeds"] == 2  # the count that ran, not the config's default (1)
    assert apply_overrides(cfg, {"scale": 10.0, "seeds": 2}).to_dict() == {
        k: tuple(v) if isinstance(v, list) else v for k, v in saved["config"].items()
    } | {"model": {"depth": 2}}
    metrics = json.loads((out / "alpha" / "metrics.json").read_text())
    assert [m["value"] for m in metrics["per_seed"]] == [1.0, 11.0]
    v = metrics["summary"]["value"]
    assert v["mean"] == 6.0 and v["n"] == 2 and v["low"] < 1.0 and v["high"] > 11.0
    assert "nested/n" in metrics["summary"] and "ok" not in metrics["summary"]
    assert metrics["headline"].startswith("value=6.0 [")
    report = (out / "alpha" / "REPORT.md").read_text()
    assert "extra line from summarize" in report and "`value`" in report


def test_caches_are_keyed_by_config_and_seed(exp_dir, tmp_path):
    exp = discover()["alpha"]
    a = run_study(exp, tmp_path, size="tiny", seeds=2, progress=False)
    assert [m["cache_seed"] for m in a["per_seed"]] == [0, 1]  # never another seed's cache
    caches = sorted((tmp_path / "alpha" / "cache").iterdir())
    assert len(caches) == 1 and sorted(p.name for p in caches[0].iterdir()) == ["seed_0", "seed_1"]
    run_study(exp, tmp_path, size="tiny", seeds=1, overrides=["scale=2"], progress=False)
    assert len(list((tmp_path / "alpha" / "cache").iterdir())) == 2  # another config, new key
    again = run_study(exp, tmp_path, size="tiny", seeds=2, progress=False)
    assert again["config_hash"] == a["config_hash"]  # the seed count is not part of the key


def test_run_all_reports_failures_and_skips(exp_dir, tmp_path, capsys):
    exps = list(discover().values())
    outcomes = run_all(exps, tmp_path, size="tiny", overrides=[], progress=False)
    assert [o.status for o in outcomes] == ["ok", "ok", "skipped"]
    report = (tmp_path / "REPORT.md").read_text()
    assert "| value=1.0 \\|x\\| |" in report  # pipes escaped: one row per study
    assert "`gamma`" in report and "xent-jax data fetch mnist/x" in report
    rc = cli.main(["run", "all", "--tiny", "--out", str(tmp_path / "o2"), "--no-progress",
                   "--config.fail=True"])  # fmt: skip
    assert rc == 1
    assert "failed: beta, alpha" in capsys.readouterr().err


def test_bad_command_lines(exp_dir, tmp_path, capsys):
    assert cli.main(["run", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert cli.main(["run", "alpha", "--out", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["run", "alpha", "--seeds", "0"])
    assert cli.main(["list"]) == 0
    assert "beta" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message", "error"),
    [
        (["run", "nope"], "unknown experiment 'nope'", ValueError),
        (["run", "alpha", "--out", "{file}"], "not a folder", ValueError),
        (["run", "alpha", "--config.scael=2"], "unknown config key 'scael'", ValueError),
        (["run", "alpha", "--config.scale='x'"], "expected a value of type float", ValueError),
        (["list", "--config.scale=2"], "only apply to `xent-jax run`", ValueError),
    ],
)
def test_user_errors_are_one_line_and_debug_shows_the_traceback(
    exp_dir, tmp_path, capsys, argv, message, error
):
    (tmp_path / "file").write_text("x")
    argv = [a.format(file=tmp_path / "file") for a in argv]
    if "--out" not in argv and argv[0] == "run":
        argv += ["--out", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xent-jax: error: ") and message in err, err
    assert "Traceback" not in err
    with pytest.raises(error, match=re.escape(message)):
        cli.main(["--debug", *argv])
    assert not (tmp_path / "out").exists()  # refused before anything ran
