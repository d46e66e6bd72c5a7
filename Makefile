# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/jianyi up

test: install
	$(BIN)/ruff check jianyi tests bench
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check jianyi tests bench

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
