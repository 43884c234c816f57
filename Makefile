# opt-data: `make demo` runs one simulated session end to end; `make test` runs the suite.
# Only Python 3.11+ and make are assumed; everything else is pinned in constraints.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv install demo console test test-fast lint fmt bench bench-quick compact clean conformance-venvs

venv install: $(STAMP)

# Client conformance (tests/conformance): each third-party client in its own venv, from
# its own pins, so the project's pins never change for them.
CONF_CLIENTS := ibapi insync async
CONF_STAMPS  := $(foreach c,$(CONF_CLIENTS),.venv-conf-$(c)/.installed)

conformance-venvs: $(CONF_STAMPS)

.venv-conf-%/.installed: tests/conformance/requirements/%.txt
	test -x .venv-conf-$*/bin/python || $(PYTHON) -m venv .venv-conf-$*
	.venv-conf-$*/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "opt-data needs Python 3.11+, found " + sys.version.split()[0]' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/opt-data demo $(DEMO_ARGS)

# The web console on 127.0.0.1:8501 over the demo's data (CONFIG=... for another config).
console: $(STAMP)
	$(BIN)/opt-data console --config $(or $(CONFIG),demo/opt-data.demo.toml) $(CONSOLE_ARGS)

test: $(STAMP) $(CONF_STAMPS)
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
	rm -rf $(VENV) .venv-conf-* demo data_test state_test .pytest_cache .mypy_cache .ruff_cache
