/**
 * Measures, in a fresh process, how much the resident set grows while one message is inflated
 * under a limit, so that the figure is not blurred by what the test runner did before.
 *
 * Usage: <runtime> inflate_rss_child.(ts|js) <mode> <file> <limit>
 *
 * - `inflate`: reads a deflated message (without its tail) from `file`, inflates it under `limit`
 *   keeping every chunk, as a server keeps a message it assembles; prints
 *   `{ grown, buffers, kept, error?: { closeCode, code, size, limit } }`: the growth of the
 *   resident set and of the memory the runtime counts for array buffers, and the bytes kept.
 * - `control`: reads the same file, then holds `limit` bytes in 16 KiB buffers made the way
 *   node:zlib makes its output chunks (`Buffer.allocUnsafe`), without zlib; prints `{ grown, buffers }`:
 *   what the runtime needs to hold those bytes at all.
 */
import process from "node:process";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { zlibCompression } from "../../src/adapters/zlib/mod.ts";
import { MessageTooBigError } from "../../src/protocol/errors.ts";

const [mode, file, limitText] = process.argv.slice(2);
const limit = Number(limitText);
const message = new Uint8Array(readFileSync(file!));
const rss = (): number => process.memoryUsage.rss();
const buffers = await bufferBytes();

// Both modes first run one small inflation, so that code compiled on first use and zlib's
// module state are in the baseline: the figure is what one more message costs a running server.
const zlib = zlibCompression();
const warm = zlib.createDecompressor({ windowBits: 15, noContextTakeover: false });
const small = await zlib.compressShared(new Uint8Array(65536), {
  windowBits: 15,
  memLevel: 8,
  level: 6,
});
await warm.decompress([small], 1 << 20);
warm.close();

const kept: Uint8Array[] = [];
let keptBytes = 0;
const base = rss();
let peak = base;
const buffersBase = buffers();
let buffersPeak = buffersBase;
const sample = (): void => {
  peak = Math.max(peak, rss());
  buffersPeak = Math.max(buffersPeak, buffers());
};
if (mode === "control") {
  for (let held = 0; held < limit; held += 16384) {
    const chunk = Buffer.allocUnsafe(Math.min(16384, limit - held)).fill(0);
    kept.push(chunk);
    sample();
  }
  console.log(JSON.stringify({ grown: peak - base, buffers: buffersPeak - buffersBase }));
} else {
  const decompressor = zlib.createDecompressor({
    windowBits: 15,
    noContextTakeover: false,
  });
  let error: unknown;
  try {
    await decompressor.decompress([message], limit, (chunk) => {
      kept.push(chunk);
      keptBytes += chunk.length;
      sample();
    });
  } catch (caught) {
    error = caught;
  }
  sample();
  decompressor.close();
  const stopped = error instanceof MessageTooBigError
    ? { closeCode: error.closeCode, code: error.code, size: error.size, limit: error.limit }
    : error === undefined
    ? undefined
    : { message: String(error) };
  const buffersGrown = buffersPeak - buffersBase;
  console.log(
    JSON.stringify({ grown: peak - base, buffers: buffersGrown, kept: keptBytes, error: stopped }),
  );
}

/** A synchronous reader of the bytes the runtime counts for array buffers. */
async function bufferBytes(): Promise<() => number> {
  if ("Bun" in globalThis) {
    const specifier = "bun:jsc"; // exists only on Bun; kept from the type checkers
    const jsc = (await import(specifier)) as { heapStats(): { extraMemorySize: number } };
    const bun = (globalThis as unknown as { Bun: { gc(full: boolean): void } }).Bun;
    // Bun's figure counts buffers that are already garbage until a collection runs (five runs
    // of the same bomb read 15.2 to 18.3 MiB): every 64th reading, a full collection first
    // makes it what is held; the readings between repeat the last one.
    let readings = 0;
    let last = jsc.heapStats().extraMemorySize;
    return () => {
      if (readings++ % 64 === 0) {
        bun.gc(true);
        last = jsc.heapStats().extraMemorySize;
      }
      return last;
    };
  }
  if ("Deno" in globalThis) return () => process.memoryUsage().external;
  return () => process.memoryUsage().arrayBuffers;
}
