#!/usr/bin/env bash
# Run the official MCP conformance suite's client mode against trio_mcp.Client.
#
#   scripts/conformance-client.sh                          # both requirement sets
#   REQUIREMENTS=2026-07-28 scripts/conformance-client.sh
#   SCENARIOS="auth/scope-step-up sse-retry" REQUIREMENTS=2025-11-25 scripts/conformance-client.sh
#                                      # only these; results in conformance/results-client/RESULTS.md
#
# The suite (pinned in scripts/conformance-tools.sh, installed into .tools/ like the server
# run's) starts a mock server per scenario and runs conformance/client_runner.py with the
# server URL as its last argument and the scenario in MCP_CONFORMANCE_SCENARIO. Each
# requirement set runs with `client --requirements V`: exactly the scenarios the spec
# revision V requires, at V's wire (2025-11-25: initialize; 2026-07-28: stateless), plus
# the ones it runs without scoring (extensions, added after the release). The results
# go into the client section of conformance/RESULTS.md (the server section is kept).
# Exits non-zero when a required scenario fails that conformance/expected-failures.yml
# does not list under `client:` (or when a listed one passes: the baseline is stale).
set -euo pipefail

REQUIREMENTS="${REQUIREMENTS:-2025-11-25 2026-07-28}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
SCENARIOS="${SCENARIOS:-}"
# Per scenario; generous: the suite runs a set's scenarios in parallel on a small machine.
TIMEOUT_MS="${TIMEOUT_MS:-120000}"
RESULTS="$ROOT/conformance/RESULTS.md"
OUT="$ROOT/conformance/results-client"
if [[ -n "$SCENARIOS" ]]; then
    RESULTS="$OUT/RESULTS.md"  # a partial run never replaces the committed report
fi
source "$ROOT/scripts/conformance-tools.sh"  # NODE, SUITE, CONFORMANCE_VERSION

COMMAND="$PY $ROOT/conformance/client_runner.py"
rm -rf "$OUT"
mkdir -p "$OUT"
status=0
for version in $REQUIREMENTS; do
    dir="$OUT/$version"
    mkdir -p "$dir"
    echo "conformance-client: requirements $version"
    # What the set runs without scoring: "  - name [client]" under "never scored".
    "$NODE" "$SUITE" list --requirements "$version" \
        | sed -n '/never scored/,$p' \
        | awk '/^  [a-z-]+ \([0-9]+\):/ {reason = $1} /\[client\]/ {print $2, reason}' \
        >"$dir/not-scored.txt"
    if [[ -z "$SCENARIOS" ]]; then
        "$NODE" "$SUITE" client --command "$COMMAND" --requirements "$version" \
            --timeout "$TIMEOUT_MS" --expected-failures "$ROOT/conformance/expected-failures.yml" \
            -o "$dir" >"$dir.log" 2>&1 || status=$?
        sed -n '/=== SUITE SUMMARY ===/,$p' "$dir.log"
    else
        : >"$dir.log"
        for scenario in $SCENARIOS; do
            "$NODE" "$SUITE" client --command "$COMMAND" --scenario "$scenario" \
                --spec-version "$version" --timeout "$TIMEOUT_MS" -o "$dir" \
                >>"$dir.log" 2>&1 || status=$?
        done
        grep -E '^(Passed|Failed|Error)|FAILURE|WARNING|SKIPPED' "$dir.log" || true
    fi
    mv "$dir.log" "$dir/run.log"
done

"$PY" "$ROOT/conformance/report.py" --client "$OUT" "$RESULTS" \
    --suite-version "$CONFORMANCE_VERSION" $REQUIREMENTS
exit "$status"
