# Two entry points: `make lab` (set up and start the lab) and `make test` (set up and run every test).
# Both are idempotent: a second run only redoes what changed.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ost_lab-installed
EXT := extensions/ost-lab
EXT_BUILT := ost_lab/labextension/package.json
EXT_SRC := $(wildcard $(EXT)/src/*.ts $(EXT)/style/* $(EXT)/schema/*) $(EXT)/package.json $(EXT)/tsconfig.json
PORT ?= 8888
# Every recipe sees the virtual environment's tools first (jupyter-builder, npm scripts).
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: lab test setup lint unit notebooks browser bench chromium clean

lab: setup
	$(BIN)/ost-lab lab --port $(PORT)

test: setup chromium lint unit notebooks browser

setup: $(STAMP)

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# jupyterlab brings jupyter-builder, which the extension build runs.
$(BIN)/jupyter-builder: | $(BIN)/python
	$(BIN)/python -m pip install --quiet "jupyterlab>=4.2,<5"

$(EXT_BUILT): $(EXT_SRC) | $(BIN)/jupyter-builder
	cd $(EXT) && npm install --no-audit --no-fund && npm run build:prod
	cp $(EXT)/install.json ost_lab/labextension/install.json

$(STAMP): pyproject.toml $(EXT_BUILT)
	$(BIN)/python -m pip install --quiet -e ".[test,sweeps]"
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd $(EXT) && npm run lint

unit: setup
	$(BIN)/python -m pytest tests -m "not browser"

notebooks: setup
	$(BIN)/python -m pytest --nbval-lax notebooks/

browser: setup chromium
	$(BIN)/python -m pytest tests -m browser

# The benchmark's peers (vectorbt, backtesting.py) come with the `bench` extra.
BENCH_STAMP := $(VENV)/.ost_lab-bench-installed
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,sweeps,bench]"
	touch $@

bench: setup $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

# Browser tests drive Debian's chromium; install it when missing and we may.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; \
	fi

clean:
	rm -rf $(VENV) $(EXT)/node_modules $(EXT)/lib ost_lab/labextension artifacts
