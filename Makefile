# Conveyor: `make run` starts everything, `make test` runs every test. Both set up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck format bench bench-webhooks bench-history bench-inbox bench-scaleout chaos clean help chromium

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,test]'
	touch $(STAMP)

run: $(STAMP)  ## start Temporal, worker and API on http://127.0.0.1:8000 with demo data
	$(VENV)/bin/conveyor dev

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here); the PDF
# tests use pdftoppm, the README walkthrough test curl and jq; tests/test_compose.py runs
# `docker-compose config` (Debian's, without recommends: no Docker engine), skipped without it.
chromium:  ## install Debian's Chromium, poppler-utils (pdftoppm), curl, jq and docker-compose for the tests when missing
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/pdftoppm ] || [ ! -x /usr/bin/curl ] || [ ! -x /usr/bin/jq ]; then \
		echo "installing chromium, poppler-utils, curl and jq for the browser, PDF and README tests ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium poppler-utils curl jq \
		|| { $$SUDO apt-get update -q && \
		     $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium poppler-utils curl jq; }; \
	fi
	@if [ ! -x /usr/bin/docker-compose ] && ! docker compose version >/dev/null 2>&1; then \
		echo "installing docker-compose (no engine) for tests/test_compose.py ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose \
		|| { $$SUDO apt-get update -q && \
		     $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose; } \
		|| echo "docker-compose not installed: tests/test_compose.py skips its docker-compose config"; \
	fi

test: $(STAMP) chromium  ## lint and type-check, then run the whole test suite (SQLite and PostgreSQL)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -p no:cacheprovider -q -ra

lint: $(STAMP)  ## ruff check, format check and mypy on the core folders
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

typecheck: $(STAMP)  ## mypy on workflows/, activities/ and every service.py
	$(VENV)/bin/mypy

format: $(STAMP)  ## format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)  ## throughput benchmark: bare Temporal vs Conveyor orders
	$(PY) -m bench.throughput

bench-history: $(STAMP)  ## orders unpaid through thousands of rechecks: every run stays under 2,000 events (BENCH_ARGS="--orders 20 --minutes 5")
	$(PY) -m bench.history_bound $(BENCH_ARGS)

chaos: $(STAMP)  ## orders while worker, API, Temporal and mail sink are SIGKILLed at random, then every invariant checked (BENCH_ARGS="--orders 1000 --kills 50 --database sqlite|postgresql")
	$(PY) -m bench.chaos $(BENCH_ARGS)

bench-inbox: $(STAMP)  ## inbox, order and monitor reads over 1,000,000 tasks and 300,000 orders on PostgreSQL, alone and 8 at a time (BENCH_ARGS="--tasks 100000 --orders 30000" for a smaller run)
	$(PY) -m bench.inbox $(BENCH_ARGS)

bench-scaleout: $(STAMP)  ## one worker process against two on PostgreSQL, beside bare Temporal doing the same (BENCH_ARGS="--orders 300")
	$(PY) -m bench.scaleout $(BENCH_ARGS)

bench-webhooks: $(STAMP)  ## signed webhook deliveries/s and latency vs /healthz, against a running API (URL=..., BENCH_ARGS="--rate 50 --duration 20" for a fixed rate)
	$(PY) -m bench.webhooks --url $(or $(URL),http://127.0.0.1:8000) $(BENCH_ARGS)

clean:  ## remove the virtual environment and local data
	rm -rf $(VENV) .data
