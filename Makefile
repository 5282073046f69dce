# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-all lint serve bench flags clean

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

# Four workers on two cores: most tests wait on a server, a timeout or a child process.
test: $(STAMP)
	$(BIN)/python -m pytest -n 4 --cov --cov-report=term-missing

# The suite on every supported Python found here, on PATH or installed by pyenv, each in a
# .venv-3.X/ of its own; pyproject.toml's classifiers name the versions that pass.
MINORS := 3.11 3.12 3.13 3.14
test-all:
	@failed=""; tested=""; for v in $(MINORS); do \
	  py=""; for c in python$$v $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v*/bin/python$$v; do \
	    if "$$c" -c '' 2>/dev/null; then py=$$(command -v "$$c"); break; fi; done; \
	  if [ -z "$$py" ]; then echo "== Python $$v: not found, skipped"; continue; fi; \
	  echo "== Python $$v: $$py"; tested="$$tested $$v"; \
	  $(MAKE) --no-print-directory test VENV=.venv-$$v PYTHON=$$py || failed="$$failed $$v"; \
	done; echo "== tested:$$tested; failed:$${failed:- none}"; [ -z "$$failed" ]

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict flags_async

serve: $(STAMP)
	$(BIN)/flags-async serve

bench: $(STAMP)
	$(BIN)/flags-async bench --latency 20,0,1,2,5,10,50 --plot bench.png --timeline timeline.png

# Draw the flags the package ships (flags_async/data/flags/) anew; Pillow comes with [dev].
flags: $(STAMP)
	$(BIN)/python scripts/draw_flags.py

clean:
	rm -rf $(VENV) .venv-3.* bench.png timeline.png .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage htmlcov
	find downloads -mindepth 1 ! -name .gitkeep -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
