/**
 * The inflater of one permessage-deflate connection by one-shot `node:zlib` calls (RFC 7692
 * §7.2.2), with inflated bytes bounded by the limit: no zlib stream is kept between messages; the
 * context is the window of the bytes inflated so far, given to each call as its dictionary.
 *
 * @module
 */

import { constants, inflateRawSync } from "node:zlib";
import {
  type ConcurrencyLimiter,
  type Decompressor,
  type DecompressorOptions,
  MessageTooBigError,
} from "../../connection/compression.ts";
import { invalidData, withTail, ZlibDecompressor } from "./inflater.ts";
import { closed, InOrder } from "./shared.ts";
import { SlidingWindow } from "./window.ts";

/**
 * Compressed messages up to this size are inflated by one synchronous call, stopped by zlib once
 * its output passes {@linkcode ONCE_OUTPUT_MAX} or the limit, whichever is smaller; larger ones,
 * and those that inflate past that, go through a zlib stream made for the message. So one call
 * holds the thread for at most 64 KiB of output, and holds no more than that twice (zlib's chunks
 * and the buffer they are joined into).
 */
export const INFLATE_SYNC_MAX: number = 4 * 1024;
/** The most one synchronous inflation may produce before the message goes to a stream. */
export const ONCE_OUTPUT_MAX: number = 64 * 1024;

/**
 * The output chunk of a one-shot inflation of `size` compressed bytes: zlib allocates one per
 * call, and its default, 16 KiB, cost more than the inflation of a ~300-byte message (Bun 10 and
 * Node 8 µs per call with 16 KiB, 6 and 5 µs with 1 KiB, in one run of 20,000 calls each). Eight
 * times the input, from 1 to 16 KiB, holds most messages in one chunk.
 */
function outputChunk(size: number): number {
  return Math.min(16 * 1024, Math.max(1024, 2 ** Math.ceil(Math.log2(size * 8 + 1))));
}

/**
 * One connection's inflater by one-shot calls. With context takeover, the last
 * `2 ** windowBits` bytes inflated are the next call's dictionary, which reads what a peer that
 * kept its window wrote; without it every call starts empty. Between messages it holds only that
 * window (at most 1.5 times its size), never zlib state.
 */
export class WindowDecompressor implements Decompressor {
  readonly #options: DecompressorOptions;
  readonly #limiter: ConcurrencyLimiter;
  readonly #window: SlidingWindow | undefined;
  #stream: ZlibDecompressor | undefined;
  /** The message that one call found too large, so that it is not tried again. */
  #streamNext: readonly Uint8Array[] | undefined;
  readonly #jobs = new InOrder();
  #closed = false;

  constructor(options: DecompressorOptions, limiter: ConcurrencyLimiter) {
    this.#options = options;
    this.#limiter = limiter;
    // RFC 7692 §7.1.1.2: without context takeover the peer starts each message empty.
    // zlib's smallest raw window is 9 bits; a larger window reads data made with a smaller one.
    this.#window = options.noContextTakeover
      ? undefined
      : new SlidingWindow(Math.max(9, options.windowBits));
  }

  decompress(
    data: readonly Uint8Array[],
    limit: number,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<Uint8Array[]> {
    try {
      const out = this.decompressNow(data, limit, onChunk);
      if (out !== undefined) return Promise.resolve(out);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#jobs.run(() =>
      this.#inflateOnce(data, limit, onChunk) ?? this.#inflateStream(data, limit, onChunk)
    );
  }

  decompressNow(
    data: readonly Uint8Array[],
    limit: number,
    onChunk?: (chunk: Uint8Array) => void,
  ): Uint8Array[] | undefined {
    // Nothing in flight: a synchronous result cannot overtake an earlier message.
    if (!this.#jobs.idle) return undefined;
    return this.#inflateOnce(data, limit, onChunk);
  }

  close(): void {
    this.#closed = true;
    this.#window?.clear();
    this.#stream?.close();
    this.#stream = undefined;
  }

  /**
   * Inflates a small message by the synchronous call; `undefined` when it is too large for one
   * call and needs a stream.
   */
  #inflateOnce(
    data: readonly Uint8Array[],
    limit: number,
    onChunk: ((chunk: Uint8Array) => void) | undefined,
  ): Uint8Array[] | undefined {
    if (this.#closed) throw closed("inflate");
    let size = 0;
    for (const part of data) size += part.length;
    const most = Math.min(limit, ONCE_OUTPUT_MAX);
    if (size > INFLATE_SYNC_MAX || !(most >= 1) || data === this.#streamNext) return undefined;
    let out: Uint8Array;
    try {
      const dictionary = this.#window?.bytes();
      // RFC 7692 §7.2.2: put back the tail the sender removed.
      out = inflateRawSync(withTail(data), {
        finishFlush: constants.Z_SYNC_FLUSH,
        windowBits: Math.max(9, this.#options.windowBits),
        maxOutputLength: most,
        chunkSize: outputChunk(size),
        ...(dictionary === undefined ? {} : { dictionary }),
      });
    } catch (error) {
      // node:zlib's RangeError for output past maxOutputLength: at least one byte more.
      if ((error as { code?: unknown }).code !== "ERR_BUFFER_TOO_LARGE") {
        throw this.#stop(invalidData(error as Error));
      }
      if (most < limit) {
        // Within the limit, but too much for one call: a stream inflates it, once.
        this.#streamNext = data;
        return undefined;
      }
      throw this.#stop(new MessageTooBigError("MESSAGE_TOO_BIG", limit + 1, limit));
    }
    this.#window?.push(out);
    if (out.length === 0) return [];
    if (onChunk === undefined) return [out];
    try {
      onChunk(out);
    } catch (error) {
      throw this.#stop(error);
    }
    return [];
  }

  /** Inflates a large message through a zlib stream made for it, chunk by chunk. */
  async #inflateStream(
    data: readonly Uint8Array[],
    limit: number,
    onChunk: ((chunk: Uint8Array) => void) | undefined,
  ): Promise<Uint8Array[]> {
    const stream = new ZlibDecompressor(
      { windowBits: this.#options.windowBits, noContextTakeover: true },
      this.#limiter,
      this.#window?.bytes(),
    );
    this.#stream = stream;
    this.#streamNext = undefined;
    const window = this.#window;
    const kept: Uint8Array[] = [];
    try {
      await stream.decompress(data, limit, (chunk) => {
        window?.push(chunk);
        if (onChunk === undefined) kept.push(chunk);
        else onChunk(chunk);
      });
      return kept;
    } catch (error) {
      throw this.#stop(error);
    } finally {
      stream.close();
      if (this.#stream === stream) this.#stream = undefined;
    }
  }

  /** Closes for good and returns `error`. */
  #stop(error: unknown): unknown {
    this.close();
    return error;
  }
}
