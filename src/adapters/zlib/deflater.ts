/**
 * The deflater of one permessage-deflate connection on `node:zlib` (RFC 7692 §7.2.1), and the
 * one-shot compression used for a fresh window.
 *
 * @module
 */

import { constants, createDeflateRaw, type DeflateRaw, deflateRawSync } from "node:zlib";
import type {
  Compressor,
  CompressorOptions,
  ConcurrencyLimiter,
} from "../../connection/compression.ts";
import { closed, InOrder, TAIL } from "./shared.ts";

/** Messages up to this size are compressed by one synchronous call where one-shot calls are used. */
export const SYNC_MAX: number = 16 * 1024;

/**
 * Compresses one message by the synchronous call, without the tail: with a fresh window, or
 * continuing the context whose last bytes `dictionary` holds (RFC 7692 §7.1.1: the peer's
 * inflater holds the same bytes, so references into them resolve).
 */
export function deflateOnce(
  payload: Uint8Array,
  settings: Omit<CompressorOptions, "noContextTakeover">,
  dictionary?: Uint8Array,
): Uint8Array {
  const out = deflateRawSync(payload, {
    windowBits: settings.windowBits,
    memLevel: settings.memLevel,
    level: settings.level,
    finishFlush: constants.Z_SYNC_FLUSH,
    // One output chunk that fits: deflate grows a payload by a few bytes at most, and zlib's
    // default chunk (16 KiB) would be allocated, and kept alive by the result, for every message.
    chunkSize: payload.length + 64,
    ...(dictionary === undefined ? {} : { dictionary }),
  });
  return out.subarray(0, out.length - TAIL.length);
}

/** One connection's deflater: made on first use, kept or reset per message, freed by close. */
export class ZlibCompressor implements Compressor {
  readonly #options: CompressorOptions;
  readonly #limiter: ConcurrencyLimiter;
  #deflate: DeflateRaw | undefined;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #reject: ((error: unknown) => void) | undefined;
  readonly #jobs = new InOrder();
  #closed = false;

  constructor(options: CompressorOptions, limiter: ConcurrencyLimiter) {
    this.#options = options;
    this.#limiter = limiter;
  }

  compress(payload: Uint8Array): Promise<Uint8Array> {
    // One message at a time, in call order.
    return this.#jobs.run(() => {
      if (this.#closed) throw closed("compress");
      return this.#limiter.run(() => this.deflate(payload));
    });
  }

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
