/**
 * The LZ77 window of a permessage-deflate context (RFC 7692 §7.1.1): the last bytes of the
 * messages compressed so far, which a one-shot zlib call takes as its `dictionary` to continue a
 * context without keeping a zlib stream.
 *
 * @module
 */

/**
 * The last `2 ** windowBits` bytes pushed, in a buffer that grows with them (so an idle context
 * holds only what it has seen) up to half again that size, the slack that lets most pushes append
 * without moving the bytes kept.
 *
 * @example Keep the last 512 bytes
 * ```ts
 * import { SlidingWindow } from "./window.ts";
 * import assert from "node:assert/strict";
 *
 * const window = new SlidingWindow(9);
 * window.push(new Uint8Array(300).fill(1));
 * window.push(new Uint8Array(300).fill(2));
 * const bytes = window.bytes()!;
 * assert.equal(bytes.length, 512);
 * assert.deepEqual([bytes[0], bytes[211], bytes[212], bytes[511]], [1, 1, 2, 2]);
 * ```
 */
export class SlidingWindow {
  readonly #size: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #length = 0;

  /** An empty window of `2 ** windowBits` bytes. */
  constructor(windowBits: number) {
    this.#size = 2 ** windowBits;
  }

  /** The window's bytes, oldest first, or `undefined` while it is empty. A view: copy to keep. */
  bytes(): Uint8Array | undefined {
    if (this.#length === 0) return undefined;
    return this.#buffer.subarray(Math.max(0, this.#length - this.#size), this.#length);
  }

  /** Appends what a message added to the context. */
  push(data: Uint8Array): void {
    const size = this.#size;
    if (data.length >= size) {
      this.#ensure(size, 0);
      this.#buffer.set(data.subarray(data.length - size));
      this.#length = size;
      return;
    }
    if (this.#length + data.length > this.#buffer.length) {
      const keep = Math.min(this.#length, size - data.length);
      this.#ensure(keep + data.length, keep);
    }
    this.#buffer.set(data, this.#length);
    this.#length += data.length;
  }

  /** Empties the window and frees its buffer. */
  clear(): void {
    this.#buffer = new Uint8Array(0);
    this.#length = 0;
  }

  /** Room for `needed` bytes, the last `keep` bytes kept at the front. */
  #ensure(needed: number, keep: number): void {
    const from = this.#length - keep;
    const most = this.#size + (this.#size >> 1);
    if (needed <= this.#buffer.length) {
      this.#buffer.copyWithin(0, from, this.#length);
    } else {
      const grown = new Uint8Array(Math.min(most, Math.max(needed * 2, 1024)));
      grown.set(this.#buffer.subarray(from, this.#length));
      this.#buffer = grown;
    }
    this.#length = keep;
  }
}
