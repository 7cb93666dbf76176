/**
 * The bytes of a binary message that did not arrive in one slice, gathered with at most one copy
 * per byte where that does not pin read buffers (RFC 6455 §5.4: fragments join in order).
 *
 * @module
 */

/**
 * A slice smaller than this is copied rather than kept as a view: many tiny fragments must not
 * pin the large read buffers they were sliced from.
 */
const KEEP_THRESHOLD = 4096;
/** Small slices of a fragmented message are gathered into blocks of this size. */
const BLOCK_SIZE = 65536;
/** A one-frame message gets a buffer of its exact size up to this size (the default limit). */
const EXACT_ALLOCATION_LIMIT = 16 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

/**
 * Gathers a binary message: a one-frame message into one buffer of its declared size; a
 * fragmented one as large slices kept as views and small ones copied into blocks, joined at the
 * end, so that it holds at most the message size plus 128 KiB.
 */
export class BinaryBuffer {
  readonly #maxMessageSize: number;
  // A one-frame message, in its exact-size buffer.
  #exact: Uint8Array | undefined;
  #exactUsed = 0;
  // A fragmented message: pieces kept or sealed, and the block gathering small slices.
  #pieces: Uint8Array[] = [];
  #block: Uint8Array | undefined;
  #blockUsed = 0;
  // Bytes of buffers pinned by kept views beyond the views themselves.
  #slack = 0;

  /** Creates a buffer for messages of at most `maxMessageSize` bytes. */
  constructor(maxMessageSize: number) {
    this.#maxMessageSize = maxMessageSize;
  }

  /** Bytes of buffer memory held, counting the whole buffer behind every view kept. */
  get heldBytes(): number {
    const buffers = new Set<ArrayBufferLike>();
    let held = this.#exact?.byteLength ?? 0;
    for (const piece of this.#pieces) {
      if (buffers.has(piece.buffer)) continue;
      buffers.add(piece.buffer);
      held += piece.buffer.byteLength;
    }
    if (this.#block !== undefined) held += this.#block.byteLength;
    return held;
  }

  /** Copies a slice of a one-frame message of `size` bytes into its buffer of that size. */
  addExact(slice: Uint8Array, size: number): void {
    let exact = this.#exact;
    // RFC 6455 §5.2 gave the exact length: one allocation, one copy per byte. Past
    // EXACT_ALLOCATION_LIMIT (with raised limits) the buffer grows with the bytes instead, so a
    // header alone cannot make the builder reserve what was never sent.
    exact ??= this.#exact = new Uint8Array(Math.min(size, EXACT_ALLOCATION_LIMIT));
    const needed = this.#exactUsed + slice.length;
    if (needed > exact.length) {
      const grown = new Uint8Array(Math.min(size, Math.max(needed, exact.length * 2)));
      grown.set(exact.subarray(0, this.#exactUsed));
      exact = this.#exact = grown;
    }
    exact.set(slice, this.#exactUsed);
    this.#exactUsed = needed;
  }

  /**
   * Whether a view may pin `slack` more bytes. All views of a message together may pin one
   * block's worth, so what the buffer holds stays within the message size plus two blocks.
   */
  #affordSlack(slack: number): boolean {
    if (this.#slack + slack > BLOCK_SIZE) return false;
    this.#slack += slack;
    return true;
  }

  /** Keeps a slice of a fragmented message, copying it when its view would pin too much. */
  keep(slice: Uint8Array): void {
    const length = slice.length;
    const slack = slice.buffer.byteLength - length;
    if (length >= KEEP_THRESHOLD && slack <= length && this.#affordSlack(slack)) {
      this.#sealBlock();
      this.#pieces.push(slice);
      return;
    }
    if (length === 0) return;
    let block = this.#block;
    if (block === undefined || this.#blockUsed + length > block.length) {
      this.#sealBlock();
      block = this.#block = new Uint8Array(
        Math.max(length, Math.min(BLOCK_SIZE, this.#maxMessageSize)),
      );
    }
    block.set(slice, this.#blockUsed);
    this.#blockUsed += length;
  }

  #sealBlock(): void {
    const block = this.#block;
    if (block === undefined) return;
    const used = this.#blockUsed;
    // A mostly empty block is shrunk so that alternating small and large slices cannot make
    // every small one cost a whole block.
    const slack = block.length - used;
    this.#pieces.push(
      slack <= used && this.#affordSlack(slack) ? block.subarray(0, used) : block.slice(0, used),
    );
    this.#block = undefined;
    this.#blockUsed = 0;
  }

  /** The message of `size` bytes, in one buffer; `reset` comes before the next message. */
  join(size: number): Uint8Array {
    const exact = this.#exact;
    if (exact !== undefined) return exact;
    this.#sealBlock();
    const pieces = this.#pieces;
    if (pieces.length === 0) return EMPTY;
    if (pieces.length === 1) return pieces[0]!;
    const joined = new Uint8Array(size);
    let offset = 0;
    for (const piece of pieces) {
      joined.set(piece, offset);
      offset += piece.length;
    }
    return joined;
  }

  /** Drops what was gathered. */
  reset(): void {
    this.#exact = undefined;
    this.#exactUsed = 0;
    if (this.#pieces.length > 0) this.#pieces = [];
    this.#block = undefined;
    this.#blockUsed = 0;
    this.#slack = 0;
  }
}
