# The one entry point for people and CI. `make run` and `make test` do all the set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   := .actas
export ACTAS_DATABASE_URL ?= sqlite:///$(CURDIR)/$(DATA)/actas.db
export ACTAS_KEY_FILE     ?= $(CURDIR)/$(DATA)/keys.json

.PHONY: run test lint types pytest bench clean install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml sdk/pyproject.toml
	$(BIN)/pip install --quiet -e . -e ./sdk
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sdk
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: set up on first use, then start the broker on 127.0.0.1:8400 (SQLite in .actas/)
run: $(VENV)/.installed
	@mkdir -p $(DATA)
	@$(BIN)/actas init
	@if ! $(BIN)/actas staff list | grep -q .; then \
	  $(BIN)/actas staff add admin@example.test --name "Demo admin" \
	    --role admin --role security --role lead --generate-password > $(DATA)/demo-admin.txt; \
	  chmod 600 $(DATA)/demo-admin.txt; \
	fi
	@echo
	@echo "  actas broker:  http://127.0.0.1:8400   (API docs: http://127.0.0.1:8400/docs)"
	@echo "  signing keys:  http://127.0.0.1:8400/.well-known/jwks.json"
	@echo "  demo sign-in (also in $(DATA)/demo-admin.txt):"
	@sed 's/^/    /' $(DATA)/demo-admin.txt
	@echo "  add the otpauth URI to an authenticator app, then:"
	@echo "    curl -s -X POST http://127.0.0.1:8400/v1/auth/login -H 'content-type: application/json' \\"
	@echo "      -d '{\"email\":\"admin@example.test\",\"password\":\"<password>\",\"code\":\"<6 digits>\"}'"
	@echo
	@$(BIN)/actas serve

## test: lint, format check, strict types on both packages, then the whole test suite
test: $(VENV)/.installed-dev lint types pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src sdk/src tests bench
	$(BIN)/ruff format --check src sdk/src tests bench

types: $(VENV)/.installed-dev
	$(BIN)/mypy --strict src sdk/src

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

## bench: the measured figures recorded in the README
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/audit_append.py

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .mypy_cache .ruff_cache
