/**
 * Picks the adapter of the runtime the code runs on: the one module that imports an adapter by
 * runtime.
 *
 * @module
 */

import type { CompressionFactory } from "../connection/compression.ts";
import type { Listen } from "../connection/transport.ts";

/**
 * Resolves to the {@linkcode Listen} adapter of the current runtime: Deno's when `globalThis.Deno`
 * exists, Bun's when `globalThis.Bun` does, `node:net` otherwise. Only the chosen adapter module
 * is loaded.
 *
 * @example Listen with the adapter of the current runtime
 * ```ts
 * import { detectListen } from "./detect.ts";
 * import assert from "node:assert/strict";
 *
 * const listen = await detectListen();
 * const listener = await listen({ hostname: "127.0.0.1", port: 0, noDelay: true }, (t) => {
 *   t.destroy();
 *   return { onData() {}, onEnd() {}, onDrain() {}, onClose() {} };
 * });
 * assert.ok(listener.port > 0);
 * await listener.close();
 * ```
 */
export async function detectListen(): Promise<Listen> {
  // Deno and Bun both look like Node through `process`: test their own globals, Deno first.
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  if (runtime.Deno !== undefined) return (await import("./deno.ts")).listen;
  if (runtime.Bun !== undefined) return (await import("./bun.ts")).listen;
  return (await import("./node/net.ts")).listen;
}

/**
 * Loads the permessage-deflate codecs on `node:zlib` (every runtime has it), with at most
 * `concurrency` zlib operations in flight; only a server that offers the extension loads them.
 *
 * @example Compress a message with the loaded codecs
 * ```ts
 * import { loadCompression } from "./detect.ts";
 * import assert from "node:assert/strict";
 *
 * const codecs = await loadCompression(10);
 * const bytes = await codecs.compressShared(new TextEncoder().encode("Hello"), {
 *   windowBits: 15,
 *   memLevel: 8,
 *   level: 6,
 * });
 * assert.deepEqual([...bytes], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * ```
 */
export async function loadCompression(concurrency: number): Promise<CompressionFactory> {
  return (await import("./zlib/mod.ts")).zlibCompression({ concurrency });
}
