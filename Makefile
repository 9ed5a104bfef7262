# The two commands a newcomer needs (see README.md):
#   make quickstart   set everything up, then run configs/quickstart.yaml on sample_data/
#   make test         set everything up, then run linters, type checker and the test suite
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: quickstart test setup check lint typecheck pytest bench

setup:
	./scripts/bootstrap.sh

quickstart: setup
	$(BIN)/evalcli run configs/quickstart.yaml

test: setup check

check: lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy --strict evalcli

pytest:
	$(BIN)/pytest -q
