# One-command set-up: every target creates .venv and installs the project on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,plots,image]'
	touch $(STAMP)

run: $(STAMP)  ## train and evaluate the CNN on MNIST (python -m experiments.cnn $(ARGS))
	$(BIN)/python -m experiments.cnn $(ARGS)

test: $(STAMP)  ## lint, format check, and the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.train

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
