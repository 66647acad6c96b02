# Tidal: the two commands are `make demo` (install + run the demo) and `make test` (install + run the tests).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: install install-dev demo test lint typecheck system-deps grpc-messages clean

UV := $(VENV)/bin/uv

# uv resolves and installs the (large) dependency set in seconds where pip's resolver takes minutes
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv

install: $(PY)
	$(UV) pip install --quiet --python $(PY) -e ".[all]"

install-dev: $(PY) system-deps
	$(UV) pip install --quiet --python $(PY) -e ".[dev]"

system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(VENV)/bin/tidal demo

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks

typecheck: install-dev
	$(VENV)/bin/mypy

# the clock starts when make reads this file, so the figure printed at the end includes the installs
TEST_STARTED := $(shell date +%s)

test: install-dev
	@status=0; \
	$(VENV)/bin/ruff check src tests benchmarks && \
	$(VENV)/bin/mypy && \
	$(VENV)/bin/lint-imports --no-cache && \
	$(VENV)/bin/pytest -q --durations=15 || status=$$?; \
	echo "make test: $$(( $$(date +%s) - $(TEST_STARTED) )) s in all, installs included (CI budget: 1500 s)"; \
	exit $$status

# the gRPC messages of the model server, from src/tidal/serving/grpc_predict_v2.proto
grpc-messages:
	@bash scripts/generate-grpc-messages.sh

clean:
	rm -rf $(VENV) .tidal tidal-demo .pytest_cache .mypy_cache .ruff_cache
