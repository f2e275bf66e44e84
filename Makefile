# Datadive: `make run` starts JupyterLab with the extension; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
DATADIVE_ROOT ?= $(CURDIR)/workspace
PORT ?= 8888

.PHONY: run test install install-test bench clean

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

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every benchmarks/bench_*.py, then one table of all figures; `make bench BENCH_ARGS=--quick` for small sizes.
bench: install-test
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) dist build *.egg-info
