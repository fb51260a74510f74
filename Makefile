# Audience: two commands on a fresh Debian machine with a Swift 6 toolchain.
#   make run    installs what is missing, builds (release), starts audienced on ./audience.sock
#   make test   installs what the tests need, checks generated code, runs every test
SHELL := /bin/bash
SOCKET ?= ./audience.sock
DATA_DIR ?= ./data
DEBIAN_PACKAGES := libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libmongoc-dev libbson-dev \
	libsqlite3-dev pkg-config python3-venv python3-pip
VENV := .venv
PYTHON := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build build-debug run test test-swift test-python venv check-generated generate clean help bench-analytics bench-query bench-ingest crash-test fuzz

all: build

help:
	@echo "make run             install missing packages, build release, start audienced on $(SOCKET)"
	@echo "make test            install what the tests need, check generated code, run every test"
	@echo "make build           release build (.build/release/audienced, .build/release/audience)"
	@echo "make generate        regenerate protobuf code from Protos/"
	@echo "make bench-analytics Analyze vs pandas + scikit-learn on 1,000,000 profiles (release)"
	@echo "make bench-query     segments, GetUser, index memory, restart vs PostgreSQL and SQLite (release)"
	@echo "make bench-ingest    1,000,000 records: binary stream and CSV through the CLI, vs PostgreSQL and SQLite upserts (release)"
	@echo "make crash-test      SIGKILL audienced 20 times during a 200,000-record ingest; check nothing acknowledged is lost and profile ids hold"
	@echo "make fuzz            libFuzzer on the --where parser, the CSV parser and frame/envelope decoding (FUZZ_SECONDS each, default 60)"
	@echo "make clean           remove build products"

# Installs only the Debian packages that are missing.
deps:
	@command -v swift >/dev/null || { echo "Swift 6 is required (https://www.swift.org/install/linux/)"; exit 1; }
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build -c release --product audienced
	swift build -c release --product audience

build-debug: deps
	swift build

run: build
	@echo "audienced on $(SOCKET), data in $(DATA_DIR); try: .build/release/audience --socket $(SOCKET) health"
	exec .build/release/audienced --socket $(SOCKET) --data-dir $(DATA_DIR)

check-generated: deps
	scripts/check-generated

generate: deps
	scripts/generate-protos

test: deps check-generated venv test-swift test-python

# Python client tests, in a virtual environment, against the debug audienced built by test-swift.
venv: $(VENV)/.installed
$(VENV)/.installed: clients/python/pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e 'clients/python[test,analytics]'
	touch $@

test-python: venv
	AUDIENCE_BIN_DIR=$(CURDIR)/.build/debug $(PYTHON) -m pytest -q clients/python/tests

# The Swift tests start scripts/mongo-test-server with the venv's Python (mockupdb, mongomock).
test-swift: venv
	swift build --build-tests
	scripts/test-swift

# Benchmarks: release builds; figures are printed (and kept in docs/BENCHMARKS.md), never asserted.
bench-analytics: build venv
	$(PYTHON) bench/analytics.py --bin-dir .build/release $(BENCH_ARGS)

bench-query: build venv
	@dpkg-query -W -f='$${Status}' postgresql 2>/dev/null | grep -q "install ok installed" || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql; }
	$(PYTHON) -m pip install -q 'psycopg[binary]>=3.1'
	swift build -c release --product audience-bench
	mkdir -p bench/.build && cc -O2 -pthread -o bench/.build/echo bench/echo.c
	$(PYTHON) bench/query.py --bin-dir .build/release $(BENCH_ARGS)

bench-ingest: build venv
	@dpkg-query -W -f='$${Status}' postgresql 2>/dev/null | grep -q "install ok installed" || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql; }
	$(PYTHON) -m pip install -q 'psycopg[binary]>=3.1'
	swift build -c release --product audience-bench
	$(PYTHON) bench/ingest.py --bin-dir .build/release $(BENCH_ARGS)

crash-test: build venv
	$(PYTHON) scripts/crash-test --bin-dir .build/release $(CRASH_ARGS)

FUZZ_SECONDS ?= 60
fuzz: deps
	scripts/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf .build
