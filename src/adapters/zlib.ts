/**
 * permessage-deflate (RFC 7692) on `node:zlib`, which Deno, Bun and Node all provide: raw
 * deflate streams flushed with `Z_SYNC_FLUSH` per message, kept between messages for context
 * takeover and reset for no context takeover. `CompressionStream` cannot flush per message, so
 * it cannot do this.
 *
 * @module
 */

import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  deflateRawSync,
  type InflateRaw,
} from "node:zlib";
import {
  type CompressionFactory,
  type Compressor,
  type CompressorOptions,
  ConcurrencyLimiter,
  type Decompressor,
  type DecompressorOptions,
  InvalidDataError,
  MessageTooBigError,
} from "../connection/compression.ts";

/** RFC 7692 §7.2.1: the end of a sync flush, removed before sending and restored on receipt. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * Messages up to this size, sent with a fresh window, are compressed by the synchronous call
 * instead of the stream where that is faster. Measured with `bench/deflate_codec.ts` (190-byte
 * JSON, µs per message, sync call / stream with reset): Node 18 / 47, Bun 11 / 36, Deno 28 / 13.
 * Deno runs its zlib streams on the calling thread, so its stream wins there.
 */
const SYNC_MAX = 16 * 1024;
const SYNC_CALLS_FASTER = !("Deno" in globalThis);

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
 * import { zlibCompression } from "./zlib.ts";
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

function deflateOnce(
  payload: Uint8Array,
  settings: Omit<CompressorOptions, "noContextTakeover">,
): Uint8Array {
  const out = deflateRawSync(payload, {
    windowBits: settings.windowBits,
    memLevel: settings.memLevel,
    level: settings.level,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return out.subarray(0, out.length - TAIL.length);
}

/** One connection's deflater: made on first use, kept or reset per message, freed by close. */
class ZlibCompressor implements Compressor {
  readonly #options: CompressorOptions;
  readonly #limiter: ConcurrencyLimiter;
  #deflate: DeflateRaw | undefined;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #reject: ((error: unknown) => void) | undefined;
  #last: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closed = false;

  constructor(options: CompressorOptions, limiter: ConcurrencyLimiter) {
    this.#options = options;
    this.#limiter = limiter;
  }

  compress(payload: Uint8Array): Promise<Uint8Array> {
    const sync = SYNC_CALLS_FASTER && this.#options.noContextTakeover && payload.length <= SYNC_MAX;
    // Nothing in flight: a synchronous result cannot overtake an earlier message.
    if (sync && this.#pending === 0 && !this.#closed) {
      return Promise.resolve(deflateOnce(payload, this.#options));
    }
    // Otherwise one message at a time, in call order, whichever path each takes.
    this.#pending++;
    const result = this.#last.then(() => {
      if (this.#closed) throw closed("compress");
      if (sync) return deflateOnce(payload, this.#options);
      return this.#limiter.run(() => this.deflate(payload));
    });
    this.#last = result.then(this.#settled, this.#settled); // keeps neither result nor error
    return result;
  }

  readonly #settled = (): void => {
    this.#pending--;
  };

  /** Deflates through the stream, outside the limiter (callers take a place first). */
  deflate(payload: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(closed("compress"));
      const deflate = this.#deflate ??= this.#create();
      this.#reject = reject;
      // The stream flushes every write (Z_SYNC_FLUSH): one zlib job per message.
      deflate.write(payload, () => {
        if (this.#reject !== reject) return; // closed meanwhile; already rejected
        if (deflate.destroyed) return this.#onError(deflate.errored);
        this.#reject = undefined;
        const out = withoutTail(this.#chunks, this.#size);
        this.#chunks = [];
        this.#size = 0;
        // RFC 7692 §7.1.1.1: the next message starts with an empty window.
        if (this.#options.noContextTakeover) deflate.reset();
        resolve(out);
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deflate?.close();
    this.#deflate = undefined;
    this.#chunks = [];
    const reject = this.#reject;
    this.#reject = undefined;
    reject?.(closed("compress"));
  }

  #create(): DeflateRaw {
    const deflate = createDeflateRaw({
      flush: constants.Z_SYNC_FLUSH,
      windowBits: this.#options.windowBits,
      memLevel: this.#options.memLevel,
      level: this.#options.level,
    });
    deflate.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    });
    deflate.on("error", (error: Error) => this.#onError(error));
    return deflate;
  }

  #onError(error: Error | null): void {
    const reject = this.#reject;
    this.#reject = undefined;
    this.close();
    reject?.(new Error(`Cannot compress message: ${error?.message ?? "the deflater stopped"}`));
  }
}

/** What one running inflation collects. */
interface Inflation {
  limit: number;
  total: number;
  kept: Uint8Array[];
  onChunk: ((chunk: Uint8Array) => void) | undefined;
  reject(error: unknown): void;
}

/** One connection's inflater: made on first use, kept or reset per message, freed by close. */
class ZlibDecompressor implements Decompressor {
  readonly #options: DecompressorOptions;
  readonly #limiter: ConcurrencyLimiter;
  #inflate: InflateRaw | undefined;
  #current: Inflation | undefined;
  #ended = false;
  #last: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: DecompressorOptions, limiter: ConcurrencyLimiter) {
    this.#options = options;
    this.#limiter = limiter;
  }

  decompress(
    data: readonly Uint8Array[],
    limit: number,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<Uint8Array[]> {
    const result = this.#last.then(() => this.#limiter.run(() => this.#run(data, limit, onChunk)));
    this.#last = result.then(noop, noop); // keeps neither the result nor the error
    return result;
  }

  close(): void {
    this.#fail(closed("inflate"));
  }

  #run(
    data: readonly Uint8Array[],
    limit: number,
    onChunk: ((chunk: Uint8Array) => void) | undefined,
  ): Promise<Uint8Array[]> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(closed("inflate"));
      const inflate = this.#inflate ??= this.#create();
      const inflation: Inflation = { limit, total: 0, kept: [], onChunk, reject };
      this.#current = inflation;
      // RFC 7692 §7.2.2: put back the tail the sender removed. One write, one zlib job: the
      // compressed bytes are copied once, which costs far less than a job each.
      inflate.write(withTail(data), () => {
        if (this.#current !== inflation) return; // failed or closed meanwhile
        // Deno calls back before it emits the error of a failed inflation.
        if (inflate.destroyed) return this.#fail(invalidData(inflate.errored));
        this.#current = undefined;
        if (this.#ended) {
          // RFC 7692 §7.2.3.4: a block with BFINAL set ended the deflate stream; the next
          // message starts a new one.
          this.#ended = false;
          this.#inflate = undefined;
          inflate.close();
        } else if (this.#options.noContextTakeover) {
          // RFC 7692 §7.1.1.2: the peer starts its next message with an empty window.
          inflate.reset();
        }
        resolve(inflation.kept);
      });
    });
  }

  #create(): InflateRaw {
    // zlib's smallest raw window is 9 bits; a larger window reads data made with a smaller one.
    const inflate = createInflateRaw({
      flush: constants.Z_SYNC_FLUSH,
      windowBits: Math.max(9, this.#options.windowBits),
    });
    inflate.on("data", this.#onData);
    inflate.on("end", () => this.#ended = true);
    inflate.on("error", (error: Error) => this.#fail(invalidData(error)));
    return inflate;
  }

  // Counted per output chunk, so a bomb stops within one chunk of the limit.
  readonly #onData = (chunk: Uint8Array): void => {
    const inflation = this.#current;
    if (inflation === undefined) return; // output after a failure is dropped
    inflation.total += chunk.length;
    if (inflation.total > inflation.limit) {
      this.#fail(new MessageTooBigError("MESSAGE_TOO_BIG", inflation.total, inflation.limit));
      return;
    }
    if (inflation.onChunk === undefined) {
      inflation.kept.push(chunk);
      return;
    }
    try {
      inflation.onChunk(chunk);
    } catch (error) {
      this.#fail(error);
    }
  };

  /** Stops for good: frees zlib, drops what was inflated, rejects the running inflation. */
  #fail(error: unknown): void {
    const inflation = this.#current;
    this.#current = undefined;
    if (!this.#closed) {
      this.#closed = true;
      this.#inflate?.close();
      this.#inflate = undefined;
    }
    if (inflation !== undefined) {
      inflation.kept = [];
      inflation.reject(error);
    }
  }
}

/** The payloads of a message's frames and the tail, in one buffer. */
function withTail(parts: readonly Uint8Array[]): Uint8Array {
  let size = TAIL.length;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  out.set(TAIL, at);
  return out;
}

/** The chunks of a sync flush joined, without its 4-byte tail; no copy for a single chunk. */
function withoutTail(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const length = size - TAIL.length;
  if (chunks.length === 1) return chunks[0]!.subarray(0, length);
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    if (at >= length) break;
    const part = chunk.length <= length - at ? chunk : chunk.subarray(0, length - at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function invalidData(error: Error | null): InvalidDataError {
  const why = error?.message ?? "the inflater stopped";
  return new InvalidDataError(
    `Cannot inflate message: ${JSON.stringify(why)}`,
    "INVALID_COMPRESSED_DATA",
  );
}

function closed(action: "compress" | "inflate"): Error {
  return new Error(`Cannot ${action} message: the codec is closed`);
}

function noop(): void {}
