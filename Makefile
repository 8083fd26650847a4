# The two set-up commands (see README):
#   make demo   -- local Synapse + bot + sample corpus + a terminal chat, all on 127.0.0.1
#   make test   -- the whole test suite (starts its own Synapse and Chroma server)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test lint install bench clean

$(BIN)/guichet: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(BIN)/guichet

install: $(BIN)/guichet

demo: install
	$(BIN)/guichet demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .guichet .pytest_cache .ruff_cache
