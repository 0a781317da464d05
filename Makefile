# `make demo` and `make test` set up everything on a fresh machine: they create .venv and install
# the project with its dev extras (plain pip: it finds the torch/torchvision pair on local disk).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo lint test test-all venv bench-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# ruff (lint, import order) and mypy (the package's types), as pyproject.toml configures them;
# both are pinned in the dev extra. `make test` and `make test-all` run them before pytest.
lint: $(STAMP)
	$(PY) -m ruff check synthguard tests benchmarks scripts examples
	$(PY) -m mypy synthguard

# the unit tests without the ones marked `slow` (pyproject.toml's addopts leaves them out)
test: $(STAMP) lint
	$(PY) -m pytest -q -m "not slow"

# every test, the slow ones (measurements, end-to-end image release) included
test-all: $(STAMP) lint
	$(PY) -m pytest -q -m ""

demo: $(STAMP)
	$(PY) examples/demo.py

# benchmark-only peers (CTGAN, SDV) and the cluster backend (Dask)
bench-deps: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench,cluster]'

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
