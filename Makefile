# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint serve bench clean

install: $(STAMP)

# Reinstall when the project's metadata changes; `pip install -e` keeps the code live.
$(STAMP): pyproject.toml
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
