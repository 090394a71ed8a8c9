# Sourced by scripts/conformance.sh and scripts/conformance-client.sh: the pinned Node 22 and
# @modelcontextprotocol/conformance, installed once into .tools/ (gitignored). Sets NODE, SUITE,
# NODE_VERSION, CONFORMANCE_VERSION and TOOLS. Needs ROOT.
NODE_VERSION="${NODE_VERSION:-22.23.3}"
CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-0.2.0-alpha.12}"
TOOLS="${TRIO_MCP_TOOLS_DIR:-$ROOT/.tools}"
STAMP="$TOOLS/.conformance-node${NODE_VERSION}-suite${CONFORMANCE_VERSION}"

if [[ ! -f "$STAMP" ]]; then
    command -v npm >/dev/null || { echo "conformance: npm not found" >&2; exit 1; }
    mkdir -p "$TOOLS"
    [[ -f "$TOOLS/package.json" ]] || echo '{"name": "trio-mcp-tools", "private": true}' >"$TOOLS/package.json"
    npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error \
        "node@${NODE_VERSION}" "@modelcontextprotocol/conformance@${CONFORMANCE_VERSION}"
    rm -f "$TOOLS"/.conformance-*
    touch "$STAMP"
fi
NODE="$TOOLS/node_modules/.bin/node"
SUITE="$TOOLS/node_modules/@modelcontextprotocol/conformance/dist/index.js"
"$NODE" --version | grep -q '^v22\.' || { echo "conformance: $NODE is not Node 22" >&2; exit 1; }
