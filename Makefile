# The one-liners the README promises. `make test` is what CI runs.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The light install (`pip install .`: no torch, diffusers, transformers) and the tests it must pass.
LIGHT_VENV ?= .venv-light
LIGHT_BIN := $(LIGHT_VENV)/bin
LIGHT_TESTS := tests/cli/test_light_commands.py tests/storage tests/render tests/report/test_report_page.py \
	tests/families/test_registry.py tests/families/test_family_free_core.py

# pytest-xdist workers for `make test`: `auto` is one per core; `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= auto
# The install is done once: the stamp is remade (and the install rerun) when pyproject.toml changes.
INSTALLED := $(VENV)/.installed

.PHONY: install test test-fast test-light soak lint bench demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(INSTALLED)

$(INSTALLED): pyproject.toml | $(BIN)/python
	# CPU build of torch from local disk first, so the range in pyproject does not pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[wan,dev]"
	touch $@

# The suite and the examples in the docstrings of src/ (those that need a model or a batch are skipped),
# on every core, the 15 slowest listed. A worker takes a whole module at a time (its module fixtures are
# built once), the modules with slow tests first (tests/conftest.py orders them). The `soak` and `timing`
# tests are left out: `make soak` runs them.
test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15 --doctest-modules tests src/attention_visual

# What needs a quiet machine or a long time, one at a time: the wall-clock budgets, then the full
# random-kill chaos run (CHAOS_CASES=100 make soak for a longer one).
soak: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m timing --durations=15
	$(BIN)/python -m pytest -q -p no:cacheprovider -m soak --durations=15

$(LIGHT_BIN)/python:
	$(PY) -m venv $(LIGHT_VENV)
	$(LIGHT_BIN)/pip install -q --upgrade pip

# The `light` tests in a venv with only `pip install .` (a regular, non-editable install) and pytest.
test-light: $(LIGHT_BIN)/python
	$(LIGHT_BIN)/pip install -q . "pytest>=8"
	$(LIGHT_BIN)/python -m pytest -q -p no:cacheprovider -m "light and not wan" $(LIGHT_TESTS)

test-fast: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow"

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
	rm -rf $(VENV) $(LIGHT_VENV) outputs .pytest_cache .mypy_cache .ruff_cache
