# chainrule — set-up and common tasks.  Works on a fresh machine with Python 3.11 only:
#   make demo   creates .venv, installs chainrule, trains a small network on the embedded data set
#   make test   creates .venv, installs chainrule with its test extras, runs the default test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test test-slow test-all reproduce bench lint spec-map clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[test]'
	touch $(VENV)/.runtime $@

demo: $(VENV)/.runtime
	$(PY) examples/demo.py

test: $(VENV)/.test
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile

test-slow: $(VENV)/.test
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile -m slow

test-all: $(VENV)/.test
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile -m "slow or not slow"

reproduce: $(VENV)/.test
	$(PY) examples/reproduce/run_all.py

bench: $(VENV)/.test
	$(PY) benchmarks/run.py --json benchmarks/results.json

lint: $(VENV)/.test
	$(VENV)/bin/ruff check chainrule tests benchmarks examples

spec-map:
	$(PY) tools/spec_map.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
