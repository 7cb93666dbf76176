/**
 * The inflater of one permessage-deflate connection on `node:zlib` (RFC 7692 §7.2.2), with
 * inflated bytes counted after every output chunk.
 *
 * @module
 */

import { constants, createInflateRaw, type InflateRaw } from "node:zlib";
import {
  type ConcurrencyLimiter,
  type Decompressor,
  type DecompressorOptions,
  InvalidDataError,
  MessageTooBigError,
} from "../../connection/compression.ts";
import { closed, InOrder, TAIL } from "./shared.ts";

/** What one running inflation collects. */
interface Inflation {
  limit: number;
  total: number;
  kept: Uint8Array[];
  onChunk: ((chunk: Uint8Array) => void) | undefined;
  reject(error: unknown): void;
}

/** One connection's inflater: made on first use, kept or reset per message, freed by close. */
export class ZlibDecompressor implements Decompressor {
  readonly #options: DecompressorOptions;
  readonly #limiter: ConcurrencyLimiter;
  readonly #dictionary: Uint8Array | undefined;
  #inflate: InflateRaw | undefined;
  #current: Inflation | undefined;
  #ended = false;
  readonly #jobs = new InOrder();
  #closed = false;

  /** `dictionary`, when given, is the window the first message continues (a copy is kept). */
  constructor(options: DecompressorOptions, limiter: ConcurrencyLimiter, dictionary?: Uint8Array) {
    this.#options = options;
    this.#limiter = limiter;
    this.#dictionary = dictionary?.slice();
  }

  decompress(
    data: readonly Uint8Array[],
    limit: number,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<Uint8Array[]> {
    return this.#jobs.run(() => this.#limiter.run(() => this.#run(data, limit, onChunk)));
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
      // RFC 7692 §7.2.2: put back the tail the sender removed. A short message goes as one
      // write, one zlib job: copying its bytes costs far less than a job per frame. A long one
      // goes frame by frame, so that its compressed bytes are not held twice while it inflates.
      const parts = byteLength(data) <= JOIN_LIMIT ? [withTail(data)] : [...data, TAIL];
      for (let i = 0; i < parts.length - 1; i++) inflate.write(parts[i]!);
      inflate.write(parts[parts.length - 1]!, () => {
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
      ...(this.#dictionary === undefined ? {} : { dictionary: this.#dictionary }),
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

/** Up to this many compressed bytes, a message's frames are joined for one zlib write. */
const JOIN_LIMIT = 64 * 1024;

function byteLength(parts: readonly Uint8Array[]): number {
  let size = 0;
  for (const part of parts) size += part.length;
  return size;
}

/** The payloads of a message's frames and the tail, in one buffer. */
export function withTail(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(byteLength(parts) + TAIL.length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  out.set(TAIL, at);
  return out;
}

/** The error of data that does not inflate. */
export function invalidData(error: Error | null): InvalidDataError {
  const why = error?.message ?? "the inflater stopped";
  return new InvalidDataError(
    `Cannot inflate message: ${JSON.stringify(why)}`,
    "INVALID_COMPRESSED_DATA",
  );
}
