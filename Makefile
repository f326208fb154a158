# trialscope: `make run` serves the bundled sample (`make run WORKERS=0`: one process per core); `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= trialscope.db
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 1

.PHONY: run test lint bench sysdeps clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(DB): | $(BIN)/.installed
	$(BIN)/trialscope ingest sample/*.zip --db $(DB)

run: $(BIN)/.installed $(DB)
	$(BIN)/trialscope serve --db $(DB) --host $(HOST) --port $(PORT) --workers $(WORKERS)

# Debian packages some tests drive for real: chromium (browser tests), postgresql (store tests).
sysdeps:
	@scripts/system-deps.sh

test: $(BIN)/.installed sysdeps
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks scripts

# Benchmarks read ../shared/data (each says so when it is absent) and print JSON figures;
# copies land in benchmarks/out/. The 500k-study runs take a while: BENCH_N=50000 for a quick pass.
BENCH_N ?= 500000
bench: $(BIN)/.installed sysdeps
	@mkdir -p benchmarks/out
	$(BIN)/python benchmarks/ingest.py | tee benchmarks/out/ingest.json
	$(BIN)/python benchmarks/stores.py | tee benchmarks/out/stores.json
	$(BIN)/python benchmarks/web.py | tee benchmarks/out/web.json
	$(BIN)/python benchmarks/search.py --n $(BENCH_N) | tee benchmarks/out/search.json
	$(BIN)/python benchmarks/similar.py --latency $(BENCH_N) | tee benchmarks/out/similar.json
	$(BIN)/python benchmarks/embed.py | tee benchmarks/out/embed.json
	$(BIN)/python benchmarks/results_coverage.py | tee benchmarks/out/results_coverage.json
	$(BIN)/python benchmarks/history.py | tee benchmarks/out/history.json
	$(BIN)/python benchmarks/criteria.py | tee benchmarks/out/criteria.json
	$(BIN)/python benchmarks/patient_facts.py | tee benchmarks/out/patient_facts.json
	$(BIN)/python benchmarks/match.py --reuse --latency $(BENCH_N) | tee benchmarks/out/match.json

clean:
	rm -rf $(VENV) $(DB) $(DB)-* $(DB).index $(DB).vectors $(DB).criteria test-artifacts
