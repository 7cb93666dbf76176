/**
 * The deflater of one permessage-deflate connection by one-shot `node:zlib` calls (RFC 7692
 * §7.2.1): no zlib stream is kept between messages; the context is the window of the bytes sent
 * so far, given to each call as its dictionary.
 *
 * @module
 */

import { constants, deflateRaw } from "node:zlib";
import type {
  Compressor,
  CompressorOptions,
  ConcurrencyLimiter,
} from "../../connection/compression.ts";
import { deflateOnce, SYNC_MAX } from "./deflater.ts";
import { closed, InOrder, TAIL } from "./shared.ts";
import { SlidingWindow } from "./window.ts";

/**
 * One connection's deflater by one-shot calls: a message up to `SYNC_MAX` bytes by the
 * synchronous call, a larger one on zlib's thread pool (within the limiter). With context
 * takeover, the last `2 ** windowBits` bytes sent are the next call's dictionary, which gives the
 * bytes a kept zlib stream would give; without it every call starts empty. Between messages it
 * holds only that window (at most 1.5 times its size), never zlib state.
 */
export class WindowCompressor implements Compressor {
  readonly #options: CompressorOptions;
  readonly #limiter: ConcurrencyLimiter;
  readonly #window: SlidingWindow | undefined;
  readonly #jobs = new InOrder();
  #closed = false;

  constructor(options: CompressorOptions, limiter: ConcurrencyLimiter) {
    this.#options = options;
    this.#limiter = limiter;
    // RFC 7692 §7.1.1.1: without context takeover each message starts with an empty window.
    this.#window = options.noContextTakeover ? undefined : new SlidingWindow(options.windowBits);
  }

  compress(payload: Uint8Array): Promise<Uint8Array> {
    try {
      const out = this.compressNow(payload);
      if (out !== undefined) return Promise.resolve(out);
    } catch (error) {
      return Promise.reject(error);
    }
    // Otherwise one message at a time, in call order, whichever path each takes.
    return this.#jobs.run(() => {
      if (payload.length <= SYNC_MAX) return this.#deflateSync(payload);
      return this.#limiter.run(() => this.#deflateAsync(payload));
    });
  }

  compressNow(payload: Uint8Array): Uint8Array | undefined {
    // Nothing in flight: a synchronous result cannot overtake an earlier message.
    if (!this.#jobs.idle || payload.length > SYNC_MAX) return undefined;
    return this.#deflateSync(payload);
  }

  close(): void {
    this.#closed = true;
    this.#window?.clear();
  }

  #deflateSync(payload: Uint8Array): Uint8Array {
    if (this.#closed) throw closed("compress");
    const out = deflateOnce(payload, this.#options, this.#window?.bytes());
    this.#window?.push(payload);
    return out;
  }

  #deflateAsync(payload: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(closed("compress"));
      // A copy: zlib may read the dictionary after this call returns.
      const dictionary = this.#window?.bytes()?.slice();
      deflateRaw(payload, {
        windowBits: this.#options.windowBits,
        memLevel: this.#options.memLevel,
        level: this.#options.level,
        finishFlush: constants.Z_SYNC_FLUSH,
        ...(dictionary === undefined ? {} : { dictionary }),
      }, (error, out) => {
        if (this.#closed) return reject(closed("compress"));
        if (error !== null) {
          this.close();
          return reject(new Error(`Cannot compress message: ${error.message}`));
        }
        this.#window?.push(payload);
        resolve(out.subarray(0, out.length - TAIL.length));
      });
    });
  }
}
