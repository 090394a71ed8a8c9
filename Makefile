# trio_mcp: every set-up step lives here. `make demo` and `make test` work on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest redis-server bench bench-http clean inspector docs conformance conformance-client wheel-check

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check trio_mcp tests examples benchmarks
	$(BIN)/ruff format --check trio_mcp tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy trio_mcp

pytest: $(STAMP) redis-server
	$(BIN)/pytest -q

# The scale-out tests (TRIO_MCP_REDIS_URL) start a real redis-server of their own (Debian
# package, installed here when missing; tests/_support/redis.py).
redis-server:
	command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

clean:
	rm -rf $(VENV) build dist site *.egg-info .mypy_cache .ruff_cache

# The install a user without a clone gets (README, "From a wheel"): build the wheel,
# install it into a fresh venv outside the source tree, then `trio-mcp --version` and
# the hello world as a subprocess over stdio with that venv's CLI as its client.
WHEEL_DIR := build/wheel-check
wheel-check: $(STAMP)
	rm -rf dist $(WHEEL_DIR)
	$(BIN)/python -m pip install -q --disable-pip-version-check build
	$(BIN)/python -m build --wheel --outdir dist .
	$(PY) -m venv $(WHEEL_DIR)/venv
	$(WHEEL_DIR)/venv/bin/python -m pip install -q --disable-pip-version-check dist/trio_mcp-*.whl
	cp examples/hello.py $(WHEEL_DIR)/hello.py
	cd $(WHEEL_DIR) && venv/bin/python -c "import trio_mcp, sys; assert '/venv/' in trio_mcp.__file__, trio_mcp.__file__"
	cd $(WHEEL_DIR) && test "$$(venv/bin/trio-mcp --version)" = "trio-mcp $$(venv/bin/python -c 'import trio_mcp; print(trio_mcp.__version__)')"
	cd $(WHEEL_DIR) && test "$$(venv/bin/trio-mcp call "$$PWD/venv/bin/python hello.py" add a=1 b=2)" = "3.0"
	@echo "wheel-check: $$(ls dist/*.whl) installs, runs trio-mcp --version and the hello world over stdio"

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Quick profile (< 5 min). `make bench ARGS=--full` runs everything.
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run $(ARGS)

# HTTP (benchmarks/http_bench.py): wrk (Debian package, installed here when missing) drives a
# modern-era stateless POST tools/call echo at 1, 16, 64 connections against trio_mcp's native
# server, trio_mcp on Hypercorn and the official SDK (uvicorn). `make bench-http ARGS=--update-readme`.
bench-http: $(BENCH_STAMP)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m benchmarks.http_bench $(ARGS)

# The MCP Inspector CLI (npm, with Node 22 from the node@22 package) drives examples/hello.py;
# the official TypeScript SDK client drives examples/everything.py over stdio and HTTP.
inspector: $(STAMP)
	scripts/install-inspector.sh
	$(BIN)/pytest -q tests/e2e/test_inspector.py tests/e2e/test_ts_sdk.py

DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,docs]'
	touch $(DOCS_STAMP)

# MkDocs (Material + mkdocstrings) into site/, warnings as errors.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The official MCP conformance suite (pinned) against examples/everything.py over HTTP,
# both eras; per-scenario results in conformance/RESULTS.md.
conformance: $(STAMP)
	scripts/conformance.sh

# The suite's client mode against trio_mcp.Client (conformance/client_runner.py), OAuth
# included, for the 2025-11-25 and 2026-07-28 requirement sets; results beside the server's.
conformance-client: $(STAMP)
	scripts/conformance-client.sh

# Issue 7, the heavy runs of tests/stress (~1 min): 100,000 sequential + 100,000 pipelined
# calls (RSS after warm-up vs end), 10,000 concurrent sleeps cancelled (x5; tasks, threads,
# memory return), exactly-once over 3 x 30,000 randomized requests. Figures are printed.
.PHONY: stress
stress: $(STAMP)
	TRIO_MCP_STRESS=1 $(BIN)/pytest -q -s tests/stress
