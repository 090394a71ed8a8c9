// The official TypeScript SDK client (@modelcontextprotocol/client, v2) as a test peer.
//
//   node ts_client.mjs ERA TARGET...
//
// ERA is "legacy" (the 2025 initialize handshake), "modern" (pinned to 2026-07-28) or
// "auto" (server/discover first). TARGET is an http(s):// URL or a command line (stdio).
// Against examples/everything.py: it lists the tools, calls two of them (one with progress), calls an unknown tool, and prints one JSON
// object on stdout: what the SDK reported. tests/e2e/test_ts_sdk.py copies it next to
// .tools/node_modules so that the import below resolves.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const [era, ...target] = process.argv.slice(2);
const mode = era === "modern" ? { pin: "2026-07-28" } : era;
const client = new Client(
  { name: "ts-peer", version: "1.0.0" },
  { versionNegotiation: { mode } },
);
const transport = target[0].startsWith("http")
  ? new StreamableHTTPClientTransport(new URL(target[0]))
  : new StdioClientTransport({ command: target[0], args: target.slice(1), stderr: "inherit" });

const out = {};
await client.connect(transport);
out.serverName = client.getServerVersion()?.name ?? null;
out.era = client.getProtocolEra() ?? null;
out.version = client.getNegotiatedProtocolVersion() ?? null;
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const simple = await client.callTool({ name: "test_simple_text", arguments: {} });
out.simple = simple.content.map((c) => c.text);
const progress = [];
const counted = await client.callTool(
  { name: "test_tool_with_progress", arguments: {} },
  { onprogress: (p) => progress.push(p.progress) },
);
out.progress = progress;
out.progressResult = counted.content.map((c) => c.text);
try {
  await client.callTool({ name: "nosuch", arguments: {} });
  out.unknown = "no error";
} catch (err) {
  out.unknown = { code: err.code ?? null, message: String(err.message) };
}
await client.close();
console.log(JSON.stringify(out));
