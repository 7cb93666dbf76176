/**
 * Forcing a garbage collection and reading how much memory array buffers take, on each runtime.
 *
 * - Node: `--expose-gc` is set at run time through `node:v8`, and `gc` is taken from a fresh
 *   `node:vm` context; `process.memoryUsage().arrayBuffers` counts array buffer memory.
 * - Deno: the same `node:v8`/`node:vm` route gives `gc`; `process.memoryUsage().arrayBuffers` is
 *   always 0 there, but `external` counts array buffer memory.
 * - Bun: `Bun.gc(true)` collects synchronously; `heapStats().extraMemorySize` of `bun:jsc` counts
 *   array buffer memory (`process.memoryUsage()` does not).
 */
import process from "node:process";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** The runtime the tests run on. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

interface BunGlobal {
  gc(force: boolean): void;
}

function findGc(): (() => void) | undefined {
  const global = globalThis as { gc?: unknown; Bun?: BunGlobal };
  if (typeof global.gc === "function") return global.gc as () => void;
  const bun = global.Bun;
  if (bun !== undefined) return () => bun.gc(true);
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    if (typeof gc === "function") return gc as () => void;
  } catch {
    // No way to force a collection here.
  }
  return undefined;
}

/** Forces a full garbage collection, or `undefined` where no collection can be forced. */
export const forceGc: (() => void) | undefined = findGc();

/** Collects garbage, letting timers and finalizers run in between, until things settle. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    forceGc?.();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

type HeapStats = () => { extraMemorySize: number };
let bunHeapStats: HeapStats | undefined;

/** Bytes of memory held by array buffers right now, as the runtime counts them. */
export async function arrayBufferBytes(): Promise<number> {
  if (runtime === "bun") {
    if (bunHeapStats === undefined) {
      // A specifier the type checkers do not resolve: the module exists only on Bun.
      const specifier = "bun:jsc";
      bunHeapStats = ((await import(specifier)) as { heapStats: HeapStats }).heapStats;
    }
    return bunHeapStats!().extraMemorySize;
  }
  const usage = process.memoryUsage();
  return runtime === "deno" ? usage.external : usage.arrayBuffers;
}
