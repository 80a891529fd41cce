# Every target creates .venv and installs the project when pyproject.toml changed,
# so each one works as the only command on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test fuzz bench lint fmt

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/tempoline dev

test: $(STAMP)
	$(BIN)/pytest -q

# Schemathesis, every check, against the API it starts (with PostgreSQL, Temporal and the
# emulators, as the tests do), with an admin key and a company key. FUZZ_EXAMPLES per operation.
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	TEMPOLINE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:logging tests/integration/test_fuzz.py

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
