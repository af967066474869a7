# One-command set-up: `make run`, `make test` and `make test-fast` create .venv from pinned versions first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= seeds/sources.toml
UV_VERSION := 0.13.9
# Test processes: twice the cores (many tests wait on servers and subprocesses), at most 8.
WORKERS ?= $(shell n=$$(( $$(nproc) * 2 )); [ $$n -gt 8 ] && n=8; echo $$n)
export PYTHONUNBUFFERED := 1

.PHONY: run test test-fast lint docs bench bench-warehouse views clean lock

# uv installs the pins in seconds (pip takes over a minute); pip does it when uv cannot be had. Bytecode is
# compiled at install: with PYTHONDONTWRITEBYTECODE set (as on these machines) every process would otherwise
# compile Prefect and the rest anew (measured: 4.5 more CPU minutes over `make test`).
$(STAMP): pyproject.toml constraints.txt
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); then \
		$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'; \
	else \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'; \
	fi
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/corpus ingest --config $(CONFIG)
	$(BIN)/corpus sql --config $(CONFIG) "select source, title, author, published_at, word_count, copies from articles order by published_at desc nulls last, title"
	$(BIN)/corpus report --config $(CONFIG) --output corpus-report.html

# Everything CI runs: lint, import contracts, then types (mypy, beside the tests: they leave a core idle a
# fifth of the time) and every test tier (unit, flow, e2e). Fails if any of them fails.
test: $(STAMP)
	$(BIN)/ruff check flows tests seeds
	$(BIN)/lint-imports
	@$(BIN)/mypy > .mypy.out 2>&1 & checking=$$!; \
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist worksteal --durations=15 $(PYTEST_TIERS); tested=$$?; \
	wait $$checking; checked=$$?; echo "mypy: $$(tail -n 1 .mypy.out)"; \
	if [ $$checked -ne 0 ]; then cat .mypy.out; fi; \
	[ $$tested -eq 0 ] && [ $$checked -eq 0 ]

# The inner loop: the same checks, then the unit and flow tiers (no servers or clusters of their own).
test-fast: PYTEST_TIERS = -m "unit or flow"
test-fast: test

lint: $(STAMP)
	$(BIN)/ruff check flows tests seeds
	$(BIN)/ruff format --check flows tests
	$(BIN)/lint-imports
	$(BIN)/mypy

# The generated parts of docs/ (config keys and defaults, view columns); tests/test_reference.py checks them.
docs: $(STAMP)
	$(BIN)/python tests/reference.py
	$(BIN)/python tests/report_picture.py

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
