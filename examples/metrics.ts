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
 * The figures are the server's own (`server.metrics`): connections, messages and frame bytes in
 * and out, publishes, drops, compressions, closes by code. This echo server also publishes every
 * message to the "echo" topic: a client that sends `subscribe` (answered `subscribed`) gets the
 * others' messages too.
 *
 * @module
 */

import { realpathSync } from "node:fs";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { formatPrometheus, serve, type Server } from "../mod.ts";

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
  const labels = options.labels ?? {};
  const server: Server = serve({
    port: options.port ?? 8080,
    hostname: options.hostname ?? "127.0.0.1",
    onRequest(request) {
      if (new URL(request.url).pathname !== "/metrics") {
        return new Response("Not found", { status: 404 });
      }
      return new Response(formatPrometheus(server.metrics, { labels }), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    },
    onConnect(conn) {
      conn.on("text", (conn, text) => {
        if (text === "subscribe") {
          conn.subscribe("echo");
          conn.sendText("subscribed");
          return;
        }
        conn.sendText(text);
        conn.publish("echo", text);
      });
      conn.on("binary", (conn, data) => {
        conn.sendBinary(data);
        conn.publish("echo", data);
      });
    },
  });
  return server;
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
