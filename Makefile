# The one-liners the README promises. `make test` is what CI runs.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-fast lint bench demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	# CPU build of torch from local disk first, so the range in pyproject does not pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/capture_overhead.py
	$(BIN)/python benchmarks/render_speed.py

demo: install
	$(BIN)/attention-visual generate configs/tiny_demo.yaml

clean:
	rm -rf $(VENV) outputs .pytest_cache .mypy_cache .ruff_cache
