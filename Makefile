# Tidal: the two commands are `make demo` (install + run the demo) and `make test` (install + run the tests).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: install install-dev torch demo test lint typecheck system-deps grpc-messages clean

UV := $(VENV)/bin/uv

# uv resolves and installs the (large) dependency set in seconds where pip's resolver takes minutes.
# --compile-bytecode: uv writes no .pyc files by default, and where PYTHONDONTWRITEBYTECODE is set
# (as on our CI machines) nothing ever writes them, so every new process (each pipeline worker,
# each `tidal` command, each server a test starts) compiled scikit-learn, SciPy and pandas again:
# about 4 s of CPU per process, measured. Compiling once at install costs seconds.
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv

install: $(PY)
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -e ".[all]"
	@$(PY) -m compileall -q src

# PyTorch first, with pip and pinned: pip takes the CPU build here, where uv (or an unpinned
# torch) would fetch a multi-GB CUDA build; uv then sees torch==2.13.0 satisfied and keeps it
TORCH_PIN := torch==2.13.0

torch: $(PY)
	@$(PY) -c "import importlib.metadata as m; assert m.version('torch').split('+')[0] == '2.13.0'" 2>/dev/null \
		|| $(PY) -m pip install --quiet "$(TORCH_PIN)"

install-dev: $(PY) system-deps torch
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -e ".[dev]"
	@$(PY) -m compileall -q src

system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(VENV)/bin/tidal demo

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks

typecheck: install-dev
	$(VENV)/bin/mypy

# pytest options: three xdist workers on CI's two cores (many tests wait on servers, browsers,
# subprocesses and Ray: with two workers the cores idled through those waits; measured on a clean
# clone, pytest took 1426 s with two workers and, after cutting ~2 min of test time, 1080 s with
# three, the CPU idle under 10%), whole
# files to one worker (module fixtures and servers stay shared); e.g.
# `make test PYTEST_ARGS="-x tests/nn"` for one folder in one process
PYTEST_ARGS ?= -n 3 --dist loadfile

# the Helm chart's tests load Helm's Go SDK (a Go runtime in a shared library), which crashed (SIGSEGV in
# runtime.futex) in an xdist worker that had run OpenVINO and NNCF (tidal optimize's tests) before: Tidal itself
# never loads both, so these files run in a process of their own after the others
HELM_TESTS := tests/deploy/test_helm_chart.py tests/deploy/test_helm_stores.py tests/deploy/test_helm_values.py

# the clock starts when make reads this file, so the figure printed at the end includes the installs
TEST_STARTED := $(shell date +%s)

test: install-dev
	@status=0; \
	$(VENV)/bin/ruff check src tests benchmarks && \
	$(VENV)/bin/mypy && \
	$(VENV)/bin/lint-imports --no-cache && \
	$(VENV)/bin/pytest -q --durations=15 $(PYTEST_ARGS) $(addprefix --ignore=,$(HELM_TESTS)) && \
	$(VENV)/bin/pytest -q --durations=5 -p no:cacheprovider $(HELM_TESTS) || status=$$?; \
	echo "make test: $$(( $$(date +%s) - $(TEST_STARTED) )) s in all, installs included (CI budget: 1500 s)"; \
	exit $$status

# the gRPC messages of the model server, from src/tidal/serving/grpc_predict_v2.proto
grpc-messages:
	@bash scripts/generate-grpc-messages.sh

clean:
	rm -rf $(VENV) .tidal tidal-demo .pytest_cache .mypy_cache .ruff_cache
