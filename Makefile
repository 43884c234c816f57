# opt-data: `make demo` runs one simulated session end to end; `make test` runs the suite.
# Only Python 3.11+ and make are assumed; everything else is pinned in constraints.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv install demo test test-fast lint fmt bench bench-quick compact clean

venv install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "opt-data needs Python 3.11+, found " + sys.version.split()[0]' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/opt-data demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m scripts.bench.run_all $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m scripts.bench.run_all --quick

compact: $(STAMP)
	$(BIN)/opt-data compact --config $(or $(CONFIG),config/opt-data.toml)

clean:
	rm -rf $(VENV) demo data_test state_test .pytest_cache .mypy_cache .ruff_cache
