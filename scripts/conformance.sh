#!/usr/bin/env bash
# Run the official MCP conformance suite against examples/everything.py over Streamable HTTP.
#
#   scripts/conformance.sh            # both eras: 2025-11-25 and 2026-07-28
#   SPEC_VERSIONS=2026-07-28 scripts/conformance.sh
#   CONFORMANCE_SERVER=path/to/server.py scripts/conformance.sh   # another fixture server
#   SCENARIOS="server-stateless json-schema-2020-12" SPEC_VERSIONS=2026-07-28 scripts/conformance.sh
#                                     # only these scenarios; results in conformance/results/RESULTS.md
#
# Installs Node 22 (npm package `node@22`; the machine's Node may be older) and
# @modelcontextprotocol/conformance, pinned, into .tools/ (gitignored); starts the
# server on a free 127.0.0.1 port; runs `server --suite all --spec-version V` for
# each era; for 2026-07-28 also runs the suite's tasks-* extension scenarios (the
# io.modelcontextprotocol/tasks extension; `--suite all` leaves extension scenarios
# out), reported as "2026-07-28+tasks"; writes per-scenario results to
# conformance/RESULTS.md. EXTENSIONS=0 skips them. Exits non-zero
# when a scenario fails that conformance/expected-failures.yml does not list (or
# when a listed one passes: the baseline is then stale), as the suite itself does.
set -euo pipefail

SPEC_VERSIONS="${SPEC_VERSIONS:-2025-11-25 2026-07-28}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
SERVER_SCRIPT="${CONFORMANCE_SERVER:-examples/everything.py}"
SCENARIOS="${SCENARIOS:-}"
EXTENSIONS="${EXTENSIONS:-1}"
RESULTS="$ROOT/conformance/RESULTS.md"
if [[ "$SERVER_SCRIPT" != "examples/everything.py" ]]; then
    RESULTS="$ROOT/conformance/RESULTS-$(basename "$SERVER_SCRIPT" .py).md"
fi
OUT="$ROOT/conformance/results"
if [[ -n "$SCENARIOS" ]]; then
    RESULTS="$OUT/RESULTS.md"  # a partial run never replaces the committed report
fi
source "$ROOT/scripts/conformance-tools.sh"  # the pins: Node and the suite

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT/mcp"
LOG="$(mktemp)"
"$PY" "$ROOT/$SERVER_SCRIPT" --transport http --host 127.0.0.1 --port "$PORT" >"$LOG" 2>&1 &
SERVER=$!
cleanup() {
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -f "$LOG"
}
trap cleanup EXIT

for _ in $(seq 100); do
    if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
        break
    fi
    kill -0 "$SERVER" 2>/dev/null || { cat "$LOG" >&2; echo "conformance: server exited" >&2; exit 1; }
    sleep 0.1
done

rm -rf "$OUT"
status=0
for version in $SPEC_VERSIONS; do
    echo "conformance: spec $version against $URL"
    if [[ -z "$SCENARIOS" ]]; then
        "$NODE" "$SUITE" server --url "$URL" --suite all --spec-version "$version" \
            --expected-failures "$ROOT/conformance/expected-failures.yml" \
            -o "$OUT/$version" >"$OUT.$version.log" 2>&1 || status=$?
        sed -n '/=== SUMMARY ===/,$p' "$OUT.$version.log"
    else
        : >"$OUT.$version.log"
        for scenario in $SCENARIOS; do
            "$NODE" "$SUITE" server --url "$URL" --scenario "$scenario" --spec-version "$version" \
                -o "$OUT/$version" >>"$OUT.$version.log" 2>&1 || status=$?
        done
        grep -E '^(Passed|Failed|Error)|FAILURE|WARNING' "$OUT.$version.log" || true
    fi
    mv "$OUT.$version.log" "$OUT/$version/run.log"
done

REPORTED="$SPEC_VERSIONS"
if [[ -z "$SCENARIOS" && "$EXTENSIONS" == 1 && " $SPEC_VERSIONS " == *" 2026-07-28 "* ]]; then
    # Extension scenarios run at their own default wire (2026-07-28), one by one.
    TASKS="$("$NODE" "$SUITE" list | sed -nE 's/^ *- (tasks-[a-z0-9-]+) \[extension\].*/\1/p')"
    EXT_DIR="$OUT/2026-07-28+tasks"
    mkdir -p "$EXT_DIR"
    echo "conformance: tasks extension scenarios against $URL"
    for scenario in $TASKS; do
        "$NODE" "$SUITE" server --url "$URL" --scenario "$scenario" -o "$EXT_DIR" \
            >>"$EXT_DIR/run.log" 2>&1 || status=$?
    done
    grep -E '^(Passed|Failed|Error)|FAILURE|WARNING' "$EXT_DIR/run.log" || true
    REPORTED="$SPEC_VERSIONS 2026-07-28+tasks"
fi

"$PY" "$ROOT/conformance/report.py" "$OUT" "$RESULTS" \
    --suite-version "$CONFORMANCE_VERSION" --server "$SERVER_SCRIPT" $REPORTED
exit "$status"
