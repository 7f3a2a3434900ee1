# Two entry points for a fresh machine (Python 3.11+, make, git):
#   make run   - set up .venv, build the demo programme into demo.gpkg, print its summary and forecast
#   make test  - set up .venv with dev tools, lint, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= demo.gpkg
HAZARDS ?= 2000
SEED ?= 1

.PHONY: run test lint bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/demine demo --hazards $(HAZARDS) --seed $(SEED) --db $(DB) --replace
	$(BIN)/demine summary --db $(DB)
	$(BIN)/demine forecast --db $(DB) --chart forecast.png

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DB) .pytest_cache
