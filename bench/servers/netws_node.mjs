// Echo server of the echo benchmark, on netws, for Node: the same server as netws.ts, importing
// the compiled package whose mod.js `NETWS_MODULE` points at (bench/echo.sh builds it).
//
//   NETWS_MODULE=/path/to/npm/mod.js node bench/servers/netws_node.mjs 9001
//
// The port comes from the first argument or PORT (default 9001). Prints `listening <port>`.
// ECHO_MAX_MESSAGE, ECHO_MAX_BUFFERED, ECHO_DEFLATE and ECHO_MEMORY_LOG as in netws.ts.

import { appendFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const MIB = 1024 * 1024;
const modulePath = process.env.NETWS_MODULE;
if (!modulePath) {
  console.error("netws_node.mjs: set NETWS_MODULE to the built mod.js");
  process.exit(1);
}
const { serve } = await import(pathToFileURL(modulePath).href);
const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);

// The hostile benchmark (bench/hostile.mjs) sets larger limits, or a smaller send queue.
const maxMessageSize = Number(process.env.ECHO_MAX_MESSAGE ?? 2 * MIB);
const maxBuffered = process.env.ECHO_MAX_BUFFERED;

const server = serve({
  port,
  hostname: "127.0.0.1",
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
  const runtime = globalThis;
  const collect = process.env.ECHO_MEMORY_GC !== "1"
    ? undefined
    : runtime.Bun === undefined
    ? runtime.gc
    : () => runtime.Bun.gc(true);
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
