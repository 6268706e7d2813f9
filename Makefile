# The README's two commands: `make demo` (the main job) and `make test` (the test suite).
# Both create .venv and install the project on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/demo

$(BIN)/fashion-mrcnn: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/fashion-mrcnn

demo: install
	$(BIN)/fashion-mrcnn demo --out $(OUT)

lint: install
	$(BIN)/ruff check fashion_mrcnn tests bench
	$(BIN)/python -m fashion_mrcnn.tools.check_notebooks notebooks

test: lint
	$(BIN)/python -m pytest -n 2

.PHONY: install demo lint test
