# trialscope: `make run` serves the bundled sample; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= trialscope.db
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint bench sysdeps clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(DB): | $(BIN)/.installed
	$(BIN)/trialscope ingest sample/*.zip --db $(DB)

run: $(BIN)/.installed $(DB)
	$(BIN)/trialscope serve --db $(DB) --host $(HOST) --port $(PORT)

# Debian packages some tests drive for real: chromium (browser tests), postgresql (store tests).
sysdeps:
	@scripts/system-deps.sh

test: $(BIN)/.installed sysdeps
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks scripts

# Benchmarks read ../shared/data; each prints JSON figures.
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(DB) $(DB)-* $(DB).index $(DB).vectors test-artifacts
