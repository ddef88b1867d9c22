# Two commands for a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TEST_WORKERS ?= 4
PROVIDERS := $(sort $(wildcard providers/*/pyproject.toml))
PROVIDER_DIRS := $(patsubst %/pyproject.toml,%,$(PROVIDERS))

.PHONY: demo test install install-dev lint typecheck bench clean

$(VENV)/.installed: pyproject.toml $(PROVIDERS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[testing]' $(foreach d,$(PROVIDER_DIRS),-e '$(d)[fake]')
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/unified-sdk demo

lint: install-dev
	$(VENV)/bin/ruff check conftest.py unified_sdk providers tests benchmarks
	$(VENV)/bin/ruff format --check conftest.py unified_sdk providers tests benchmarks

typecheck: install-dev
	$(VENV)/bin/mypy

test: install-dev
	$(VENV)/bin/ruff check conftest.py unified_sdk providers tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(foreach d,$(PROVIDER_DIRS),$(VENV)/bin/mypy --strict $(wildcard $(d)/unified_sdk_*) $(wildcard $(d)/tests) &&) true
# Tests run on TEST_WORKERS xdist workers; every fixture is per worker (own ports, temp dirs, PostgreSQL).
# More workers than cores: much test time is spent waiting (timeouts, rate-limit pacing, subprocesses).
	$(PY) -m pytest -q -n $(TEST_WORKERS)

bench: install-dev
	$(PIP) install -q $(foreach d,$(PROVIDER_DIRS),-e '$(d)[fake,bench]')
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
