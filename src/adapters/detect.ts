/**
 * Picks the adapter of the runtime the code runs on: the one module that imports an adapter by
 * runtime.
 *
 * @module
 */

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
