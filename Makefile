# Two entry points for a fresh machine (Python 3.11+, make, git):
#   make run   - set up .venv with what running needs, build the demo programme into demo.gpkg
#                (once: a later run keeps it and your changes), print its summary and
#                forecast, then serve the web interface on
#                http://127.0.0.1:8000/ (demo logins printed); make demo starts the demo over
#   make test  - set up .venv with dev tools, lint, run the whole test suite on SQLite and on PostGIS
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DB ?= demo.gpkg
HAZARDS ?= 2000
SEED ?= 1
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench install clean

# What running needs (make run); the test, lint and benchmark tools come on top (make test).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

run: demo-db
	$(BIN)/demine summary --db $(DB)
	$(BIN)/demine forecast --db $(DB) --chart forecast.png
	@echo
	@echo "The web interface: http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo "Log in as im (IM officer), manager (HDT's operator manager), operator (HDT),"
	@echo "qa, viewer or admin; the password of every demo login is demine-demo."
	$(BIN)/demine serve --db $(DB) --host $(HOST) --port $(PORT)

# The demo database is built once. A later `make run` serves it as it is, with everything
# imported, released, edited or added since (migrated to this version's schema if needed);
# `make demo` starts over, keeping the old file beside it as $(DB).<date>.bak.
.PHONY: demo-db demo
demo-db: $(STAMP)
	@if [ -e "$(DB)" ]; then \
		echo "$(DB) exists: using it as it is, with your changes (make demo starts over)"; \
		$(BIN)/demine db migrate --db "$(DB)" >/dev/null; \
	else \
		$(BIN)/demine demo --hazards $(HAZARDS) --seed $(SEED) --db "$(DB)" --users; \
	fi

demo: $(STAMP)
	@if [ -e "$(DB)" ]; then \
		backup="$(DB).$$(date +%Y%m%d-%H%M%S).bak"; \
		for suffix in "" -wal -shm; do \
			if [ -e "$(DB)$$suffix" ]; then mv "$(DB)$$suffix" "$$backup$$suffix"; fi; \
		done; \
		echo "kept the previous $(DB) as $$backup"; \
	fi
	$(BIN)/demine demo --hazards $(HAZARDS) --seed $(SEED) --db "$(DB)" --users

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The suite runs twice: on SQLite/GeoPackage files, then on PostgreSQL/PostGIS (a throwaway
# cluster per test worker; scripts/ensure-postgres installs PostgreSQL 15 + PostGIS 3 from
# Debian packages when they are missing, as root). Tests about the GeoPackage file itself are
# marked sqlite_only.
# worksteal: a worker that runs out of tests takes some of the other's, so that a few long
# tests left at the end do not run alone; the 15 slowest are listed for the suite's budget.
PYTEST := $(BIN)/python -m pytest -n 2 --dist worksteal --durations 15
test: lint
	scripts/ensure-postgres >/dev/null
	$(PYTEST)
	DEMINE_TEST_BACKEND=postgresql $(PYTEST) -m "not sqlite_only"

# Every benchmark, then one table (benchmarks/results/summary.json, docs/performance.md);
# BENCH_SIZE=small for a quick look at a tenth of the size.
bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/run.py $(if $(BENCH_SIZE),--size $(BENCH_SIZE),)

# The reliability tests (crash safety, fuzzing, load) at their standard size (make test runs a
# smoke size), the long schemathesis run (coverage phase) and the security figures (large
# bodies, a login flood, personal data by role, schemathesis on the write paths with ETags),
# written to docs/reliability.md; NIGHTLY=1 for the nightly sizes.
.PHONY: reliability
reliability: $(DEV_STAMP)
	$(BIN)/python benchmarks/reliability.py $(if $(NIGHTLY),--nightly,)
	DEMINE_SLOW=1 $(BIN)/python -m pytest tests/api/test_schemathesis.py -m slow -q -p no:cacheprovider
	$(BIN)/python benchmarks/security.py

# The environment and caches only: the database holds a user's work and is never cleaned away.
clean:
	rm -rf $(VENV) .pytest_cache
