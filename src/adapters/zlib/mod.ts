/**
 * permessage-deflate (RFC 7692) on `node:zlib`, which Deno, Bun and Node all provide, raw
 * deflate flushed with `Z_SYNC_FLUSH` per message, in one of two ways:
 *
 * - `"stream"`: a zlib stream per direction, kept between messages for context takeover and
 *   reset for no context takeover;
 * - `"window"`: one-shot calls, synchronous for small messages, each given the window of the
 *   context so far as its dictionary, so no zlib state is kept between messages.
 *
 * `CompressionStream` cannot flush per message, so it cannot do this.
 *
 * @module
 */

import { type CompressionFactory, ConcurrencyLimiter } from "../../connection/compression.ts";
import { deflateOnce, SYNC_MAX, ZlibCompressor } from "./deflater.ts";
import { ZlibDecompressor } from "./inflater.ts";
import { WindowCompressor } from "./window_deflater.ts";
import { WindowDecompressor } from "./window_inflater.ts";

/** How the codecs drive zlib: see the module documentation. */
export type ZlibEngine = "stream" | "window";

/**
 * The engine that is faster on this runtime. Node and Bun run zlib streams on a thread pool, a
 * round trip that costs more than the work on a ~300-byte message, and both honour a raw
 * dictionary in one-shot calls. Deno runs its streams on the calling thread, where they are the
 * faster, and ignores a raw dictionary in one-shot calls, so it keeps streams.
 */
export const DEFAULT_ENGINE: ZlibEngine = "Deno" in globalThis ? "stream" : "window";

/** Options of {@linkcode zlibCompression}. */
export interface ZlibCompressionOptions {
  /**
   * The most zlib operations in flight at once across every codec of this factory.
   *
   * @default {10}
   */
  concurrency?: number;
  /**
   * How the codecs drive zlib. `"window"` needs a runtime whose one-shot calls honour a raw
   * dictionary (Node and Bun; not Deno).
   *
   * @default {DEFAULT_ENGINE}
   */
  engine?: ZlibEngine;
}

/**
 * Makes the permessage-deflate codecs of one server on `node:zlib`, with at most
 * `concurrency` zlib operations in flight across all of them.
 *
 * @example Compress and inflate a message
 * ```ts
 * import { zlibCompression } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const zlib = zlibCompression();
 * const compressor = zlib.createCompressor({
 *   windowBits: 15,
 *   memLevel: 8,
 *   level: 6,
 *   noContextTakeover: false,
 * });
 * const decompressor = zlib.createDecompressor({ windowBits: 15, noContextTakeover: false });
 * // RFC 7692 §7.2.3.1: "Hello" compressed.
 * const hello = await compressor.compress(new TextEncoder().encode("Hello"));
 * assert.deepEqual([...hello], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * const [chunk] = await decompressor.decompress([hello], 1024);
 * assert.equal(new TextDecoder().decode(chunk), "Hello");
 * compressor.close();
 * decompressor.close();
 * ```
 */
export function zlibCompression(options: ZlibCompressionOptions = {}): CompressionFactory {
  const limiter = new ConcurrencyLimiter(options.concurrency ?? 10);
  const window = (options.engine ?? DEFAULT_ENGINE) === "window";
  return {
    createCompressor: (settings) =>
      window ? new WindowCompressor(settings, limiter) : new ZlibCompressor(settings, limiter),
    createDecompressor: (settings) =>
      window ? new WindowDecompressor(settings, limiter) : new ZlibDecompressor(settings, limiter),
    compressShared: (payload, settings) => {
      if (payload.length <= SYNC_MAX) return Promise.resolve(deflateOnce(payload, settings));
      const fresh = { ...settings, noContextTakeover: true };
      // A fresh window holds nothing, so the window engine's compressor needs no closing.
      if (window) return new WindowCompressor(fresh, limiter).compress(payload);
      return limiter.run(() => {
        const compressor = new ZlibCompressor(fresh, limiter);
        return compressor.deflate(payload).finally(() => compressor.close());
      });
    },
  };
}
