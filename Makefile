# The hub's commands. Quickstart: `make run`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check test-unit test-integration test-clock-ahead bench bench-ingest bench-store bench-trends bench-api bench-national fmt deps-test clean help

help:
	@echo "make run    start the whole hub (broker, API, bridge, simulated fleet)"
	@echo "make test   install test dependencies and run the whole test suite"
	@echo "make check  lint, format check and type check"
	@echo "make bench  benchmarks (ratios against a baseline measured in the same run)"
	@echo "make bench-api  the patient page's calls at 16 clients, idle and under ingestion"
	@echo "make bench-national  a national minute: 10,000 gateways of one simulator, 3,300 readings/s"

# The patient page's charting library (uPlot) comes from the npm registry, pinned by
# api/web/package-lock.json; the API serves it from api/web/node_modules (no CDN).
$(STAMP): pyproject.toml api/web/package-lock.json
	@command -v npm >/dev/null || { echo "please install Node.js 20+ (npm) for the patient page's charting library"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,embedded-broker]'
	npm ci --prefix api/web --no-audit --no-fund --loglevel=error
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hub up

# Installs the Debian packages the integration tests run for real (Mosquitto, InfluxDB,
# PostgreSQL, Chromium for the browser test) when missing, as root; otherwise it says what
# to install.
deps-test:
	@missing=""; \
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto mosquitto-clients"; \
	command -v influxd >/dev/null || missing="$$missing influxdb"; \
	ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing="$$missing faketime"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	bare=""; \
	command -v docker-compose >/dev/null || bare="$$bare docker-compose"; \
	command -v promtool >/dev/null || bare="$$bare prometheus"; \
	if [ ! -d tests/fhir_validator/node_modules ]; then \
	  command -v npm >/dev/null || { echo "please install Node.js 20+ (npm) for the FHIR validator"; exit 1; }; \
	  npm ci --prefix tests/fhir_validator --no-audit --no-fund --loglevel=error; \
	fi; \
	if [ -n "$$missing$$bare" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing$$bare"; \
	    apt-get update -qq; \
	    [ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    [ -z "$$bare" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$bare >/dev/null; \
	  else \
	    echo "please install:$$missing$$bare (Debian packages)"; exit 1; \
	  fi; \
	fi

# Coverage of the four packages, measured in the test process (the hub processes the
# integration tests start run unmeasured, at full speed); fully covered files are not listed.
COVERAGE := --cov=hub --cov=api --cov=device_profiles --cov=gateway_firmware_sim \
	--cov-report=term:skip-covered

test: $(STAMP) deps-test
	$(BIN)/pytest $(COVERAGE)
	$(MAKE) --no-print-directory test-clock-ahead

# The time-sensitive suites again, with the clock of every process moved two years ahead
# (libfaketime): no test may depend on the calendar. docs/testing.md explains the shim.
CLOCK_AHEAD_SUITES := tests/unit/test_pipeline.py tests/unit/test_timekeeping.py \
	tests/unit/test_provider_clocks.py \
	tests/integration/test_slice.py tests/integration/test_fleet.py
test-clock-ahead: $(STAMP) deps-test
	tests/clock_ahead/run --ahead 730d $(CLOCK_AHEAD_SUITES)

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: $(STAMP) deps-test
	$(BIN)/pytest tests/integration

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: bench-ingest bench-store bench-trends bench-api bench-national

# The bridge against mosquitto_sub and a bare paho subscriber on the same backlog (ratios).
bench-ingest: $(STAMP) deps-test
	$(BIN)/python -m bench.ingest $(BENCH_ARGS)

bench-store: $(STAMP) deps-test
	$(BIN)/python -m bench.store $(BENCH_ARGS)

# The patient page's calls (trends, summaries, alerts) against the store reads they make.
bench-trends: $(STAMP)
	$(BIN)/python -m bench.trends $(TRENDS_ARGS)

# The API server under 16 concurrent clients, idle and while a writer ingests 3,300 readings/s.
bench-api: $(STAMP)
	$(BIN)/python -m bench.api_load $(BENCH_API_ARGS)

# A national minute: 10,000 gateways of one simulator process, 3,300 CGM readings/s, 60 s.
bench-national: $(STAMP) deps-test
	$(BIN)/python -m bench.national $(BENCH_NATIONAL_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage .coverage.*
