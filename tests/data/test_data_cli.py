"""``xent-jax data list|check|fetch`` and studies without their data (skipped, with the command)."""

from __future__ import annotations

import pytest

from xent_jax.cli import main
from xent_jax.data import _cli
from xent_jax.data import _registry as registry_mod


@pytest.fixture
def empty_dirs(tmp_path, monkeypatch):
    """No data anywhere: empty XENT_DATA, no shared/data beside the checkout, empty cache."""
    env = tmp_path / "env"
    env.mkdir()
    monkeypatch.setenv("XENT_DATA", str(env))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(registry_mod, "REPO_ROOT", tmp_path / "checkout")
    return env


@pytest.fixture
def toy_cli(toy, monkeypatch, empty_dirs):
    reg, ours = toy
    monkeypatch.setattr(_cli, "load_registry", lambda: reg)
    return reg, ours, empty_dirs


def test_list_and_check_real_registry_without_data(empty_dirs, capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "micrographs" in out and "- (0/92)" in out and "CC BY 4.0" in out
    assert main(["data", "list", "--files"]) == 0
    assert "mnist/t10k-images-idx3-ubyte.gz" in capsys.readouterr().out
    assert main(["data", "check", "mnist"]) == 1
    out = capsys.readouterr().out
    assert "MISSING  mnist/t10k-images-idx3-ubyte.gz" in out and "0 of 2 files ok" in out
    assert "fix with: xent-jax data fetch mnist" in out


def test_fetch_then_check_via_mirror(toy_cli, http_server, capsys):
    reg, ours, env = toy_cli
    argv = ["data", "fetch", "--all", "--mirror", f"{http_server.url}/mirror/", "--no-progress"]
    assert main(argv) == 0
    assert f"3 files verified in {env}" in capsys.readouterr().out
    assert main(["data", "check"]) == 0
    assert "3 of 3 files ok (size and sha256; XENT_DATA 3)" in capsys.readouterr().out
    with (env / "toy/big.bin").open("ab") as f:
        f.write(b"\0")  # one appended byte
    assert main(["data", "check", "toy"]) == 1
    out = capsys.readouterr().out
    assert "CORRUPT  toy/big.bin" in out and "size 307201 bytes, registry 307200" in out
    assert main(["data", "list"]) == 0
    assert "XENT_DATA 3/3" in capsys.readouterr().out


def test_fetch_errors_are_one_line_exit_2(toy_cli, http_server, capsys):
    assert main(["data", "fetch"]) == 2
    assert "name data sets or files, or --all" in capsys.readouterr().err
    assert main(["data", "fetch", "toy", "--all"]) == 2
    assert main(["data", "fetch", "nope"]) == 2
    assert "unknown data set or file 'nope'" in capsys.readouterr().err
    http_server.cut_after = 1000
    argv = [
        "data",
        "fetch",
        "toy/big.bin",
        "--mirror",
        f"{http_server.url}/mirror",
        "--no-progress",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run the same command again to resume" in err[0]
    with pytest.raises(OSError):
        main(["--debug", *argv])


def test_study_without_data_is_skipped_with_fetch_command(empty_dirs, tmp_path):
    from xent_jax.experiment import discover, run_all

    exps = discover()
    out = tmp_path / "results"
    outcomes = run_all([exps["micrographs"], exps["gan-materials"]], out, size="tiny",
                       progress=False)  # fmt: skip
    assert [o.status for o in outcomes] == ["skipped", "skipped"]
    assert outcomes[0].fetch_command == "xent-jax data fetch micrographs"
    report = (out / "REPORT.md").read_text()
    assert "`xent-jax data fetch micrographs`" in report
    assert "`xent-jax data fetch supercon`" in report
    assert "micrographs/manifest.csv" in report and "supercon/composition_train.csv.gz" in report


def test_run_all_with_only_skipped_studies_exits_0(empty_data, tmp_path, capsys):
    import shutil

    from xent_jax._paths import REPO_ROOT

    exp_dir = tmp_path / "experiments"
    (exp_dir / "configs").mkdir(parents=True)
    for script in ("micrograph_rotation.py", "gan_materials.py"):
        shutil.copy(REPO_ROOT / "experiments" / script, exp_dir / script)
        shutil.copy(REPO_ROOT / "experiments" / "configs" / script, exp_dir / "configs" / script)
    out = tmp_path / "results"
    argv = [
        "run",
        "all",
        "--tiny",
        "--no-progress",
        "--out",
        str(out),
        "--experiments",
        str(exp_dir),
    ]
    assert main(argv) == 0
    assert "skipped (data not present): micrographs, gan-materials" in capsys.readouterr().out
    report = (out / "REPORT.md").read_text()
    assert report.count("fetch with: `xent-jax data fetch") == 2
    # one study by name without its data: one line naming the file and the command, exit 2
    argv = ["run", "micrographs", "--tiny", "--out", str(out), "--experiments", str(exp_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "xent-jax data fetch micrographs" in err[0]
