/**
 * An echo server that counts what it does and serves the figures to Prometheus at
 * `GET /metrics`, on the same port as its WebSocket endpoint.
 *
 * ```sh
 * deno run -A examples/metrics.ts --port 8080
 * bun run examples/metrics.ts --port 8080
 * curl http://127.0.0.1:8080/metrics
 * ```
 *
 * The application records into a {@linkcode Metrics} from the connection events here; a server
 * records into its own once topics are wired into it.
 *
 * @module
 */

import { realpathSync } from "node:fs";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { formatPrometheus, Metrics, serve, type Server } from "../mod.ts";

/** Options of {@linkcode startMetricsEcho}. */
export interface MetricsEchoOptions {
  /** Where to listen; 0 picks a free port. */
  port?: number;
  /** The address to listen on. */
  hostname?: string;
  /** Labels added to every sample, such as the worker's number. */
  labels?: Record<string, string>;
}

/** Starts the echo server; its figures are at `/metrics`. */
export function startMetricsEcho(options: MetricsEchoOptions = {}): Server {
  const metrics = new Metrics();
  const labels = options.labels ?? {};
  const bytes = (data: string | Uint8Array) =>
    typeof data === "string" ? new TextEncoder().encode(data).length : data.length;
  return serve({
    port: options.port ?? 8080,
    hostname: options.hostname ?? "127.0.0.1",
    onRequest(request) {
      if (new URL(request.url).pathname !== "/metrics") {
        return new Response("Not found", { status: 404 });
      }
      return new Response(formatPrometheus(metrics.snapshot(), { labels }), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    },
    onConnect(conn) {
      conn.on("ready", () => metrics.connectionOpened());
      conn.on("disconnect", (_conn, code) => metrics.connectionClosed(code));
      conn.on("text", (conn, text) => {
        metrics.messageIn(bytes(text));
        if (conn.sendText(text)) metrics.messageOut(bytes(text));
      });
      conn.on("binary", (conn, data) => {
        metrics.messageIn(data.length);
        if (conn.sendBinary(data)) metrics.messageOut(data.length);
      });
    },
  });
}

/** Whether this module is the program run. Node 20 has no `import.meta.main`. */
function isMain(): boolean {
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isMain()) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
    },
  });
  const server = startMetricsEcho({ port: Number(values.port), hostname: values.host });
  await server.ready;
  console.log(`echo on ws://${server.hostname}:${server.port}/, figures on /metrics`);
}
