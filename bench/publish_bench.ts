/**
 * The cost of `server.publish` itself, without sockets: a server with `listen: false` takes
 * in-memory transports whose `write` only counts the bytes, completes their handshakes, subscribes
 * them all to one topic, and publishes. Each publish is followed by a microtask turn, so every
 * connection's queue is written once per publish, as when publishes come from separate messages.
 *
 * ```sh
 * deno run -A bench/publish_bench.ts            # every case
 * bun bench/publish_bench.ts plain               # ids containing "plain"
 * ROUNDS=7 deno run -A bench/publish_bench.ts    # more timed runs per case (default 5)
 * ```
 *
 * Cases: `plain-1000x64B` and `plain-1000x16KiB` (no compression negotiated), and, where the
 * server supports it, `deflate-shared-1000x1KiB` (every client asked for
 * `server_no_context_takeover`: one compression per publish) and `deflate-own-100x1KiB` (context
 * takeover: one per subscriber). Prints one JSON line per case: deliveries per second (the median
 * and the best of the timed runs: on a shared machine the best is the steadier figure), and the
 * bytes written per publish.
 *
 * @module
 */

import { serve } from "../mod.ts";
import type { Transport, TransportSink } from "../src/connection/transport.ts";

const ROUNDS = Number(
  (globalThis as { process?: { env: Record<string, string> } }).process?.env
    .ROUNDS ?? 5,
);
const filter = (globalThis as { process?: { argv: string[] } }).process?.argv[2] ?? "";
const runtime = "Deno" in globalThis
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : "Bun" in globalThis
  ? `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `node ${(globalThis as unknown as { process: { version: string } }).process.version}`;

/** A transport that accepts every write at once and counts its bytes. */
class CountingTransport implements Transport {
  readonly remoteAddr = { hostname: "127.0.0.1", port: 40000 };
  readonly bufferedAmount = 0;
  written = 0;
  sink: TransportSink | undefined;
  write(vector: Uint8Array[]): boolean {
    for (const buffer of vector) this.written += buffer.length;
    return true;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
  destroy(): void {
    queueMicrotask(() => this.sink?.onClose());
  }
}

function upgradeRequest(extensions: string | undefined): Uint8Array {
  const lines = [
    "GET / HTTP/1.1",
    "Host: 127.0.0.1",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    ...(extensions === undefined ? [] : [`Sec-WebSocket-Extensions: ${extensions}`]),
  ];
  return new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
}

interface Case {
  id: string;
  subscribers: number;
  size: number;
  publishes: number;
  deflate: boolean;
  extensions?: string;
}

const CASES: Case[] = [
  { id: "plain-1000x64B", subscribers: 1000, size: 64, publishes: 5000, deflate: false },
  { id: "plain-1000x16KiB", subscribers: 1000, size: 16384, publishes: 300, deflate: false },
  {
    id: "deflate-shared-1000x1KiB",
    subscribers: 1000,
    size: 1024,
    publishes: 300,
    deflate: true,
    extensions: "permessage-deflate; server_no_context_takeover",
  },
  {
    id: "deflate-own-100x1KiB",
    subscribers: 100,
    size: 1024,
    publishes: 100,
    deflate: true,
    extensions: "permessage-deflate",
  },
];

/** JSON-like text that compresses about as chat messages do. */
function message(size: number): Uint8Array {
  const text = JSON.stringify({
    type: "message",
    user: "someone",
    text: "hello there ".repeat(size),
  })
    .slice(0, size);
  return new TextEncoder().encode(text);
}

async function run(c: Case): Promise<{ perSecond: number; bytesPerPublish: number }> {
  const server = serve({
    listen: false,
    silenceMax: 0,
    ...(c.deflate ? { perMessageDeflate: { threshold: 0 } } : {}),
    onConnect: (conn) => conn.on("ready", (conn) => conn.subscribe("all")),
  });
  await server.ready;
  const transports: CountingTransport[] = [];
  const request = upgradeRequest(c.extensions);
  for (let i = 0; i < c.subscribers; i++) {
    const transport = new CountingTransport();
    transport.sink = server.accept(transport);
    transport.sink.onData(request.slice());
    transports.push(transport);
  }
  const deadline = Date.now() + 5000;
  while (server.subscriberCount("all") < c.subscribers) {
    if (Date.now() > deadline) throw new Error("Cannot bench: the handshakes did not complete");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const data = message(c.size);
  const sum = () => transports.reduce((total, t) => total + t.written, 0);
  const idle = async () => {
    // Compressed publishes leave after their compression settles: wait for the bytes to stop.
    let last = -1;
    while (sum() !== last) {
      last = sum();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  for (let i = 0; i < Math.min(100, c.publishes); i++) {
    server.publish("all", data);
    await null;
  }
  await idle();
  const before = sum();
  const start = performance.now();
  for (let i = 0; i < c.publishes; i++) {
    server.publish("all", data);
    await null;
  }
  if (c.deflate) await idle();
  const seconds = (performance.now() - start) / 1000;
  await idle();
  const bytesPerPublish = (sum() - before) / c.publishes;
  // The transports never answer a close frame: drop them rather than wait for closeTimeout.
  for (const conn of server.connections) conn.abort();
  await server.shutdown();
  return { perSecond: (c.publishes * c.subscribers) / seconds, bytesPerPublish };
}

for (const c of CASES) {
  if (!c.id.includes(filter)) continue;
  const rates: number[] = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { perSecond, bytesPerPublish } = await run(c);
    rates.push(perSecond);
    bytes = bytesPerPublish;
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  console.log(JSON.stringify({
    runtime,
    id: c.id,
    deliveriesPerSecond: Math.round(median),
    best: Math.round(rates.at(-1)!),
    bytesPerPublish: Math.round(bytes),
    rounds: ROUNDS,
  }));
}
