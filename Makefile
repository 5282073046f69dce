# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint serve bench clean

install: $(STAMP)

# The oldest Python the project supports, as pyproject.toml's requires-python says.
SUPPORTED := import sys; sys.exit(sys.version_info < (3, 11))

# Reinstall when the project's metadata changes; `pip install -e` keeps the code live. A .venv/
# left by an unsupported Python (a failed `make run PYTHON=python3.10`) is made anew.
$(STAMP): pyproject.toml
	@$(PYTHON) -c '$(SUPPORTED)' || { echo "flags-async needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)" >&2; exit 1; }
	@if [ -e $(VENV) ] && ! $(BIN)/python -c '$(SUPPORTED)' 2>/dev/null; then echo "Removing $(VENV)/, made by an unsupported Python"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flags-async download --all

test: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term-missing

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict flags_async

serve: $(STAMP)
	$(BIN)/flags-async serve

bench: $(STAMP)
	$(BIN)/flags-async bench --plot bench.png

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage htmlcov
	find downloads -mindepth 1 ! -name .gitkeep -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
