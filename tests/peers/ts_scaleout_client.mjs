// The official TypeScript SDK client (@modelcontextprotocol/client, v2) against a deployment.
//
//   node ts_scaleout_client.mjs ERA URL CALLS
//
// ERA is "legacy" (the 2025 initialize handshake) or "modern" (pinned to 2026-07-28); URL is
// the balancer in front of the workers running tests/servers/scaleout_clients_server.py.
// It lists the tools, calls count (with progress), reads the resource, gets the prompt, calls
// whoami CALLS times, and prints one JSON object on stdout: what the SDK reported.
// tests/e2e/test_scale_out_clients.py copies it next to .tools/node_modules so that the
// import below resolves.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const [era, url, calls] = process.argv.slice(2);
const mode = era === "modern" ? { pin: "2026-07-28" } : era;
const client = new Client(
  { name: "ts-scaleout-peer", version: "1.0.0" },
  { versionNegotiation: { mode } },
);
const out = {};
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
out.serverName = client.getServerVersion()?.name ?? null;
out.era = client.getProtocolEra() ?? null;
out.version = client.getNegotiatedProtocolVersion() ?? null;
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const progress = [];
const counted = await client.callTool(
  { name: "count", arguments: { steps: 3 } },
  { onprogress: (p) => progress.push([p.progress, p.total, p.message]) },
);
out.counted = counted.content.map((c) => c.text);
out.progress = progress;
out.resource = (await client.readResource({ uri: "scaleout://motd" })).contents.map((c) => [
  c.uri,
  c.mimeType,
  c.text,
]);
out.prompt = (await client.getPrompt({ name: "greet", arguments: { name: "TS" } })).messages.map(
  (m) => [m.role, m.content.text],
);
out.pids = [];
for (let i = 0; i < Number(calls); i++) {
  const who = await client.callTool({ name: "whoami", arguments: {} });
  out.pids.push(Number(who.content[0].text));
}
await client.close();
console.log(JSON.stringify(out));
