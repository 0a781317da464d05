# `make demo` and `make test` set up everything on a fresh machine: they create .venv and install
# the project with its dev extras (plain pip: it finds the torch/torchvision pair on local disk).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo test venv bench-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) examples/demo.py

# benchmark-only peers (CTGAN, SDV) and the cluster backend (Dask)
bench-deps: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench,cluster]'

clean:
	rm -rf $(VENV) out .pytest_cache
