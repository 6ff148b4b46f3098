# relcheck's developer tasks. Needs only GNU make, Python 3 and git: `make venv`
# creates .venv and installs relcheck (editable) with its dev tools into it.

PYTHON ?= python3
VENV = .venv
BIN = $(VENV)/bin
# Touched after a successful install; older than pyproject.toml means reinstall.
STAMP = $(VENV)/.relcheck-installed
EXAMPLE = examples/python-service

export PIP_DISABLE_PIP_VERSION_CHECK = 1

.DEFAULT_GOAL := help
.PHONY: help venv demo test check bench clean distclean

help:
	@echo "make venv       create $(VENV) and install relcheck with its dev extras"
	@echo "make test       run the test suite (pytest)"
	@echo "make check      ruff check, ruff format --check, mypy"
	@echo "make demo       release the example service in a temp git repo"
	@echo "make bench      measure relcheck against its baselines (benchmarks/)"
	@echo "make clean      remove build output and caches"
	@echo "make distclean  clean, and remove $(VENV)"

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --progress-bar off --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -e '.[dev]'
	touch $@

demo: venv
	bash scripts/demo.sh

test: venv
	$(BIN)/python -m pytest -q

check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(EXAMPLE) && $(CURDIR)/$(BIN)/ruff check . && $(CURDIR)/$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: venv
	$(BIN)/python -m pip install --progress-bar off -q -e '.[bench]'
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/steps.py
	$(BIN)/python benchmarks/parallel.py
	$(BIN)/python benchmarks/notes.py
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf dist build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -rf $(EXAMPLE)/.pytest_cache $(EXAMPLE)/.ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name '*.egg-info' -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
