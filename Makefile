# `make run` and `make test` do all set-up on first use: a virtual environment in .venv with the project
# installed. TORCH pins the PyTorch wheel; torch==2.13.0 is the CPU wheel on CI machines and the normal
# CUDA build from PyPI on a Linux GPU machine.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench-cpu

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/peftplan dashboard

# Two workers (pytest-xdist), one test file each at a time: a 2-core CI machine runs the suite in about half
# the time, and a file's module fixtures (a sweep, a dashboard server) are built once, in one worker.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench-cpu: $(STAMP)
	$(BIN)/peftplan bench train --suite cpu-smoke --device cpu
	$(BIN)/peftplan bench infer --suite cpu-smoke --device cpu
