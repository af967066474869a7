# One-command set-up: `make run` and `make test` create .venv from pinned versions first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= seeds/sources.toml
export PYTHONUNBUFFERED := 1

.PHONY: run test lint bench bench-warehouse views clean lock

$(STAMP): pyproject.toml constraints.txt
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/corpus ingest --config $(CONFIG)
	$(BIN)/corpus sql --config $(CONFIG) "select source, title, author, published_at, word_count, copies from articles order by published_at desc nulls last, title"

test: $(STAMP)
	$(BIN)/ruff check flows tests seeds
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check flows tests seeds
	$(BIN)/ruff format --check flows tests
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python tests/bench/bench_ingest.py
	$(BIN)/python tests/bench/bench_dedup.py

bench-warehouse: $(STAMP)
	$(BIN)/python tests/bench/bench_warehouse.py

views: $(STAMP)
	$(BIN)/corpus views --config $(CONFIG)

# Re-resolve the pins after changing dependencies in pyproject.toml.
lock:
	rm -rf /tmp/corpus-lock && $(PYTHON) -m venv /tmp/corpus-lock
	/tmp/corpus-lock/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	/tmp/corpus-lock/bin/pip freeze --exclude-editable | grep -v '^corpus-pipeline' > constraints.txt

clean:
	rm -rf $(VENV) warehouse/documents warehouse/rejects warehouse/runs warehouse/_staging warehouse/corpus.duckdb warehouse/.locks \
		warehouse/signatures warehouse/fetches warehouse/raw warehouse/search.sqlite* warehouse/_compact warehouse/inputs
