/**
 * permessage-deflate (RFC 7692) on `node:zlib`, which Deno, Bun and Node all provide: raw
 * deflate streams flushed with `Z_SYNC_FLUSH` per message, kept between messages for context
 * takeover and reset for no context takeover. `CompressionStream` cannot flush per message, so
 * it cannot do this.
 *
 * @module
 */

import { type CompressionFactory, ConcurrencyLimiter } from "../../connection/compression.ts";
import { deflateOnce, SYNC_MAX, ZlibCompressor } from "./deflater.ts";
import { ZlibDecompressor } from "./inflater.ts";

/** Options of {@linkcode zlibCompression}. */
export interface ZlibCompressionOptions {
  /**
   * The most zlib operations in flight at once across every codec of this factory.
   *
   * @default {10}
   */
  concurrency?: number;
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
  return {
    createCompressor: (settings) => new ZlibCompressor(settings, limiter),
    createDecompressor: (settings) => new ZlibDecompressor(settings, limiter),
    compressShared: (payload, settings) => {
      if (payload.length <= SYNC_MAX) return Promise.resolve(deflateOnce(payload, settings));
      return limiter.run(() => {
        const compressor = new ZlibCompressor({ ...settings, noContextTakeover: true }, limiter);
        return compressor.deflate(payload).finally(() => compressor.close());
      });
    },
  };
}
