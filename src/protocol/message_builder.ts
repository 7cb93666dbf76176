/**
 * Building messages from frame headers and payload slices (RFC 6455 §5.4), with UTF-8 validated
 * slice by slice and the message limits checked from each header.
 *
 * @module
 */

import { controlMessage } from "./control_message.ts";
import { Opcode } from "./constants.ts";
import { MessageTooBigError, ProtocolError } from "./errors.ts";
import { checkLimit, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE } from "./limits.ts";
import { BinaryBuffer } from "./binary_buffer.ts";
import { type CompressedMessage, compressedSizeLimit } from "./compressed_message.ts";
import type { Message } from "./message.ts";
import { decodeUtf8, Utf8Slices } from "./utf8_slices.ts";

/** Options of {@linkcode MessageBuilder}, `MessageAssembler` and `MessageAssemblerStream`. */
export interface MessageAssemblerOptions {
  /**
   * The largest assembled message, in bytes: a positive integer or `Infinity`. Checked from each
   * frame header; crossing it fails with `MESSAGE_TOO_BIG` (1009).
   *
   * @default {16777216}
   */
  maxMessageSize?: number;
  /**
   * The most frames one message may have, empty ones included: a positive integer or `Infinity`.
   * Crossing it fails with `TOO_MANY_FRAGMENTS` (1009).
   *
   * @default {16384}
   */
  maxFragments?: number;
}

/** Options of {@linkcode MessageBuilder}: those of the assembler, and permessage-deflate's. */
export interface MessageBuilderOptions extends MessageAssemblerOptions {
  /**
   * Gets each message whose first frame had RSV1 set (RFC 7692 §6.1), still compressed, in its
   * place among the others. Its compressed bytes are held up to
   * `compressedSizeLimit(maxMessageSize)`; the inflater applies `maxMessageSize` itself.
   * Without it, RSV1 is a protocol error.
   */
  onCompressed?: (message: CompressedMessage) => void;
}

/**
 * Builds messages from frames as they arrive, header first, then the payload in slices: the
 * other half of `FrameScanner`. Call {@linkcode MessageBuilder.header} for each frame header and
 * {@linkcode MessageBuilder.payload} for each slice of its payload; `payload` returns the message
 * the slice completes.
 *
 * - Limits (`maxMessageSize`, `maxFragments`) and the order of frames fail from the header,
 *   before any payload.
 * - Text is validated as UTF-8 slice by slice, so invalid bytes fail (1007) as soon as they
 *   arrive, also in the middle of a frame.
 * - A message whose payload arrives in one slice is handed out as that slice, without a copy. A
 *   one-frame message spanning slices is copied once into a buffer of its exact size. A
 *   fragmented message keeps large slices as views and gathers small ones into blocks, then joins
 *   them, so it holds at most the message size plus 128 KiB.
 *
 * @example Build a text message from two slices of one frame
 * ```ts
 * import { MessageBuilder, Opcode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const builder = new MessageBuilder({ maxMessageSize: 1024 });
 * const bytes = new TextEncoder().encode("Hello");
 * builder.header(Opcode.Text, true, bytes.length);
 * assert.equal(builder.payload(bytes.subarray(0, 2), false), undefined);
 * assert.deepEqual(builder.payload(bytes.subarray(2), true), { type: "text", data: "Hello" });
 * ```
 */
export class MessageBuilder {
  readonly #maxMessageSize: number;
  readonly #maxFragments: number;
  // Made for the first text that arrives in pieces: most connections never need one.
  #slices: Utf8Slices | undefined;

  // The frame whose payload is arriving: its opcode (-1 when none), FIN, length and progress.
  #frameOpcode = -1;
  #frameFin = false;
  #frameLength = 0;
  #frameReceived = 0;
  // A control frame's payload, when it arrives in more than one slice.
  #control: Uint8Array | undefined;

  // The data message being built: its opcode (0 when none), frame count and declared size.
  #opcode = 0;
  #fragments = 0;
  #size = 0;
  #started = false;
  #text: string[] = [];
  // A binary message that did not arrive in one slice; made when the first one comes.
  #binary: BinaryBuffer | undefined;

  // permessage-deflate: where compressed messages go, and whether this one is.
  readonly #onCompressed: ((message: CompressedMessage) => void) | undefined;
  #compressed = false;

  #error: unknown;

  /** Creates a builder; throws a `RangeError` for an invalid option. */
  constructor(options: MessageBuilderOptions = {}) {
    this.#maxMessageSize = checkLimit(
      "maxMessageSize",
      options.maxMessageSize,
      DEFAULT_MAX_MESSAGE_SIZE,
    );
    this.#maxFragments = checkLimit("maxFragments", options.maxFragments, DEFAULT_MAX_FRAGMENTS);
    this.#onCompressed = options.onCompressed;
  }

  /** Whether a data message was started and not finished. */
  get midMessage(): boolean {
    return this.#opcode !== 0;
  }

  /**
   * Bytes of buffer memory held for the message being built, counting the whole buffer behind
   * every view kept, and two bytes per UTF-16 code unit of decoded text.
   */
  get heldBytes(): number {
    let held = this.#binary?.heldBytes ?? 0;
    for (const part of this.#text) held += part.length * 2;
    return held;
  }

  /**
   * Checks that a frame with this opcode and payload length may come next, and changes nothing.
   * Throws what {@linkcode MessageBuilder.header} would throw for it.
   */
  checkHeader(opcode: number, payloadLength: number): void {
    if (this.#error !== undefined) throw this.#error;
    if (opcode >= Opcode.Close) return;
    this.#checkSequence(opcode);
    this.#checkLimits(payloadLength);
  }

  /**
   * Starts a frame: checks its opcode, its place in the message and the limits. Throws a
   * `WebSocketError` on a violation; once it threw, every later call throws the same error.
   */
  header(opcode: number, fin: boolean, payloadLength: number, rsv1 = false): void {
    if (this.#error !== undefined) throw this.#error;
    if (
      this.#opcode === 0 && (opcode === Opcode.Text || opcode === Opcode.Binary) &&
      payloadLength <= this.#maxMessageSize && !rsv1
    ) {
      // The common case, a data frame starting a message within the limits: nothing to check.
      this.#opcode = opcode;
      this.#fragments = 1;
      this.#size = payloadLength;
    } else {
      try {
        if (rsv1) this.#startCompressed(opcode);
        this.#checkFrame(opcode, payloadLength);
      } catch (error) {
        throw this.#fail(error);
      }
    }
    this.#frameOpcode = opcode;
    this.#frameFin = fin;
    this.#frameLength = payloadLength;
    this.#frameReceived = 0;
  }

  /**
   * Adds the next slice of the current frame's payload (`end` on its last slice). Returns the
   * message the slice completes: a control frame's, or a data message's on the last slice of its
   * final frame. Throws a `WebSocketError` on a violation, such as invalid UTF-8 in the slice.
   * The builder may keep the slice as a view: its bytes must not change afterwards.
   */
  payload(slice: Uint8Array, end: boolean): Message | undefined {
    if (this.#error !== undefined) throw this.#error;
    const opcode = this.#frameOpcode;
    if (
      end && this.#frameFin && !this.#started && opcode > 0 && opcode < Opcode.Close &&
      slice.length === this.#frameLength
    ) {
      // The common case: a whole message in one slice, handed on without a copy. Nothing but
      // the header's counts was touched, so nothing else needs resetting.
      this.#frameOpcode = -1;
      this.#opcode = 0;
      this.#fragments = 0;
      this.#size = 0;
      if (this.#compressed) return this.#handOnCompressed(opcode, slice);
      if (opcode === Opcode.Binary) return { type: "binary", data: slice };
      try {
        return { type: "text", data: decodeUtf8(slice) };
      } catch (error) {
        throw this.#fail(error);
      }
    }
    try {
      const received = this.#frameReceived + slice.length;
      if (opcode < 0 || received > this.#frameLength || (end && received < this.#frameLength)) {
        throw new RangeError(
          `Cannot add payload: ${received} bytes do not fit a frame of ${this.#frameLength}`,
        );
      }
      this.#frameReceived = received;
      if (end) this.#frameOpcode = -1;
      if (opcode >= Opcode.Close) return this.#addControl(opcode, slice, end);
      const last = end && this.#frameFin;
      this.#started = true;
      if (this.#opcode === Opcode.Text && !this.#compressed) {
        // Decoding as slices arrive validates early and keeps no reference to read buffers.
        this.#slices ??= new Utf8Slices();
        const part = this.#slices.decode(slice, last);
        if (part.length > 0) this.#text.push(part);
      } else {
        this.#binary ??= new BinaryBuffer(this.#maxMessageSize);
        // RFC 6455 §5.2: a one-frame message's header gave its exact size.
        if (this.#fragments === 1 && this.#frameFin) this.#binary.addExact(slice, this.#size);
        else this.#binary.keep(slice);
      }
      if (!last) return undefined;
      if (this.#compressed) {
        const compressed = this.#binary!.join(this.#size);
        const type = this.#opcode;
        this.#reset();
        return this.#handOnCompressed(type, compressed);
      }
      const message: Message = this.#opcode === Opcode.Text
        ? { type: "text", data: joinText(this.#text) }
        : { type: "binary", data: this.#binary!.join(this.#size) };
      this.#reset();
      return message;
    } catch (error) {
      throw this.#fail(error);
    }
  }

  /** Checks a frame header other than a message's first within the limits, and counts it. */
  #checkFrame(opcode: number, payloadLength: number): void {
    // RFC 6455 §5.2: frames may come from elsewhere than FrameScanner, which checks this too.
    if ((opcode > Opcode.Binary && opcode < Opcode.Close) || opcode > Opcode.Pong) {
      throw new ProtocolError(
        `Cannot assemble message: opcode "0x${opcode.toString(16)}" is reserved`,
        "RESERVED_OPCODE",
      );
    }
    if (opcode >= Opcode.Close) return;
    this.#checkSequence(opcode);
    this.#checkLimits(payloadLength);
    if (opcode !== Opcode.Continuation) this.#opcode = opcode;
    this.#fragments++;
    this.#size += payloadLength;
  }

  #fail(error: unknown): unknown {
    this.#error = error;
    this.#reset();
    this.#control = undefined;
    return error;
  }

  #checkSequence(opcode: number): void {
    // RFC 6455 §5.4: a continuation continues a message; a new message waits for the last one.
    if (opcode === Opcode.Continuation) {
      if (this.#opcode === 0) {
        throw new ProtocolError(
          "Cannot assemble message: continuation frame without a message to continue",
          "UNEXPECTED_CONTINUATION",
        );
      }
    } else if (this.#opcode !== 0) {
      throw new ProtocolError(
        "Cannot assemble message: new data frame before the previous message finished",
        "EXPECTED_CONTINUATION",
      );
    }
  }

  #checkLimits(payloadLength: number): void {
    const fragments = this.#fragments + 1;
    if (fragments > this.#maxFragments) {
      throw new MessageTooBigError("TOO_MANY_FRAGMENTS", fragments, this.#maxFragments);
    }
    const size = this.#size + payloadLength;
    const limit = this.#compressed
      ? compressedSizeLimit(this.#maxMessageSize)
      : this.#maxMessageSize;
    if (size > limit) throw new MessageTooBigError("MESSAGE_TOO_BIG", size, limit);
  }

  /** RFC 7692 §6.1: RSV1 on a message's first frame marks it compressed. */
  #startCompressed(opcode: number): void {
    if (
      this.#onCompressed === undefined || this.#opcode !== 0 || opcode === Opcode.Continuation ||
      opcode >= Opcode.Close
    ) {
      throw new ProtocolError(
        "Cannot assemble message: RSV1 is set outside the first frame of a compressed message",
        "RESERVED_BITS",
      );
    }
    this.#compressed = true;
  }

  /** Hands a whole compressed message to `onCompressed`; the caller returns nothing. */
  #handOnCompressed(opcode: number, payload: Uint8Array): undefined {
    this.#compressed = false;
    const type = opcode === Opcode.Text ? "text" : "binary";
    this.#onCompressed!({ type, compressed: true, parts: [payload] });
    return undefined;
  }

  /** Gathers a control frame's payload (RFC 6455 §5.5: at most 125 bytes) and reads it. */
  #addControl(opcode: number, slice: Uint8Array, end: boolean): Message | undefined {
    let payload = slice;
    if (!end || this.#frameReceived > slice.length) {
      let control = this.#control;
      if (control === undefined || control.length < this.#frameLength) {
        control = this.#control = new Uint8Array(Math.max(this.#frameLength, 125));
      }
      control.set(slice, this.#frameReceived - slice.length);
      if (!end) return undefined;
      payload = control.subarray(0, this.#frameLength);
    }
    return controlMessage(opcode, payload);
  }

  #reset(): void {
    this.#compressed = false;
    this.#slices?.reset();
    this.#opcode = 0;
    this.#fragments = 0;
    this.#size = 0;
    this.#started = false;
    if (this.#text.length > 0) this.#text = [];
    this.#binary?.reset();
  }
}

/**
 * Joins decoded parts. A few parts are joined with `+`, which engines keep as a rope until the
 * text is read: measured up to twice as fast as `join` for a large message in a few slices. Many
 * small parts are joined flat, so that rope nodes do not outweigh the text.
 */
function joinText(parts: readonly string[]): string {
  if (parts.length > 64) return parts.join("");
  let text = parts[0] ?? "";
  for (let i = 1; i < parts.length; i++) text += parts[i]!;
  return text;
}
