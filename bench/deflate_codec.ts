/**
 * The permessage-deflate codec on its own, for a stream of ~190-byte chat messages in JSON: time
 * per message (median of 3 rounds after a warm-up) and wire bytes; and, with `memory W M`, the
 * memory per connection for window W and memLevel M, measured in a fresh process.
 *
 *   node_modules/.bin/deno run -A --v8-flags=--expose-gc bench/deflate_codec.ts
 *   node_modules/.bin/bun bench/deflate_codec.ts
 *   for s in "12 5" "15 8"; do node_modules/.bin/bun bench/deflate_codec.ts memory $s; done
 *   node_modules/.bin/bun bench/deflate_codec.ts memory 12 5 ws   # ws's codec, the same way
 *
 * Each case runs with the runtime's engine ("as shipped", `DEFAULT_ENGINE`) and, for comparison,
 * the stream engine; `ENGINE=stream` or `ENGINE=window` picks the shipped one (also for `memory`).
 * Prints Markdown table rows. Short on purpose (a few seconds).
 *
 * @module
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { constants, createDeflateRaw, deflateRawSync } from "node:zlib";
import { DEFAULT_ENGINE, zlibCompression, type ZlibEngine } from "../src/adapters/zlib/mod.ts";
import type { CompressorOptions } from "../src/connection/compression.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
// ENGINE=stream or ENGINE=window picks the codec's engine; by default the runtime's.
const engine = process.env.ENGINE as ZlibEngine | undefined;
const factory = zlibCompression({ concurrency: Infinity, ...(engine ? { engine } : {}) });
const streams = zlibCompression({ concurrency: Infinity, engine: "stream" });
const encoder = new TextEncoder();
const DEFAULTS = { windowBits: 12, memLevel: 5, level: 6 };

let seed = 1;
const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
const names = ["alice", "bob", "carol", "dave", "erin"];
const words = ["hello", "there", "meeting", "tomorrow", "lunch", "deploy", "the", "build", "is"];
const messages = Array.from({ length: 2000 }, (_, i) => {
  const text = Array.from({ length: 12 + rnd(20) }, () => words[rnd(words.length)]).join(" ");
  const user = names[rnd(names.length)];
  return encoder.encode(JSON.stringify({ type: "message", room: "general", user, id: i, text }));
});
const plain = messages.reduce((sum, message) => sum + message.length, 0);

interface Row {
  us: number;
  wire: number;
}

// Memory per connection: a compressor and a decompressor each, idle or after one 64 KiB message.
const gc = (globalThis as { gc?: () => void }).gc ??
  (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc.bind(null, true);

const args = process.argv.slice(2);
if (args[0] === "memory") await memory(Number(args[1]), Number(args[2]));
else await timing();

async function timing(): Promise<void> {
  const takeover = { ...DEFAULTS, noContextTakeover: false };
  const reset = { ...DEFAULTS, noContextTakeover: true };
  const cases: Array<[string, () => Promise<Row>]> = [
    ["compress, context takeover (stream engine)", () => compressRun(takeover, streams)],
    ["compress, context takeover (as shipped)", () => compressRun(takeover)],
    ["compress, no context takeover (stream engine)", () => compressRun(reset, streams)],
    ["compress, no context takeover (as shipped)", () => compressRun(reset)],
    ["compress, no context takeover, raw zlib stream + reset", () => rawStreamReset()],
    ["compress, no context takeover, raw zlib sync call", () => rawSync()],
    [
      "compress, context takeover, window 15 / memLevel 8",
      () => compressRun({ windowBits: 15, memLevel: 8, level: 6, noContextTakeover: false }),
    ],
    ["inflate, context takeover (stream engine)", () => decompressRun(takeover, streams)],
    ["inflate, context takeover (as shipped)", () => decompressRun(takeover)],
    ["inflate, no context takeover (stream engine)", () => decompressRun(reset, streams)],
    ["inflate, no context takeover (as shipped)", () => decompressRun(reset)],
  ];
  for (const [, run] of cases) await run(); // warm-up
  const rounds: Row[][] = [];
  for (let round = 0; round < 3; round++) {
    const rows: Row[] = [];
    for (const [, run] of cases) rows.push(await run());
    rounds.push(rows);
  }
  console.log(
    `\n${runtime} (shipped engine ${engine ?? DEFAULT_ENGINE}): ${messages.length} messages, ` +
      `${Math.round(plain / messages.length)} B`,
  );
  console.log("\n| case | µs per message | wire bytes |\n| --- | ---: | ---: |");
  cases.forEach(([name], i) => {
    const times = rounds.map((rows) => rows[i]!.us).sort((a, b) => a - b);
    const share = (100 * rounds[0]![i]!.wire / plain).toFixed(1);
    console.log(`| ${name} | ${times[1]!.toFixed(1)} | ${share}% |`);
  });
}

async function compressRun(options: CompressorOptions, codecs = factory): Promise<Row> {
  const compressor = codecs.createCompressor(options);
  let wire = 0;
  const start = performance.now();
  for (const message of messages) wire += (await compressor.compress(message)).length;
  const us = (performance.now() - start) * 1000 / messages.length;
  compressor.close();
  return { us, wire };
}

async function decompressRun(options: CompressorOptions, codecs = factory): Promise<Row> {
  const compressor = codecs.createCompressor(options);
  const compressed: Uint8Array[] = [];
  for (const message of messages) compressed.push(await compressor.compress(message));
  compressor.close();
  const decompressor = codecs.createDecompressor({
    windowBits: options.windowBits,
    noContextTakeover: options.noContextTakeover,
  });
  const start = performance.now();
  for (const payload of compressed) await decompressor.decompress([payload], 1 << 20);
  const us = (performance.now() - start) * 1000 / messages.length;
  decompressor.close();
  return { us, wire: compressed.reduce((sum, part) => sum + part.length, 0) };
}

async function rawStreamReset(): Promise<Row> {
  const deflate = createDeflateRaw(DEFAULTS);
  let wire = 0;
  deflate.on("data", (chunk: Uint8Array) => (wire += chunk.length));
  const start = performance.now();
  for (const message of messages) {
    deflate.write(message);
    await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    deflate.reset();
    wire -= 4;
  }
  const us = (performance.now() - start) * 1000 / messages.length;
  deflate.close();
  return { us, wire };
}

function rawSync(): Promise<Row> {
  let wire = 0;
  const start = performance.now();
  for (const message of messages) {
    wire += deflateRawSync(message, { ...DEFAULTS, finishFlush: constants.Z_SYNC_FLUSH }).length -
      4;
  }
  const us = (performance.now() - start) * 1000 / messages.length;
  return Promise.resolve({ us, wire });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** ws's own codec (its package exports do not list it), server side, for the same measure. */
interface WsDeflate {
  accept(offers: Record<string, unknown>[]): unknown;
  compress(
    data: Uint8Array,
    fin: boolean,
    callback: (error: unknown, out: Uint8Array) => void,
  ): void;
  decompress(
    data: Uint8Array,
    fin: boolean,
    callback: (error: unknown, out: Uint8Array) => void,
  ): void;
  cleanup(): void;
}
function wsCodec(windowBits: number, memLevel: number): WsDeflate {
  const require = createRequire(import.meta.url);
  const path = join(dirname(require.resolve("ws/package.json")), "lib", "permessage-deflate.js");
  const PerMessageDeflate = require(path) as new (options: Record<string, unknown>) => WsDeflate;
  const codec = new PerMessageDeflate({
    serverMaxWindowBits: windowBits,
    clientMaxWindowBits: windowBits,
    zlibDeflateOptions: { memLevel, level: 6 },
    isServer: true,
    maxPayload: 1 << 20,
  });
  codec.accept([{ client_max_window_bits: [true] }]);
  return codec;
}

function wsCall(codec: WsDeflate, method: "compress" | "decompress", data: Uint8Array) {
  return new Promise<Uint8Array>((resolve, reject) =>
    codec[method](data, true, (error, out) => (error ? reject(error) : resolve(out)))
  );
}

async function perConnection(
  windowBits: number,
  memLevel: number,
  used: boolean,
  ws = false,
): Promise<number> {
  let text = "";
  while (text.length < 65536) text += `${words[rnd(words.length)]}${rnd(1000)} `;
  const big = encoder.encode(text);
  const count = 500;
  const held: Array<{ close(): void }> = [];
  await settle();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < count; i++) {
    if (ws) {
      const codec = wsCodec(windowBits, memLevel);
      if (used) await wsCall(codec, "decompress", await wsCall(codec, "compress", big));
      held.push({ close: () => codec.cleanup() });
      continue;
    }
    const compressor = factory.createCompressor({
      windowBits,
      memLevel,
      level: 6,
      noContextTakeover: false,
    });
    const decompressor = factory.createDecompressor({ windowBits, noContextTakeover: false });
    if (used) await decompressor.decompress([await compressor.compress(big)], 1 << 20);
    held.push(compressor, decompressor);
  }
  await settle();
  const each = (process.memoryUsage().rss - before) / count;
  for (const codec of held) codec.close();
  return each;
}

async function memory(windowBits: number, memLevel: number): Promise<void> {
  // Idle first: codecs never used cost only their objects; zlib state is made on first use.
  const ws = args[3] === "ws";
  const idle = await perConnection(windowBits, memLevel, false, ws);
  const used = await perConnection(windowBits, memLevel, true, ws);
  console.log(
    `| ${runtime}${ws ? " (ws codec)" : ""} | ${windowBits} / ${memLevel} | ` +
      `${(idle / 1024).toFixed(1)} KiB | ${(used / 1024).toFixed(1)} KiB |`,
  );
}
