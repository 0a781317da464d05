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

# the unit tests without the ones marked `slow` (pyproject.toml's addopts leaves them out), in two
# pytest workers (pytest-xdist), one file per worker at a time so that a module's fixtures are built
# once; every process gets one torch/BLAS thread (two busy processes with two threads each ran
# 16-40x slower on this 2-core machine). One after the other the suite took 558-604 s, in two
# workers 391 s.
TEST_RUN := OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile

test: $(STAMP) lint
	$(TEST_RUN) -m "not slow"

# every test, the slow ones (measurements, end-to-end image release) included
test-all: $(STAMP) lint
	$(TEST_RUN) -m ""

demo: $(STAMP)
	$(PY) examples/demo.py

# benchmark-only peers (CTGAN, SDV) and the cluster backend (Dask)
bench-deps: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench,cluster]'

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
