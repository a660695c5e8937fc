# One-command entry points. `make test` is what CI runs (.ci/run calls it).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ORDERS ?= 20000

.PHONY: test demo bench bench-quick lint typecheck install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,cli]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check bcb2b_async tests benchmarks

typecheck: install
	$(BIN)/mypy bcb2b_async

## The whole test suite: ruff, mypy --strict, pytest (unit, resources, integration).
test: install
	$(BIN)/ruff check bcb2b_async tests benchmarks
	$(BIN)/mypy bcb2b_async
	$(BIN)/python -m pytest -q

## The main job: a bulk order export from the built-in sandbox store, with a progress bar.
demo: install
	$(BIN)/bcb2b export orders --sandbox --sandbox-orders $(ORDERS) --out orders.jsonl

bench: install
	$(BIN)/python -m benchmarks

bench-quick: install
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
