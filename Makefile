# The two commands a newcomer needs (see README.md):
#   make quickstart   set everything up, then run configs/quickstart.yaml on sample_data/
#   make test         set everything up, then run linters, type checker, the test suite and
#                     the installed-wheel check (scripts/check_wheel.sh)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: quickstart test setup check lint typecheck pytest wheel-check bench

setup:
	./scripts/bootstrap.sh

quickstart: setup
	$(BIN)/evalcli run configs/quickstart.yaml

test: setup check wheel-check

check: lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy --strict evalcli

pytest:
	$(BIN)/pytest -q

# Build the wheel, install it into fresh venvs (newest dependencies, then every declared lower
# bound pinned) and run the quickstart and stub-judged samples outside the checkout.
wheel-check:
	VENV=$(VENV) ./scripts/check_wheel.sh
