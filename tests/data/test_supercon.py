"""Superconductor compositions: formula parsing, canonical keys, loader, naive baseline."""

import numpy as np
import pytest

from xent_jax.data import (
    ELEMENTS,
    composition_key,
    fractions_from_formula,
    load_supercon,
    parse_formula,
    sample_independent_marginals,
)


def test_parse_formula():
    assert parse_formula("Ba0.4K0.6Fe2As2") == {"Ba": 0.4, "K": 0.6, "Fe": 2.0, "As": 2.0}
    assert parse_formula("MgB2") == {"Mg": 1.0, "B": 2.0}
    assert parse_formula("CuOCu.5") == {"Cu": 1.5, "O": 1.0}
    for bad in ["", "Ba-1Cu3", "Y2C2Br0.5!1.5", "Xx2", "cu2"]:
        with pytest.raises(ValueError, match="formula"):
            parse_formula(bad)


def test_fractions_and_keys():
    assert len(ELEMENTS) == 86 and ELEMENTS[0] == "H" and ELEMENTS[-1] == "Rn"
    f = fractions_from_formula("Ba0.2La1.8Cu1O4")
    np.testing.assert_allclose(f.sum(), 1.0)
    np.testing.assert_allclose(f[ELEMENTS.index("O")], 4 / 7)
    # Same composition, different writing and scale -> same key; atomic-number order.
    a = fractions_from_formula("La1.8Ba0.2CuO4")
    b = 2 * fractions_from_formula("Ba0.2La1.8Cu1O4")
    assert composition_key(np.stack([a, b])) == ["O0.57Cu0.14Ba0.03La0.26"] * 2
    assert composition_key(np.stack([a]), decimals=1) == ["O0.6Cu0.1La0.3"]
    with pytest.raises(ValueError, match="shape"):
        composition_key(np.zeros((2, 5)))


def test_independent_marginals_keep_presence_frequencies():
    rng = np.random.default_rng(0)
    base = np.zeros((4, 86))
    base[:, 0] = 1.0
    base[:2, 5] = 3.0  # element 5 present in half of the rows
    base /= base.sum(1, keepdims=True)
    x = sample_independent_marginals(base, 4000, rng=rng)
    assert x.shape == (4000, 86)
    np.testing.assert_allclose(x.sum(1), 1.0, atol=1e-5)
    assert np.all((x > 0).any(axis=1))
    assert np.all(x[:, 0] > 0)  # present in every training row
    assert abs((x[:, 5] > 0).mean() - 0.5) < 0.03
    assert not (x[:, 10:] > 0).any()  # never seen -> never drawn
    with pytest.raises(ValueError, match="n must"):
        sample_independent_marginals(base, 0, rng=rng)


def test_load_hamidieh_deduplicated(shared_data):
    shared_data("supercon", "composition_train.csv.gz")
    data = load_supercon()
    assert data.fractions.shape == (14162, 86)
    assert len(set(data.formulas)) == len(data) == 14162
    np.testing.assert_allclose(data.fractions.sum(1), 1.0, atol=1e-5)
    # Element columns agree with the formula string for a sample of rows.
    for i in range(0, len(data), 1500):
        np.testing.assert_allclose(
            data.fractions[i], fractions_from_formula(data.formulas[i]), atol=1e-5
        )


def test_load_stanev_and_errors(shared_data):
    shared_data("supercon", "Supercon_data_by_2018_Stanev.csv")
    data = load_supercon("stanev")
    assert 15000 < len(data) <= 16414
    assert data.critical_temp.shape == (len(data),)
    with pytest.raises(ValueError, match="source"):
        load_supercon("materials_project")


def test_missing_file_names_it(monkeypatch, tmp_path):
    monkeypatch.setenv("XENT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="composition_train.csv.gz"):
        load_supercon()
