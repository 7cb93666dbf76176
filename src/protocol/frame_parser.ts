/**
 * Parsing RFC 6455 frames from bytes chunked in any way.
 *
 * @module
 */

import { MAX_CONTROL_PAYLOAD } from "./constants.ts";
import { MessageTooBigError, ProtocolError } from "./errors.ts";
import type { Frame } from "./frame.ts";
import { checkLimit, DEFAULT_MAX_FRAME_SIZE } from "./limits.ts";
import { applyMask } from "./mask.ts";
import { errorAfterDelivery } from "./stream_errors.ts";

/** Which end of the connection parses: servers receive masked frames, clients unmasked ones. */
export type Role = "server" | "client";

/** Options of {@linkcode FrameParser} and {@linkcode FrameParserStream}. */
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
   * Called with a frame's opcode and payload length once its header is complete, before any of
   * its payload is buffered. Throwing rejects the frame: the error propagates from `push`. This
   * lets a message limit fail while the bytes are still arriving.
   */
  onHeader?: ((opcode: number, payloadLength: number) => void) | undefined;
}

/** The longest frame header: 2 bytes, a 64-bit length and a 4-byte mask (RFC 6455 §5.2). */
const MAX_HEADER_SIZE = 14;
/** Frames spanning chunks get a buffer of their exact size up to this size (the default limit). */
const EXACT_ALLOCATION_LIMIT = 16 * 1024 * 1024;

/**
 * A synchronous, incremental frame parser. Feed it bytes with {@linkcode FrameParser.push}; it
 * calls back with each complete frame and throws a `WebSocketError` on the first violation.
 *
 * It takes ownership of the chunks pushed to it: payloads are unmasked in place, and a frame that
 * lies inside one chunk is handed out as a view of that chunk, without a copy. A frame spanning
 * chunks is copied once into a buffer of its exact size.
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
  readonly #maxFrameSize: number;
  readonly #requireMask: boolean;
  readonly #onHeader: ((opcode: number, payloadLength: number) => void) | undefined;

  // Header bytes that arrived split across chunks.
  readonly #head = new Uint8Array(MAX_HEADER_SIZE);
  #headLength = 0;

  // The frame whose header was read and whose payload is arriving.
  #inPayload = false;
  #fin = false;
  #rsv1 = false;
  #rsv2 = false;
  #rsv3 = false;
  #opcode = 0;
  #masked = false;
  #payloadLength = 0;
  readonly #mask = new Uint8Array(4);
  #partial: Uint8Array | undefined;
  #received = 0;

  #error: unknown;

  /** Creates a parser; throws a `RangeError` for an invalid option. */
  constructor(options: FrameParserOptions = {}) {
    this.#maxFrameSize = checkLimit("maxFrameSize", options.maxFrameSize, DEFAULT_MAX_FRAME_SIZE);
    const role = options.role === undefined ? "server" : options.role;
    if (role !== "server" && role !== "client") {
      throw new RangeError(`Cannot set role: expected "server" or "client", got "${String(role)}"`);
    }
    this.#requireMask = role === "server";
    this.#onHeader = options.onHeader;
  }

  /** Whether a frame was started and not finished: bytes of its header or payload are held. */
  get midFrame(): boolean {
    return this.#inPayload || this.#headLength > 0;
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
    if (this.#error !== undefined) throw this.#error;
    try {
      this.#parse(chunk, onFrame);
    } catch (error) {
      this.#error = error;
      throw error;
    }
  }

  #parse(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    const end = chunk.length;
    let offset = 0;
    for (;;) {
      if (!this.#inPayload) {
        if (offset === end) return;
        offset = this.#consumeHeader(chunk, offset);
        if (!this.#inPayload) return; // the header continues in the next chunk
      }
      const remaining = this.#payloadLength - this.#received;
      const available = end - offset;
      if (this.#partial === undefined) {
        if (available >= remaining) {
          // The whole payload is in this chunk: hand out a view, no copy.
          const payload = chunk.subarray(offset, offset + remaining);
          offset += remaining;
          this.#emit(payload, onFrame);
          continue;
        }
        if (available === 0) return;
        // RFC 6455 §5.2 told us the exact length: one allocation, one copy per byte. Large
        // allocations are backed by untouched zero pages, so memory grows as bytes arrive. Past
        // EXACT_ALLOCATION_LIMIT (with a raised maxFrameSize) the buffer grows with the bytes
        // instead, so a header alone cannot make the parser reserve what was never sent.
        this.#partial = new Uint8Array(Math.min(this.#payloadLength, EXACT_ALLOCATION_LIMIT));
      }
      const take = remaining < available ? remaining : available;
      if (this.#received + take > this.#partial.length) this.#grow(this.#received + take);
      this.#partial.set(chunk.subarray(offset, offset + take), this.#received);
      this.#received += take;
      offset += take;
      if (this.#received < this.#payloadLength) return;
      const payload = this.#partial;
      this.#partial = undefined;
      this.#emit(payload, onFrame);
    }
  }

  #grow(needed: number): void {
    const grown = new Uint8Array(
      Math.min(this.#payloadLength, Math.max(needed, this.#partial!.length * 2)),
    );
    grown.set(this.#partial!.subarray(0, this.#received));
    this.#partial = grown;
  }

  /** Reads header bytes from `chunk` at `offset`; returns the offset after what it consumed. */
  #consumeHeader(chunk: Uint8Array, offset: number): number {
    const available = chunk.length - offset;
    if (this.#headLength === 0 && available >= 2) {
      const size = this.#headerSize(chunk[offset]!, chunk[offset + 1]!);
      if (available >= size) {
        this.#readHeader(chunk, offset);
        return offset + size;
      }
    }
    // The header spans chunks: gather it in #head, two bytes first to learn its size.
    const head = this.#head;
    if (this.#headLength < 2) {
      const take = Math.min(2 - this.#headLength, available);
      head.set(chunk.subarray(offset, offset + take), this.#headLength);
      this.#headLength += take;
      offset += take;
      if (this.#headLength < 2) return offset;
    }
    const size = this.#headerSize(head[0]!, head[1]!);
    const take = Math.min(size - this.#headLength, chunk.length - offset);
    head.set(chunk.subarray(offset, offset + take), this.#headLength);
    this.#headLength += take;
    offset += take;
    if (this.#headLength === size) {
      this.#headLength = 0;
      this.#readHeader(head, 0);
    }
    return offset;
  }

  /** Checks the first two header bytes and returns the header's full size. */
  #headerSize(b0: number, b1: number): number {
    // RFC 6455 §5.2: RSV1-3 must be 0 unless an extension defines them; none is negotiated.
    if ((b0 & 0x70) !== 0) {
      throw new ProtocolError(
        `Cannot parse frame: reserved bits "0x${(b0 & 0x70).toString(16)}" are set`,
        "RESERVED_BITS",
      );
    }
    const opcode = b0 & 0x0f;
    // RFC 6455 §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved.
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa) {
      throw new ProtocolError(
        `Cannot parse frame: opcode "0x${opcode.toString(16)}" is reserved`,
        "RESERVED_OPCODE",
      );
    }
    const length7 = b1 & 0x7f;
    if (opcode >= 0x8) {
      // RFC 6455 §5.5: control frames must not be fragmented and carry at most 125 bytes.
      if ((b0 & 0x80) === 0) {
        throw new ProtocolError(
          `Cannot parse frame: control frame "0x${opcode.toString(16)}" is fragmented`,
          "FRAGMENTED_CONTROL_FRAME",
        );
      }
      if (length7 > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError(
          `Cannot parse frame: control frame payload exceeds ${MAX_CONTROL_PAYLOAD} bytes`,
          "CONTROL_FRAME_TOO_BIG",
        );
      }
    }
    const masked = (b1 & 0x80) !== 0;
    // RFC 6455 §5.1: clients mask every frame, servers mask none.
    if (masked !== this.#requireMask) {
      throw masked
        ? new ProtocolError("Cannot parse frame: a server frame must not be masked", "MASKED_FRAME")
        : new ProtocolError("Cannot parse frame: a client frame must be masked", "UNMASKED_FRAME");
    }
    return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  }

  /** Reads a complete, already size-checked header from `bytes` at `at`. */
  #readHeader(bytes: Uint8Array, at: number): void {
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    let length = b1 & 0x7f;
    let next = at + 2;
    if (length === 126) {
      length = (bytes[next]! << 8) | bytes[next + 1]!;
      next += 2;
      // RFC 6455 §5.2: the minimal number of bytes must be used to encode the length.
      if (length < 126) throw nonMinimalLength(length);
    } else if (length === 127) {
      const high = ((bytes[next]! << 24) | (bytes[next + 1]! << 16) | (bytes[next + 2]! << 8) |
        bytes[next + 3]!) >>> 0;
      const low = ((bytes[next + 4]! << 24) | (bytes[next + 5]! << 16) |
        (bytes[next + 6]! << 8) | bytes[next + 7]!) >>> 0;
      next += 8;
      // RFC 6455 §5.2: the most significant bit must be 0. Beyond 2^53 - 1 no JS number is exact.
      if (high > 0x1fffff) {
        throw new ProtocolError(
          "Cannot parse frame: 64-bit payload length exceeds 2^53 - 1",
          "INVALID_PAYLOAD_LENGTH",
        );
      }
      length = high * 0x100000000 + low;
      if (length < 0x10000) throw nonMinimalLength(length);
    }
    if (length > this.#maxFrameSize) {
      throw new MessageTooBigError("FRAME_TOO_BIG", length, this.#maxFrameSize);
    }
    const opcode = b0 & 0x0f;
    this.#onHeader?.(opcode, length);
    this.#fin = (b0 & 0x80) !== 0;
    this.#rsv1 = (b0 & 0x40) !== 0;
    this.#rsv2 = (b0 & 0x20) !== 0;
    this.#rsv3 = (b0 & 0x10) !== 0;
    this.#opcode = opcode;
    this.#masked = (b1 & 0x80) !== 0;
    if (this.#masked) {
      const mask = this.#mask;
      mask[0] = bytes[next]!;
      mask[1] = bytes[next + 1]!;
      mask[2] = bytes[next + 2]!;
      mask[3] = bytes[next + 3]!;
    }
    this.#payloadLength = length;
    this.#received = 0;
    this.#inPayload = true;
  }

  #emit(payload: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.#masked) applyMask(payload, this.#mask);
    this.#inPayload = false;
    this.#received = 0;
    onFrame({
      fin: this.#fin,
      rsv1: this.#rsv1,
      rsv2: this.#rsv2,
      rsv3: this.#rsv3,
      opcode: this.#opcode,
      masked: this.#masked,
      payload,
    });
  }
}

function nonMinimalLength(length: number): ProtocolError {
  return new ProtocolError(
    `Cannot parse frame: payload length ${length} is not minimally encoded`,
    "INVALID_PAYLOAD_LENGTH",
  );
}

/**
 * A `TransformStream` from bytes, chunked in any way, to {@linkcode Frame}s. It errors with a
 * `WebSocketError` on the first violation, after the frames completed before it were read, and
 * with `TRUNCATED_FRAME` when the input ends inside a frame. It takes ownership of the chunks
 * written to it (payloads are unmasked in place).
 *
 * @example Parse frames from a byte stream
 * ```ts
 * import { FrameParserStream } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = ReadableStream.from([
 *   new Uint8Array([0x89, 0x85, 0x37, 0xfa]), // a masked ping, split mid-mask
 *   new Uint8Array([0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
 * ]);
 * const frames = await Array.fromAsync(bytes.pipeThrough(new FrameParserStream()));
 * assert.equal(frames.length, 1);
 * assert.equal(new TextDecoder().decode(frames[0]!.payload), "Hello");
 * ```
 */
export class FrameParserStream extends TransformStream<Uint8Array, Frame> {
  readonly #parser: FrameParser;

  /** Creates the stream; throws a `RangeError` for an invalid option. */
  constructor(options: FrameParserOptions = {}) {
    super({
      transform: (chunk, controller) => this.#handle(chunk, controller),
      flush: (controller) => this.#handleEnd(controller),
    });
    this.#parser = new FrameParser(options);
  }

  #handle(
    chunk: Uint8Array,
    controller: TransformStreamDefaultController<Frame>,
  ): Promise<void> | undefined {
    try {
      this.#parser.push(chunk, (frame) => controller.enqueue(frame));
    } catch (error) {
      return errorAfterDelivery(controller, error);
    }
  }

  #handleEnd(controller: TransformStreamDefaultController<Frame>): void {
    if (this.#parser.midFrame) {
      controller.error(
        new ProtocolError("Cannot parse frame: the input ended inside a frame", "TRUNCATED_FRAME"),
      );
    }
  }
}
