/**
 * Reading RFC 6455 frames as they arrive: each header as soon as it is complete, then its payload
 * in slices of the chunks pushed, unmasked in place. Nothing is buffered but a split header.
 *
 * @module
 */

import { MAX_CONTROL_PAYLOAD } from "./constants.ts";
import { MessageTooBigError, ProtocolError } from "./errors.ts";
import { checkLimit, DEFAULT_MAX_FRAME_SIZE } from "./limits.ts";
import { applyMask } from "./mask.ts";

/** Which end of the connection parses: servers receive masked frames, clients unmasked ones. */
export type Role = "server" | "client";

/** Options of {@linkcode FrameScanner}. */
export interface FrameScannerOptions {
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
   * Accept RSV1 on the first frame of a data message, as an extension such as permessage-deflate
   * (RFC 7692 §6) defines it; `onHeader` reports it. RSV1 on a control or continuation frame, and
   * RSV2 and RSV3 anywhere, are still rejected.
   *
   * @default {false}
   */
  allowRsv1?: boolean;
}

/**
 * What a {@linkcode FrameScanner} calls as it reads: a frame's header, then its payload in one or
 * more slices. Throwing from either rejects the input: the error propagates from `push`.
 */
export interface FrameHandler {
  /**
   * A frame header was read and checked (RFC 6455 §5.2); none of its payload was passed on yet.
   * `payloadLength` bytes follow in `onPayload` calls.
   */
  onHeader(opcode: number, fin: boolean, payloadLength: number, rsv1: boolean): void;
  /**
   * The next slice of the current frame's payload, unmasked, as a view of the chunk pushed. `end`
   * is true on the frame's last slice; a frame with an empty payload gets one empty slice.
   */
  onPayload(slice: Uint8Array, end: boolean): void;
}

/** The longest frame header: 2 bytes, a 64-bit length and a 4-byte mask (RFC 6455 §5.2). */
const MAX_HEADER_SIZE = 14;

/**
 * A synchronous, incremental frame reader at the level of payload slices. Feed it bytes with
 * {@linkcode FrameScanner.push}; it calls a {@linkcode FrameHandler} with each header and each
 * payload slice, in byte order, and throws a `WebSocketError` at the first violation.
 *
 * It never copies a payload: each slice is a view of the chunk it arrived in, unmasked in place,
 * the mask phase carried from one slice to the next. So a handler can validate, count or store
 * bytes as they arrive, before the frame is complete.
 *
 * @example Read a masked text frame that arrives in two chunks (RFC 6455 §5.7)
 * ```ts
 * import { FrameScanner } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const events: string[] = [];
 * const scanner = new FrameScanner({ role: "server" });
 * const handler = {
 *   onHeader: (opcode: number, fin: boolean, length: number) =>
 *     void events.push(`header ${opcode} ${fin} ${length}`),
 *   onPayload: (slice: Uint8Array, end: boolean) =>
 *     void events.push(`${new TextDecoder().decode(slice)} ${end}`),
 * };
 * scanner.push(new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f]), handler);
 * scanner.push(new Uint8Array([0x4d, 0x51, 0x58]), handler);
 * assert.deepEqual(events, ["header 1 true 5", "He false", "llo true"]);
 * ```
 */
export class FrameScanner {
  readonly #maxFrameSize: number;
  readonly #requireMask: boolean;
  readonly #allowRsv1: boolean;

  // Header bytes that arrived split across chunks.
  readonly #head = new Uint8Array(MAX_HEADER_SIZE);
  #headLength = 0;

  // The frame whose payload is arriving.
  #inPayload = false;
  #fin = false;
  #rsv1 = false;
  #opcode = 0;
  #masked = false;
  #remaining = 0;
  readonly #mask = new Uint8Array(4);
  // The mask rotated to the phase of a slice that starts mid-word.
  readonly #rotated = new Uint8Array(4);
  #maskPhase = 0;

  #error: unknown;

  /** Creates a scanner; throws a `RangeError` for an invalid option. */
  constructor(options: FrameScannerOptions = {}) {
    this.#maxFrameSize = checkLimit("maxFrameSize", options.maxFrameSize, DEFAULT_MAX_FRAME_SIZE);
    const role = options.role === undefined ? "server" : options.role;
    if (role !== "server" && role !== "client") {
      throw new RangeError(`Cannot set role: expected "server" or "client", got "${String(role)}"`);
    }
    this.#requireMask = role === "server";
    this.#allowRsv1 = options.allowRsv1 === true;
  }

  /** Whether a frame was started and not finished: bytes of its header or payload are due. */
  get midFrame(): boolean {
    return this.#inPayload || this.#headLength > 0;
  }

  /**
   * Reads `chunk`, calling `handler` for each header and payload slice, in order. Throws a
   * `WebSocketError` at the first violation (or what the handler threw), after the events before
   * it; once it threw, every later call throws the same error.
   */
  push(chunk: Uint8Array, handler: FrameHandler): void {
    if (this.#error !== undefined) throw this.#error;
    try {
      this.#scan(chunk, handler);
    } catch (error) {
      this.#error = error;
      throw error;
    }
  }

  #scan(chunk: Uint8Array, handler: FrameHandler): void {
    const end = chunk.length;
    let offset = 0;
    for (;;) {
      if (!this.#inPayload) {
        if (offset === end) return;
        offset = this.#consumeHeader(chunk, offset);
        if (!this.#inPayload) return; // the header continues in the next chunk
        handler.onHeader(this.#opcode, this.#fin, this.#remaining, this.#rsv1);
        if (this.#remaining === 0) {
          this.#inPayload = false;
          handler.onPayload(chunk.subarray(offset, offset), true);
          continue;
        }
      }
      const available = end - offset;
      if (available === 0) return;
      const remaining = this.#remaining;
      const take = remaining < available ? remaining : available;
      const slice = chunk.subarray(offset, offset + take);
      offset += take;
      if (this.#masked) this.#unmask(slice);
      this.#remaining = remaining - take;
      const last = take === remaining;
      if (last) this.#inPayload = false;
      handler.onPayload(slice, last);
    }
  }

  /** RFC 6455 §5.3: byte i of the payload is XORed with mask[i % 4], across slices. */
  #unmask(slice: Uint8Array): void {
    const phase = this.#maskPhase;
    if (phase === 0) {
      applyMask(slice, this.#mask);
    } else {
      const mask = this.#mask;
      const rotated = this.#rotated;
      rotated[0] = mask[phase]!;
      rotated[1] = mask[(phase + 1) & 3]!;
      rotated[2] = mask[(phase + 2) & 3]!;
      rotated[3] = mask[(phase + 3) & 3]!;
      applyMask(slice, rotated);
    }
    this.#maskPhase = (phase + slice.length) & 3;
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
    const opcode = b0 & 0x0f;
    // RFC 6455 §5.2: RSV1-3 must be 0 unless an extension defines them. RFC 7692 §6: RSV1 marks
    // the first frame of a compressed message, never a control or continuation frame.
    const reserved = b0 & 0x70;
    if (reserved !== 0 && (reserved !== 0x40 || !this.#allowRsv1 || opcode === 0 || opcode > 2)) {
      throw new ProtocolError(
        `Cannot parse frame: reserved bits "0x${reserved.toString(16)}" are set`,
        "RESERVED_BITS",
      );
    }
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
    this.#fin = (b0 & 0x80) !== 0;
    this.#rsv1 = (b0 & 0x40) !== 0;
    this.#opcode = b0 & 0x0f;
    this.#masked = (b1 & 0x80) !== 0;
    if (this.#masked) {
      const mask = this.#mask;
      mask[0] = bytes[next]!;
      mask[1] = bytes[next + 1]!;
      mask[2] = bytes[next + 2]!;
      mask[3] = bytes[next + 3]!;
      this.#maskPhase = 0;
    }
    this.#remaining = length;
    this.#inPayload = true;
  }
}

function nonMinimalLength(length: number): ProtocolError {
  return new ProtocolError(
    `Cannot parse frame: payload length ${length} is not minimally encoded`,
    "INVALID_PAYLOAD_LENGTH",
  );
}
