/**
 * Echo server of the echo benchmark, on netws, for Deno and Bun (Node runs the same code compiled:
 * see `netws_node.mjs`). Echoes every message whole with its opcode; limits leave room for a 1 MiB
 * message sent as 128 fragments.
 *
 * ```sh
 * deno run -A bench/servers/netws.ts 9001
 * bun bench/servers/netws.ts 9001
 * ```
 *
 * The port comes from the first argument or `PORT` (default 9001). Prints `listening <port>` once
 * ready. Stops on SIGTERM or SIGINT. `ECHO_MAX_MESSAGE` sets the message and frame limit (default
 * 2 MiB) and `ECHO_MAX_BUFFERED` the send queue's limit (default: netws' own); `ECHO_DEFLATE=1`
 * negotiates permessage-deflate and compresses every message. `ECHO_MEMORY_LOG=<file>` appends
 * `process.memoryUsage()` to that file as a JSON line every 20 ms (the hostile benchmark reads it).
 * `NETWS_LISTEN=node` runs it on the node:net adapter (on Deno and Bun too) instead of the
 * runtime's own.
 *
 * @module
 */

import { appendFileSync } from "node:fs";
import { serve } from "../../mod.ts";

const MIB = 1024 * 1024;

// Deno and Bun both provide Node's `process` as a global.
const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);

// The hostile benchmark (bench/hostile.mjs) sets larger limits, or a smaller send queue.
const maxMessageSize = Number(process.env.ECHO_MAX_MESSAGE ?? 2 * MIB);
const maxBuffered = process.env.ECHO_MAX_BUFFERED;

const listen = process.env.NETWS_LISTEN === "node"
  ? (await import("../../src/adapters/node/net.ts")).listen
  : undefined;

const server = serve({
  port,
  hostname: "127.0.0.1",
  ...(listen === undefined ? {} : { listen }),
  maxMessageSize,
  maxFrameSize: maxMessageSize,
  maxFragments: 4096,
  ...(maxBuffered === undefined ? {} : { maxBufferedAmount: Number(maxBuffered) }),
  // The compression benchmark (bench/deflate.sh): compress every message, however small.
  ...(process.env.ECHO_DEFLATE === "1" ? { perMessageDeflate: { threshold: 0 } } : {}),
  onConnect(conn) {
    conn.on("text", (c, text) => c.sendText(text));
    conn.on("binary", (c, data) => c.sendBinary(data));
  },
  onError(error) {
    console.error("netws echo server:", error);
  },
});
await server.ready;

// The hostile benchmark: where the memory is (heap, array buffers, other) while a case runs.
// With ECHO_MEMORY_GC=1 a full collection runs before every fifth sample (and the sample says
// so): what is still live, as against garbage not yet collected. Node and Deno need --expose-gc.
const memoryLog = process.env.ECHO_MEMORY_LOG;
if (memoryLog) {
  const runtime = globalThis as unknown as { gc?: () => void; Bun?: { gc(full: boolean): void } };
  const collect = process.env.ECHO_MEMORY_GC !== "1"
    ? undefined
    : runtime.Bun === undefined
    ? runtime.gc
    : () => runtime.Bun!.gc(true);
  let samples = 0;
  setInterval(() => {
    const gc = collect !== undefined && samples++ % 5 === 0;
    if (gc) collect();
    appendFileSync(memoryLog, JSON.stringify({ ...process.memoryUsage(), gc }) + "\n");
  }, 20);
}
console.log(`listening ${server.port}`);

// Exit normally on a signal, so that a profiler (--cpu-prof) writes its profile.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
