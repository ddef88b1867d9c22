# Two commands for a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# pytest-xdist workers: much of the suite waits (pacing, timeouts, subprocesses), so more than the cores.
# Tests run with bytecode caching on (workers and subprocess tests reuse compiled modules).
TEST_WORKERS ?= 4
PROVIDERS := $(sort $(wildcard providers/*/pyproject.toml))
PROVIDER_DIRS := $(patsubst %/pyproject.toml,%,$(PROVIDERS))
# The browser test (tests/test_connect_app.py) drives Debian's Chromium through Playwright's Python
# package; `playwright install` is never run (it downloads a browser build of its own).
CHROMIUM ?= chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install install-dev browser lint typecheck docs bench clean

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

# Quick when Chromium is there; otherwise installs it, refreshing the package lists only if the
# first attempt finds nothing to install (a clean machine has none).
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
		export DEBIAN_FRONTEND=noninteractive; \
		$(SUDO) apt-get install -y -q chromium || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }; \
	}

demo: install
	$(VENV)/bin/unified-sdk demo

lint: install-dev
	$(VENV)/bin/ruff check unified_sdk providers tests benchmarks examples
	$(VENV)/bin/ruff format --check unified_sdk providers tests benchmarks examples

typecheck: install-dev
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict --explicit-package-bases examples

# The docs site (mkdocs-material + mkdocstrings) into site/; --strict fails on a broken link,
# anchor, snippet or API reference (not --quiet: it hides the warnings that --strict counts).
MKDOCS := NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d site

docs: install-dev
	$(MKDOCS)

test: install-dev browser
	$(VENV)/bin/ruff check unified_sdk providers tests benchmarks examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy --strict --explicit-package-bases examples
	$(foreach d,$(PROVIDER_DIRS),$(VENV)/bin/mypy --strict $(wildcard $(d)/unified_sdk_*) $(wildcard $(d)/tests) &&) true
	$(MKDOCS)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n $(TEST_WORKERS)

bench: install-dev
	$(PIP) install -q $(foreach d,$(PROVIDER_DIRS),-e '$(d)[fake,bench]')
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
