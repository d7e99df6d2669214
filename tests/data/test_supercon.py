"""Superconductor compositions: formula parsing, canonical keys, loader, naive baseline."""

import gzip

import numpy as np
import pytest

from xent_jax.data import (
    ELEMENTS,
    LoadReport,
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
    for bad in ["", "Ba-1Cu3", "Y2C2Br0.5!1.5", "Xx2", "cu2", "D2O", "Cu0"]:
        with pytest.raises(ValueError, match="formula"):
            parse_formula(bad)
    with pytest.raises(ValueError, match="negative amount -1 of Ba"):
        parse_formula("Ba-1Cu3")
    with pytest.raises(ValueError, match="unknown element 'D'"):
        parse_formula("D2O")


# Atomic numbers of a few elements, written out independently of ELEMENTS.
ATOMIC_NUMBERS = {"H": 1, "O": 8, "Rn": 86, "Fr": 87, "Th": 90, "U": 92, "Pu": 94, "Lr": 103,
                  "Rf": 104, "Cn": 112, "Og": 118}  # fmt: skip


def test_periodic_table_through_oganesson():
    assert len(ELEMENTS) == len(set(ELEMENTS)) == 118
    for symbol, z in ATOMIC_NUMBERS.items():
        assert ELEMENTS[z - 1] == symbol
    assert parse_formula("U1Pt3") == {"U": 1.0, "Pt": 3.0}
    f = fractions_from_formula("Th0.5U0.5Be13")
    assert f.shape == (118,)
    np.testing.assert_allclose(f[[89, 91, 3]], [0.5 / 14, 0.5 / 14, 13 / 14])


def test_fractions_and_keys():
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
    base = np.zeros((4, len(ELEMENTS)))
    base[:, 0] = 1.0
    base[:2, 5] = 3.0  # element 5 present in half of the rows
    base /= base.sum(1, keepdims=True)
    x = sample_independent_marginals(base, 4000, rng=rng)
    assert x.shape == (4000, len(ELEMENTS))
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
    assert data.fractions.shape == (14162, 118)
    assert len(set(data.formulas)) == len(data) == 14162
    assert data.report.as_metrics() == {
        "read": 19137,
        "kept": 14162,
        "dropped": 4975,
        "dropped_duplicate_formula": 4975,
    }
    np.testing.assert_allclose(data.fractions.sum(1), 1.0, atol=1e-5)
    # Element columns agree with the formula string for a sample of rows.
    for i in range(0, len(data), 1500):
        np.testing.assert_allclose(
            data.fractions[i], fractions_from_formula(data.formulas[i]), atol=1e-5
        )


def test_load_stanev_and_errors(shared_data):
    shared_data("supercon", "Supercon_data_by_2018_Stanev.csv")
    data = load_supercon("stanev")
    assert data.critical_temp.shape == (len(data),)
    # Every row is kept or counted: only the hydrogen isotopes, annotations and a negative
    # amount are dropped (the 569 actinide rows dropped before the table reached Og are kept).
    r = data.report
    assert (r.read, r.kept, len(data)) == (16414, 16375, 16375)
    assert r.dropped == {
        "unknown_element:D": 24,
        "unknown_element:T": 7,
        "malformed_formula": 7,
        "negative_amount": 1,
    }
    actinides = [ELEMENTS.index(el) for el in ("Th", "Pa", "U", "Np", "Pu", "Am", "Cm")]
    assert (data.fractions[:, actinides] > 0).any(1).sum() == 569
    with pytest.raises(ValueError, match="source"):
        load_supercon("materials_project")


def test_missing_file_names_it(empty_data):
    with pytest.raises(FileNotFoundError, match="composition_train.csv.gz"):
        load_supercon()


# A small SuperCon file with the edge cases, and what each row should become.
STANEV = [
    ("name", "Tc"),
    ("MgB2", "39"),  # line 2: kept
    ("U1Pt3", "0.5"),  # line 3: kept (an actinide)
    ("Ba-1Cu3O6", "90"),  # line 4: negative amount
    ("Th1Ru2Si2", "nan"),  # line 5: NaN critical temperature
    ("D2O", "1"),  # line 6: the deuterium symbol is not an element
    ("MgB2", "38"),  # line 7: duplicate of line 2
    ("Y2C2Br0.5!1.5", "10"),  # line 8: not a formula
    ("Np1Pd5Al2", "-4.9"),  # line 9: negative critical temperature
    ("", "3"),  # line 10: empty formula
]


def _write_csv(path, rows, *, gz=False):
    text = "".join(",".join(r) + "\n" for r in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


def test_stanev_file_with_actinide_nan_and_negative_counts_every_row(tmp_path):
    path = tmp_path / "Supercon_data_by_2018_Stanev.csv"
    _write_csv(path, STANEV)
    data = load_supercon("stanev", path=path)
    assert data.formulas == ("MgB2", "U1Pt3")
    np.testing.assert_allclose(data.critical_temp, [39.0, 0.5])
    np.testing.assert_allclose(data.fractions[1, 91], 0.25)  # U is element 92
    np.testing.assert_allclose(data.fractions[1, 77], 0.75)  # Pt is element 78
    r = data.report
    assert (r.read, r.kept) == (9, 2)
    assert r.dropped == {
        "negative_amount": 1,
        "invalid_critical_temp": 2,
        "unknown_element:D": 1,
        "duplicate_formula": 1,
        "malformed_formula": 1,
        "missing_formula": 1,
    }
    assert r.examples["invalid_critical_temp"] == (5, 9)
    assert r.examples["negative_amount"] == (4,)
    assert r.examples["duplicate_formula"] == (7,)
    text = str(r)
    assert "Supercon_data_by_2018_Stanev.csv: read 9, kept 2, dropped 7" in text
    assert "negative_amount 1 [line 4]" in text and "invalid_critical_temp 2 [lines 5, 9]" in text


def test_hamidieh_file_with_nan_and_negative_amounts_counts_every_row(tmp_path):
    cols = list(ELEMENTS[:86])
    mg, b, o = cols.index("Mg"), cols.index("B"), cols.index("O")

    def row(amounts, tc="10", material="X"):
        vals = ["0"] * 86
        for i, v in amounts.items():
            vals[i] = v
        return ("7", *vals, tc, material)

    rows = [
        ("id", *cols, "critical_temp", "material"),
        row({mg: "1", b: "2"}, "39", "MgB2"),  # line 2: kept
        row({mg: "nan", b: "2"}, "39", "MgnanB2"),  # line 3: NaN amount
        row({mg: "", b: "2"}, "39", "MgB2x"),  # line 4: empty amount
        row({mg: "-1", o: "2"}, "5", "Mg-1O2"),  # line 5: negative amount
        row({}, "5", "nothing"),  # line 6: no element
        row({mg: "one", b: "2"}, "39", "MgoneB2"),  # line 7: not a number
        row({mg: "1", b: "2"}, "40", "MgB2"),  # line 8: duplicate formula
        row({mg: "1", o: "1"}, "nan", "MgO"),  # line 9: NaN critical temperature
        ("7", "1"),  # line 10: a row with the wrong number of fields
        row({mg: "2", o: "2"}, "1", "Mg2O2"),  # line 11: kept
    ]
    path = tmp_path / "composition_train"  # gzip is recognised by its first bytes
    _write_csv(path, rows, gz=True)
    data = load_supercon(path=path)
    assert data.formulas == ("MgB2", "Mg2O2")
    expected = np.zeros((2, 118))
    expected[0, [11, 4]] = [1 / 3, 2 / 3]  # Mg is element 12, B element 5
    expected[1, [11, 7]] = [0.5, 0.5]  # O is element 8
    np.testing.assert_allclose(data.fractions, expected, atol=1e-7)
    r = data.report
    assert (r.read, r.kept) == (10, 2)
    assert r.dropped == {
        "nan_amount": 2,
        "negative_amount": 1,
        "no_elements": 1,
        "malformed_amount": 1,
        "duplicate_formula": 1,
        "invalid_critical_temp": 1,
        "malformed_row": 1,
    }
    assert r.examples["nan_amount"] == (3, 4) and r.examples["negative_amount"] == (5,)
    assert r.as_metrics()["dropped_nan_amount"] == 2 and r.as_metrics()["dropped"] == 8


def test_loader_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "Supercon_data_by_2018_Stanev.csv"
    path.write_bytes("name,Tc\nMgB2,39\nCe1Cu2Si2,0.6\nLa\xe92,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"Stanev.csv, line 4: not UTF-8"):
        load_supercon("stanev", path=path)
    path.write_bytes("\ufeffname,Tc\nMgB2,39\n".encode())  # a byte-order mark is not a name
    assert load_supercon("stanev", path=path).formulas == ("MgB2",)
    path.write_text("name,Tc\nD2O,1\n")
    with pytest.raises(ValueError, match=r"no usable row .*unknown_element:D 1 \[line 2\]"):
        load_supercon("stanev", path=path)
    path.write_text("formula,Tc\nMgB2,39\n")
    with pytest.raises(ValueError, match="expected columns 'name' and 'Tc', missing \\['name'\\]"):
        load_supercon("stanev", path=path)
    gz = tmp_path / "composition_train.csv.gz"
    whole = gzip.compress("".join(f"{i},{i * i}\n" for i in range(2000)).encode())
    gz.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="composition_train.csv.gz: cannot read the gzip"):
        load_supercon(path=gz)


def test_load_report_counts_add_up():
    r = LoadReport.from_drops("f", read=4, drops=[("a", 2), ("b", 3), ("a", 9)])
    assert (r.kept, r.total_dropped, r.examples) == (1, 3, {"a": (2, 9), "b": (3,)})
    assert str(r) == "f: read 4, kept 1, dropped 3 (a 2 [lines 2, 9]; b 1 [line 3])"
    many = LoadReport.from_drops("f", read=10, drops=[("a", i) for i in range(1, 8)])
    assert many.examples["a"] == (1, 2, 3, 4, 5) and "[lines 1, 2, 3, 4, 5, ...]" in str(many)
    assert str(LoadReport("f", 2, 2)) == "f: read 2, kept 2, dropped 0"
    with pytest.raises(ValueError, match="must equal kept"):
        LoadReport("f", read=3, kept=1, dropped={"a": 1})
