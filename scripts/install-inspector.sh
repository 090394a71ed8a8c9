#!/usr/bin/env bash
# Install the MCP Inspector CLI, the TypeScript SDK client and a Node 22 runtime into .tools/
# (idempotent).
#
# The Inspector needs Node >= 22; the npm package `node@22` ships a Node 22 binary,
# so this works on a machine whose system Node is older (npm itself is only used
# to download). After this script:
#
#   .tools/node_modules/.bin/node                      (Node 22)
#   .tools/node_modules/@modelcontextprotocol/inspector/
#
# Run the CLI as (see tests/e2e/test_inspector.py):
#
#   .tools/node_modules/.bin/node \
#       .tools/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js \
#       --cli --protocol-era legacy .venv/bin/python examples/hello.py --method tools/list
#
# TRIO_MCP_TOOLS_DIR overrides the install directory (the test reads it too).
set -euo pipefail

NODE_VERSION="${NODE_VERSION:-22.23.3}"
INSPECTOR_VERSION="${INSPECTOR_VERSION:-2.12.0}"
# The official TypeScript SDK client (v2), a test peer of tests/e2e/test_ts_sdk.py.
TS_CLIENT_VERSION="${TS_CLIENT_VERSION:-2.3.1}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TRIO_MCP_TOOLS_DIR:-$ROOT/.tools}"
STAMP="$TOOLS/.installed-node${NODE_VERSION}-inspector${INSPECTOR_VERSION}-client${TS_CLIENT_VERSION}"

if [[ -f "$STAMP" ]]; then
    echo "install-inspector: already installed in $TOOLS"
    exit 0
fi

command -v npm >/dev/null || { echo "install-inspector: npm not found" >&2; exit 1; }

mkdir -p "$TOOLS"
# A private package.json so npm installs here and not into a parent project.
[[ -f "$TOOLS/package.json" ]] || echo '{"name": "trio-mcp-tools", "private": true}' >"$TOOLS/package.json"

npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error \
    "node@${NODE_VERSION}" "@modelcontextprotocol/inspector@${INSPECTOR_VERSION}" \
    "@modelcontextprotocol/client@${TS_CLIENT_VERSION}"

NODE="$TOOLS/node_modules/.bin/node"
"$NODE" --version | grep -q '^v22\.' || { echo "install-inspector: $NODE is not Node 22" >&2; exit 1; }

rm -f "$TOOLS"/.installed-*
touch "$STAMP"
echo "install-inspector: Node $("$NODE" --version), inspector ${INSPECTOR_VERSION}, TypeScript client ${TS_CLIENT_VERSION} in $TOOLS"
