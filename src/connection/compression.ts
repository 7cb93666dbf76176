/**
 * The contract between the core and a permessage-deflate codec (RFC 7692 §7): what the core asks
 * of a deflater and an inflater, with no runtime named. `src/adapters/zlib/` implements it on
 * `node:zlib`; a test or another runtime may bring its own.
 *
 * Payloads cross this seam without the `00 00 ff ff` tail of a sync flush: a {@linkcode
 * Compressor} removes it (RFC 7692 §7.2.1) and a {@linkcode Decompressor} puts it back
 * (§7.2.2). Inflated bytes are counted as they come out, so a limit holds for hostile input.
 *
 * @module
 */

export { InvalidDataError, MessageTooBigError } from "../protocol/errors.ts";
export { ConcurrencyLimiter } from "./concurrency_limiter.ts";

/** How to deflate: the agreed window and the server's zlib settings. */
export interface CompressorOptions {
  /** The deflate window, 9 to 15 bits. */
  windowBits: number;
  /** zlib's memLevel, 1 to 9. */
  memLevel: number;
  /** zlib's level, 0 to 9. */
  level: number;
  /** Start every message with an empty window (`server_no_context_takeover`). */
  noContextTakeover: boolean;
}

/** How to inflate: the largest window the peer compresses with. */
export interface DecompressorOptions {
  /** The peer's deflate window, 8 to 15 bits. */
  windowBits: number;
  /** The peer starts every message with an empty window (`client_no_context_takeover`). */
  noContextTakeover: boolean;
}

/**
 * The deflater of one connection. Messages are compressed in the order `compress` is called.
 *
 * @example A compressor that stores (no compression) for a test
 * ```ts
 * import type { Compressor } from "@netws/server/compression";
 * import assert from "node:assert/strict";
 *
 * // RFC 7692 §7.2.3.3: one uncompressed deflate block, without the sync-flush tail.
 * const stored: Compressor = {
 *   compress: (payload) =>
 *     Promise.resolve(
 *       new Uint8Array([0x00, payload.length, 0, ~payload.length & 0xff, 0xff, ...payload]),
 *     ),
 *   close() {},
 * };
 * const bytes = await stored.compress(new TextEncoder().encode("Hi"));
 * assert.deepEqual([...bytes], [0x00, 0x02, 0x00, 0xfd, 0xff, 0x48, 0x69]);
 * ```
 */
export interface Compressor {
  /**
   * Compresses one whole message; the result is the payload to send with RSV1 set, without the
   * `00 00 ff ff` tail. Rejects after `close()`.
   */
  compress(payload: Uint8Array): Promise<Uint8Array>;
  /** Frees the zlib state; pending and later calls reject. Idempotent. */
  close(): void;
}

/**
 * The inflater of one connection. Messages are inflated in the order `decompress` is called.
 *
 * @example An inflater that only counts, for a test
 * ```ts
 * import { type Decompressor, MessageTooBigError } from "@netws/server/compression";
 * import assert from "node:assert/strict";
 *
 * const identity: Decompressor = {
 *   decompress(data, limit) {
 *     const size = data.reduce((sum, part) => sum + part.length, 0);
 *     if (size > limit) return Promise.reject(new MessageTooBigError("MESSAGE_TOO_BIG", size, limit));
 *     return Promise.resolve([...data]);
 *   },
 *   close() {},
 * };
 * await assert.rejects(identity.decompress([new Uint8Array(10)], 5), MessageTooBigError);
 * ```
 */
export interface Decompressor {
  /**
   * Inflates one message from the payloads of its frames, in order, without the tail.
   *
   * Every inflater output chunk is counted the moment it comes out: once more than `limit` bytes
   * came out, inflation stops and the promise rejects with a `MessageTooBigError` (1009); data
   * that does not inflate rejects with an `InvalidDataError` (1007, `INVALID_COMPRESSED_DATA`).
   * The bytes held never exceed `limit` plus one output chunk. Either error leaves the
   * decompressor closed.
   *
   * Without `onChunk` the promise resolves with the output chunks. With it, each chunk is handed
   * over as it comes out and not kept (the promise resolves with `[]`); an error thrown by
   * `onChunk` stops inflation and rejects the promise with it.
   */
  decompress(
    data: readonly Uint8Array[],
    limit: number,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<Uint8Array[]>;
  /** Frees the zlib state; pending and later calls reject. Idempotent. */
  close(): void;
}

/**
 * Makes the codecs of a server. `compressShared` compresses with a fresh window, so its bytes
 * can go to every connection whose `server_no_context_takeover` was agreed and whose
 * `server_max_window_bits` is at least `options.windowBits`: compress once, send to many.
 */
export interface CompressionFactory {
  /** A deflater for one connection. zlib state is made on first use, not here. */
  createCompressor(options: CompressorOptions): Compressor;
  /** An inflater for one connection. zlib state is made on first use, not here. */
  createDecompressor(options: DecompressorOptions): Decompressor;
  /** Compresses one message with an empty window, without the tail. */
  compressShared(
    payload: Uint8Array,
    options: Omit<CompressorOptions, "noContextTakeover">,
  ): Promise<Uint8Array>;
}
