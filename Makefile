# Tidal: the two commands are `make demo` (install + run the demo) and `make test` (install + run the tests).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: install install-dev demo test lint typecheck system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet -e ".[all]"

install-dev: $(PY) system-deps
	$(PY) -m pip install --quiet -e ".[dev]"

system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(VENV)/bin/tidal demo

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks

typecheck: install-dev
	$(VENV)/bin/mypy

test: install-dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) .tidal tidal-demo .pytest_cache .mypy_cache .ruff_cache
