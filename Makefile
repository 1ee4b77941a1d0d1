# The one entry point for people and CI. `make run` and `make test` do all the set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The demo's data folder. Its settings are not exported: they would leak into `make test`
# (whose CLI tests read their own settings); scripts/demo.py sets them for the processes it
# starts, and writes the actas.toml the CLI reads.
DATA   := .actas

.PHONY: run test lint types pytest bench bench-smoke fuzz soak clean install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml sdk/pyproject.toml
	$(BIN)/pip install --quiet -e . -e ./sdk
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sdk
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[bench]' -e ./sdk
	touch $@

## The SSO tests run the npm `oidc-provider` (a certified OpenID provider) with node: install
## it from the committed lock file up front, again only when the lock file changes.
OIDC := tests/oidc
$(OIDC)/node_modules/.installed: $(OIDC)/package-lock.json $(OIDC)/package.json
	cd $(OIDC) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: set up on first use (broker database, demo staff, the notes app and its customers),
## then start the broker on 127.0.0.1:8400 and the notes app on 127.0.0.1:8500 together.
## Ctrl-C stops both. State lives in .actas/ (`make clean` starts over).
run: $(VENV)/.installed
	@mkdir -p $(DATA)
	@$(BIN)/python scripts/demo.py run --data $(DATA)

## test: lint, format check, import contracts, strict types (sources and tests), then the
## whole test suite and the coverage gate
test: $(VENV)/.installed-dev lint types pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src sdk/src tests bench examples scripts
	$(BIN)/ruff format --check src sdk/src tests bench examples scripts
	$(BIN)/lint-imports

types: $(VENV)/.installed-dev
	$(BIN)/mypy --strict src sdk/src tests
	cd examples && MYPYPATH=../src:../sdk/src ../$(BIN)/mypy --strict -p notes_app
	$(BIN)/mypy --strict scripts/*.py

## pytest: the whole suite with the coverage gate; PYTEST_ARGS runs a part of it (no gate then)
pytest: $(VENV)/.installed-dev $(OIDC)/node_modules/.installed
	$(BIN)/pytest $(if $(PYTEST_ARGS),$(PYTEST_ARGS),--cov --cov-report=term:skip-covered)

## fuzz: schemathesis on every operation of the served OpenAPI document, as an anonymous
## caller, each staff role and the application, on SQLite and PostgreSQL (ACTAS_TEST_DATABASE_URL);
## zero 5xx and zero schema violations. FUZZ_EXAMPLES bounds the cases per operation and phase.
FUZZ_EXAMPLES ?= 25
fuzz: $(VENV)/.installed-dev
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python scripts/fuzz.py --backend both

## bench: every script in bench/, then bench/REPORT.md, bench/chart.png and the README's table
## of targets (PostgreSQL from ACTAS_TEST_DATABASE_URL; about 25 minutes); installs the `bench`
## extra first (django-hijack and Clerk's SDK, the peers)
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/report.py

## bench-smoke: every bench script with tiny counts (CI: they run; no figure is asserted)
bench-smoke: $(VENV)/.installed-bench
	$(BIN)/python bench/report.py --smoke

## soak: the races at full size (64 contenders on each of 1000 secrets and requests, in one
## process on SQLite and PostgreSQL, and split over two broker processes on PostgreSQL), the
## cluster's faults, and the lifecycle model with many more examples. Not in CI (long). The
## cluster's race counts and failover times go to bench/results/prove.json for bench/REPORT.md.
## SOAK_N sets the counts (1000).
SOAK_N ?= 1000
soak: $(VENV)/.installed-dev
	RACE_N=$(SOAK_N) CLUSTER_RACE_N=$(SOAK_N) MODEL_EXAMPLES=300 MODEL_STEPS=60 MODEL_RANDOM=1 \
	  ACTAS_PROVE_FIGURES=bench/results/prove.json \
	  $(BIN)/pytest -q -p no:cacheprovider tests/races tests/cluster tests/model

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .mypy_cache .ruff_cache
	@# the demo's actas.toml (see scripts/demo.py); one written by hand stays
	@if head -n 1 actas.toml 2>/dev/null | grep -q '^# Written by scripts/demo.py'; then rm actas.toml; fi
