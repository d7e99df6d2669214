# Each target creates .venv with python3 -m venv when missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-all

.PHONY: demo test bench lint venv install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/xent-jax run all --quick --out results

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15 --doctest-modules xent_jax tests

bench: $(STAMP)
	$(PY) benchmarks/losses.py
	$(PY) benchmarks/linear_cross_entropy.py
	$(PY) benchmarks/attacks.py
	$(PY) benchmarks/train_loop.py

lint: $(STAMP)
	$(VENV)/bin/ruff check xent_jax experiments tests benchmarks
	$(VENV)/bin/ruff format --check xent_jax experiments tests benchmarks

clean:
	rm -rf $(VENV) results
