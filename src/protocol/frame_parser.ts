/**
 * Parsing RFC 6455 frames, whole, from bytes chunked in any way.
 *
 * @module
 */

import type { Frame } from "./frame.ts";
import { type FrameHandler, FrameScanner, type Role } from "./frame_scanner.ts";

/** Options of {@linkcode FrameParser} and `FrameParserStream`. */
export interface FrameParserOptions {
  /**
   * The largest payload of one frame, in bytes: a positive integer or `Infinity`. A larger frame
   * fails with `FRAME_TOO_BIG` (1009) as soon as its header is read.
   *
   * @default {16777216}
   */
  maxFrameSize?: number;
  /**
   * `"server"` requires every frame to be masked, `"client"` requires none to be
   * (RFC 6455 §5.1).
   *
   * @default {"server"}
   */
  role?: Role;
  /**
   * Accept RSV1 on the first frame of a data message (permessage-deflate, RFC 7692 §6); the
   * frame's `rsv1` says whether it was set. Elsewhere RSV1, and RSV2 and RSV3, stay rejected.
   *
   * @default {false}
   */
  allowRsv1?: boolean;
  /**
   * Called with a frame's opcode and payload length once its header is complete, before any of
   * its payload is buffered. Throwing rejects the frame: the error propagates from `push`. This
   * lets a message limit fail while the bytes are still arriving.
   */
  onHeader?: ((opcode: number, payloadLength: number) => void) | undefined;
}

/** Frames spanning chunks get a buffer of their exact size up to this size (the default limit). */
const EXACT_ALLOCATION_LIMIT = 16 * 1024 * 1024;
/** The longest frame header, counted in `heldBytes` as the scanner's header buffer. */
const MAX_HEADER_SIZE = 14;

/**
 * A synchronous, incremental frame parser. Feed it bytes with {@linkcode FrameParser.push}; it
 * calls back with each complete frame and throws a `WebSocketError` on the first violation.
 *
 * It takes ownership of the chunks pushed to it: payloads are unmasked in place, and a frame that
 * lies inside one chunk is handed out as a view of that chunk, without a copy. A frame spanning
 * chunks is copied once into a buffer of its exact size. (`FrameScanner` hands out the slices
 * themselves, for those who need no whole frames.)
 *
 * @example Parse a masked text frame (RFC 6455 §5.7)
 * ```ts
 * import { FrameParser } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const parser = new FrameParser({ role: "server" });
 * const frames: string[] = [];
 * parser.push(
 *   new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
 *   (frame) => frames.push(new TextDecoder().decode(frame.payload)),
 * );
 * assert.deepEqual(frames, ["Hello"]);
 * ```
 */
export class FrameParser {
  readonly #scanner: FrameScanner;
  readonly #masked: boolean;
  readonly #onHeader: ((opcode: number, payloadLength: number) => void) | undefined;
  #onFrame: (frame: Frame) => void = () => {};

  // The frame whose payload is arriving.
  #fin = false;
  #rsv1 = false;
  #opcode = 0;
  #payloadLength = 0;
  #partial: Uint8Array | undefined;
  #received = 0;

  readonly #handler: FrameHandler = {
    onHeader: (opcode, fin, payloadLength, rsv1) => {
      this.#onHeader?.(opcode, payloadLength);
      this.#opcode = opcode;
      this.#fin = fin;
      this.#rsv1 = rsv1;
      this.#payloadLength = payloadLength;
    },
    onPayload: (slice, end) => this.#gather(slice, end),
  };

  /** Creates a parser; throws a `RangeError` for an invalid option. */
  constructor(options: FrameParserOptions = {}) {
    this.#scanner = new FrameScanner({
      ...(options.maxFrameSize === undefined ? {} : { maxFrameSize: options.maxFrameSize }),
      ...(options.role === undefined ? {} : { role: options.role }),
      ...(options.allowRsv1 === undefined ? {} : { allowRsv1: options.allowRsv1 }),
    });
    this.#masked = options.role !== "client";
    this.#onHeader = options.onHeader;
  }

  /** Whether a frame was started and not finished: bytes of its header or payload are held. */
  get midFrame(): boolean {
    return this.#scanner.midFrame;
  }

  /** Bytes of buffer memory the parser holds: the partial payload of a frame spanning chunks. */
  get heldBytes(): number {
    return (this.#partial?.byteLength ?? 0) + MAX_HEADER_SIZE;
  }

  /**
   * Parses `chunk`, calling `onFrame` for each frame it completes, in order. Throws a
   * `WebSocketError` at the first violation, after the frames before it were delivered; once it
   * threw, every later call throws the same error.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    this.#onFrame = onFrame;
    this.#scanner.push(chunk, this.#handler);
  }

  #gather(slice: Uint8Array, end: boolean): void {
    let partial = this.#partial;
    if (partial === undefined) {
      // The whole payload in one slice: hand out the view, no copy.
      if (end) return this.#emit(slice);
      // RFC 6455 §5.2 told us the exact length: one allocation, one copy per byte. Large
      // allocations are backed by untouched zero pages, so memory grows as bytes arrive. Past
      // EXACT_ALLOCATION_LIMIT (with a raised maxFrameSize) the buffer grows with the bytes
      // instead, so a header alone cannot make the parser reserve what was never sent.
      partial = this.#partial = new Uint8Array(
        Math.min(this.#payloadLength, EXACT_ALLOCATION_LIMIT),
      );
    }
    const needed = this.#received + slice.length;
    if (needed > partial.length) {
      const grown = new Uint8Array(
        Math.min(this.#payloadLength, Math.max(needed, partial.length * 2)),
      );
      grown.set(partial.subarray(0, this.#received));
      partial = this.#partial = grown;
    }
    partial.set(slice, this.#received);
    this.#received = needed;
    if (!end) return;
    this.#partial = undefined;
    this.#received = 0;
    this.#emit(partial);
  }

  #emit(payload: Uint8Array): void {
    this.#onFrame({
      fin: this.#fin,
      rsv1: this.#rsv1,
      rsv2: false,
      rsv3: false,
      opcode: this.#opcode,
      masked: this.#masked,
      payload,
    });
  }
}

export type { Role };
