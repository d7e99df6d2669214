import json

import pytest

from xent_jax.cli import discover


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("adversarial")
    module = discover()["adversarial"].load()
    return module, out, module.run(out, size="tiny")


def test_metrics_plot_and_table(tiny_run):
    module, out, metrics = tiny_run
    assert metrics["dataset"] == "digits" and metrics["n_attack"] == 40
    models = metrics["models"]
    assert set(models) == {"mlp_standard", "mlp_pgd_at"}
    for res in models.values():
        assert 0.0 <= res["clean_accuracy"] <= 1.0
        curves = res["linf"]
        assert set(curves) == {"FGSM", "PGD-2", "worst case"}
        for acc in curves.values():
            assert len(acc) == len(metrics["linf_eps"])
            assert all(0.0 <= a <= 1.0 for a in acc)
            assert acc[0] >= acc[-1]  # more budget never helps the model
        # the worst case over attacks is at most every single attack
        for name in ("FGSM", "PGD-2"):
            assert all(w <= a for w, a in zip(curves["worst case"], curves[name], strict=True))
        assert isinstance(res["ordering_linf"], bool)
    assert (out / "robustness.png").stat().st_size > 0
    assert "| mlp_pgd_at | PGD-2 |" in (out / "table.md").read_text()
    json.dumps(metrics)
    assert "MLP" in module.headline(metrics)


def test_rerun_resumes_from_cached_results(tiny_run):
    module, out, metrics = tiny_run
    again = module.run(out, size="tiny")
    assert again == json.loads(json.dumps(metrics))


def test_ordering_helper():
    module = discover()["adversarial"].load()
    good = {"FGSM": [1.0, 0.5], "PGD": [1.0, 0.4], "APGD-CE": [1.0, 0.3], "APGD-DLR": [1.0, 0.35]}
    assert module.ordering_holds(good)
    bad = dict(good, PGD=[1.0, 0.6])
    assert not module.ordering_holds(bad)
