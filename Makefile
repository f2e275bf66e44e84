# Datadive: `make run` starts JupyterLab with the extension; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
DATADIVE_ROOT ?= $(CURDIR)/workspace
PORT ?= 8888

.PHONY: run test test-frontend test-ui test-py ui-deps chromium labextension install install-test bench bench-ui clean

# Browser tests (tests/ui): Playwright driving Debian's chromium; no browser is downloaded.
UI_DIR := tests/ui
CHROMIUM ?= /usr/bin/chromium
# Rebuild the front end into the venv before the browser tests: auto (when frontend/ is
# newer than the installed copy), yes, or no.
UI_BUILD ?= auto
# Extra arguments for `playwright test`, e.g. UI_ARGS='smoke.spec.ts -g nocollab'.
UI_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# jlpm (from jupyter_builder) and jupyter live in the venv.
WITH_VENV := PATH="$(abspath $(BIN)):$$PATH"
LABEXT_DST := $(VENV)/share/jupyter/labextensions/datadive
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e '.[all]'
	touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.run-installed

install-test: $(VENV)/.test-installed

run: install
	mkdir -p "$(DATADIVE_ROOT)"
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) --no-browser $(ROOT_FLAG) --ServerApp.root_dir="$(DATADIVE_ROOT)" --DatadiveApp.demo_project=True

# The front end unit tests, then the browser tests, then pytest, always last: its summary
# closes the output. A failure of the first two still lets pytest run, and fails `make test`.
test: install-test
	@status=0; \
	$(MAKE) --no-print-directory test-frontend || status=1; \
	$(MAKE) --no-print-directory test-ui || status=1; \
	if [ $$status != 0 ]; then echo "make test: front end unit tests or browser tests FAILED (see above); running pytest anyway" >&2; fi; \
	$(MAKE) --no-print-directory test-py || status=1; \
	exit $$status

test-py: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-frontend: install-test
	cd frontend && $(WITH_VENV) jlpm install && $(WITH_VENV) npx vitest run

test-ui: install-test ui-deps labextension
	cd $(UI_DIR) && $(WITH_VENV) DATADIVE_VENV="$(abspath $(VENV))" CHROMIUM="$(CHROMIUM)" npx playwright test $(UI_ARGS)

ui-deps: chromium $(UI_DIR)/node_modules/.installed

# Debian's chromium, installed when missing (as root in CI, else through sudo).
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "Installing Debian's chromium (missing: $(CHROMIUM))"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	fi

$(UI_DIR)/node_modules/.installed: $(UI_DIR)/package.json $(UI_DIR)/package-lock.json
	cd $(UI_DIR) && npm ci
	touch $@

# The installed labextension is a copy made by pip: rebuild and copy it again when
# frontend/ changed since (a symlink from `jupyter labextension develop` gets the build itself).
labextension: install-test
	@if [ "$(UI_BUILD)" = no ]; then exit 0; fi; \
	if [ "$(UI_BUILD)" = yes ] || [ ! -f "$(LABEXT_DST)/package.json" ] || \
	   [ -n "$$(find frontend/src frontend/style frontend/schema frontend/package.json frontend/tsconfig.json -newer "$(LABEXT_DST)/package.json" -print -quit 2>/dev/null)" ]; then \
	  echo "Building the front end into $(LABEXT_DST)"; \
	  (cd frontend && $(WITH_VENV) jlpm install && $(WITH_VENV) jlpm build:prod) || exit 1; \
	  if [ ! -L "$(LABEXT_DST)" ]; then \
	    rm -rf "$(LABEXT_DST)" && mkdir -p "$(dir $(LABEXT_DST))" && \
	    cp -R datadive_ext/labextension "$(LABEXT_DST)" && cp frontend/install.json "$(LABEXT_DST)/"; \
	  fi; \
	fi

# Every benchmarks/bench_*.py, then one table of all figures; `make bench BENCH_ARGS=--quick` for small sizes.
bench: install-test
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# The front end in the real browser (insert visible at 10 / 500 cells, gallery filter with
# 1,000 templates), each beside JupyterLab's own equivalent: tests/ui/bench_ui.bench.ts.
bench-ui: install-test ui-deps labextension
	cd $(UI_DIR) && $(WITH_VENV) DATADIVE_VENV="$(abspath $(VENV))" CHROMIUM="$(CHROMIUM)" npx playwright test -c playwright.bench.config.ts

clean:
	rm -rf $(VENV) dist build *.egg-info
