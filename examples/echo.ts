/**
 * An echo server: every text and binary message comes back as it was sent.
 *
 * ```sh
 * deno run -A examples/echo.ts --port 8080 --max-message-size 1048576
 * bun run examples/echo.ts --port 8080
 * node npm/examples/echo.js --port 8080   # after `deno task build:npm`
 * ```
 *
 * Flags: `--port`, `--host`, `--max-frame-size`, `--max-fragments`, `--max-message-size`,
 * `--max-send-size` (bytes, or `Infinity`), `--quiet`.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { serve } from "../mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    "max-frame-size": { type: "string" },
    "max-fragments": { type: "string" },
    "max-message-size": { type: "string" },
    "max-send-size": { type: "string" },
    quiet: { type: "boolean", default: false },
  },
});

/** Reads a numeric flag; `undefined` keeps the server's default. */
function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (Number.isNaN(number)) {
    throw new RangeError(`Cannot read --${name}: "${value}" is not a number`);
  }
  return number;
}

const log = values.quiet ? () => {} : console.log;

const server = serve({
  port: numberFlag("port", values.port) ?? 8080,
  hostname: values.host ?? "127.0.0.1",
  maxFrameSize: numberFlag("max-frame-size", values["max-frame-size"]),
  maxFragments: numberFlag("max-fragments", values["max-fragments"]),
  maxMessageSize: numberFlag("max-message-size", values["max-message-size"]),
  maxSendSize: numberFlag("max-send-size", values["max-send-size"]),
  onConnect(conn) {
    conn.on("ready", (conn) => log(`connected: ${conn.ip}:${conn.port}`));
    conn.on("text", (conn, text) => conn.sendText(text));
    conn.on("binary", (conn, data) => conn.sendBinary(data));
    conn.on("disconnect", (conn, code, reason) => {
      log(`disconnected: ${conn.ip}:${conn.port} ${code} ${reason}`);
    });
  },
});

await server.ready;
console.log(`echo server listening on ws://${server.hostname}:${server.port}/`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.log("shutting down");
    server.shutdown().then(() => process.exit(0));
  });
}
