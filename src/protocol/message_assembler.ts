/**
 * Joining frames into messages (RFC 6455 §5.4), with UTF-8 validation and the message limits.
 *
 * @module
 */

import { isValidCloseCode, Opcode } from "./constants.ts";
import { InvalidDataError, MessageTooBigError, ProtocolError } from "./errors.ts";
import type { Frame } from "./frame.ts";
import { checkLimit, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE } from "./limits.ts";
import { errorAfterDelivery } from "./stream_errors.ts";

/**
 * A complete message, or a control frame passed through. A close without a status code has no
 * `code`.
 */
export type Message =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code?: number; reason: string };

/** Options of {@linkcode MessageAssembler} and {@linkcode MessageAssemblerStream}. */
export interface MessageAssemblerOptions {
  /**
   * The largest assembled message, in bytes: a positive integer or `Infinity`. Checked as each
   * frame arrives; crossing it fails with `MESSAGE_TOO_BIG` (1009).
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

/**
 * A payload smaller than this is copied rather than kept as a view: many tiny fragments must not
 * pin the large read buffers they were sliced from.
 */
const KEEP_THRESHOLD = 4096;
/** Small fragments are gathered into blocks of this size. */
const BLOCK_SIZE = 65536;

const EMPTY = new Uint8Array(0);
/** Shared, so decoding a fragment allocates no options object. */
const STREAM: TextDecodeOptions = { stream: true };
/** Decodes whole (unfragmented) text messages; a non-streaming decode leaves no state behind. */
const wholeDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A synchronous message assembler: push frames in, get messages out.
 *
 * - Data frames are joined; control frames pass through at once, also between fragments.
 * - `maxMessageSize` and `maxFragments` are enforced as each frame arrives.
 * - Text is validated as UTF-8 fragment by fragment, so bad data fails at the first fragment that
 *   cannot be valid (1007).
 * - Memory held stays within the message size plus 128 KiB: fragments that would pin more of a
 *   read buffer than that are copied.
 *
 * @example Join two fragments of a text message (RFC 6455 §5.7)
 * ```ts
 * import { MessageAssembler, Opcode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const assembler = new MessageAssembler();
 * const frame = { rsv1: false, rsv2: false, rsv3: false, masked: false };
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * assert.equal(assembler.push({ ...frame, fin: false, opcode: Opcode.Text, payload: bytes("Hel") }), undefined);
 * assert.deepEqual(
 *   assembler.push({ ...frame, fin: true, opcode: Opcode.Continuation, payload: bytes("lo") }),
 *   { type: "text", data: "Hello" },
 * );
 * ```
 */
export class MessageAssembler {
  readonly #maxMessageSize: number;
  readonly #maxFragments: number;
  // A streaming decoder, made for the first fragmented text message: most connections never
  // need one, and whole messages share a module-wide decoder.
  #decoder: TextDecoder | undefined;

  // The message being assembled: its opcode (0 when none), frame count and size so far.
  #opcode = 0;
  #fragments = 0;
  #size = 0;
  #text: string[] = [];
  #pieces: Uint8Array[] = [];
  #block: Uint8Array | undefined;
  #blockUsed = 0;
  // Bytes of buffers pinned by kept views beyond the views themselves.
  #slack = 0;

  #error: unknown;

  /** Creates an assembler; throws a `RangeError` for an invalid option. */
  constructor(options: MessageAssemblerOptions = {}) {
    this.#maxMessageSize = checkLimit(
      "maxMessageSize",
      options.maxMessageSize,
      DEFAULT_MAX_MESSAGE_SIZE,
    );
    this.#maxFragments = checkLimit("maxFragments", options.maxFragments, DEFAULT_MAX_FRAGMENTS);
  }

  /** Whether a fragmented message was started and not finished. */
  get midMessage(): boolean {
    return this.#opcode !== 0;
  }

  /**
   * Bytes of buffer memory held for the message being assembled, counting the whole buffer
   * behind every view kept, and two bytes per UTF-16 code unit of decoded text.
   */
  get heldBytes(): number {
    const buffers = new Set<ArrayBufferLike>();
    let held = 0;
    for (const piece of this.#pieces) {
      if (buffers.has(piece.buffer)) continue;
      buffers.add(piece.buffer);
      held += piece.buffer.byteLength;
    }
    if (this.#block !== undefined) held += this.#block.byteLength;
    for (const part of this.#text) held += part.length * 2;
    return held;
  }

  /**
   * Checks, before a frame's payload arrives, that a frame with this opcode and payload length
   * may come next. Throws what {@linkcode MessageAssembler.push} would throw for it. Pass it as a
   * `FrameParser`'s `onHeader` so a message limit fails while the bytes are still arriving.
   */
  checkHeader(opcode: number, payloadLength: number): void {
    if (this.#error !== undefined) throw this.#error;
    if (opcode >= Opcode.Close) return;
    this.#checkSequence(opcode);
    this.#checkLimits(payloadLength);
  }

  /**
   * Adds a frame. Returns the message it completes (a control frame completes at once), or
   * `undefined` while a fragmented message is incomplete. Throws a `WebSocketError` on a
   * violation; once it threw, every later call throws the same error.
   */
  push(frame: Frame): Message | undefined {
    if (this.#error !== undefined) throw this.#error;
    try {
      const opcode = frame.opcode;
      // RFC 6455 §5.2: frames may come from elsewhere than FrameParser, which checks this too.
      if ((opcode > Opcode.Binary && opcode < Opcode.Close) || opcode > Opcode.Pong) {
        throw new ProtocolError(
          `Cannot assemble message: opcode "0x${opcode.toString(16)}" is reserved`,
          "RESERVED_OPCODE",
        );
      }
      return opcode >= Opcode.Close ? controlMessage(frame) : this.#pushData(frame);
    } catch (error) {
      this.#error = error;
      this.#reset();
      throw error;
    }
  }

  #pushData(frame: Frame): Message | undefined {
    const { opcode, payload, fin } = frame;
    this.#checkSequence(opcode);
    this.#checkLimits(payload.length);
    if (opcode !== Opcode.Continuation && fin) {
      // The common case: a whole message in one frame, handed on without a copy.
      return opcode === Opcode.Text
        ? { type: "text", data: this.#decode(payload, false) }
        : { type: "binary", data: payload };
    }
    if (opcode !== Opcode.Continuation) this.#opcode = opcode;
    this.#fragments++;
    this.#size += payload.length;
    if (this.#opcode === Opcode.Text) {
      // Decoding as fragments arrive validates early and keeps no reference to read buffers.
      const part = this.#decode(payload, !fin);
      if (part.length > 0) this.#text.push(part);
    } else {
      this.#keep(payload);
    }
    if (!fin) return undefined;
    const message: Message = this.#opcode === Opcode.Text
      ? { type: "text", data: this.#text.join("") }
      : { type: "binary", data: this.#joinPieces() };
    this.#reset();
    return message;
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
    if (size > this.#maxMessageSize) {
      throw new MessageTooBigError("MESSAGE_TOO_BIG", size, this.#maxMessageSize);
    }
  }

  #decode(payload: Uint8Array, stream: boolean): string {
    try {
      if (stream) {
        this.#decoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
        return this.#decoder.decode(payload, STREAM);
      }
      // The last fragment of a message flushes its streaming decoder; a whole message has no
      // state to keep, so the shared decoder serves it.
      return (this.#opcode === 0 ? wholeDecoder : this.#decoder!).decode(payload);
    } catch {
      throw new InvalidDataError("Cannot decode text message: invalid UTF-8", "INVALID_UTF8");
    }
  }

  /**
   * Whether a view may pin `slack` more bytes. All views of a message together may pin one
   * block's worth, so what the assembler holds stays within the message size plus two blocks.
   */
  #affordSlack(slack: number): boolean {
    if (this.#slack + slack > BLOCK_SIZE) return false;
    this.#slack += slack;
    return true;
  }

  /** Keeps a binary fragment, copying it when keeping the view would pin a larger buffer. */
  #keep(payload: Uint8Array): void {
    const length = payload.length;
    const slack = payload.buffer.byteLength - length;
    if (length >= KEEP_THRESHOLD && slack <= length && this.#affordSlack(slack)) {
      this.#sealBlock();
      this.#pieces.push(payload);
      return;
    }
    if (length === 0) return;
    if (this.#block === undefined || this.#blockUsed + length > this.#block.length) {
      this.#sealBlock();
      this.#block = new Uint8Array(Math.max(length, Math.min(BLOCK_SIZE, this.#maxMessageSize)));
    }
    this.#block.set(payload, this.#blockUsed);
    this.#blockUsed += length;
  }

  #sealBlock(): void {
    const block = this.#block;
    if (block === undefined) return;
    const used = this.#blockUsed;
    // A mostly empty block is shrunk so that alternating small and large fragments cannot make
    // every small one cost a whole block.
    const slack = block.length - used;
    this.#pieces.push(
      slack <= used && this.#affordSlack(slack) ? block.subarray(0, used) : block.slice(0, used),
    );
    this.#block = undefined;
    this.#blockUsed = 0;
  }

  #joinPieces(): Uint8Array {
    this.#sealBlock();
    const pieces = this.#pieces;
    if (pieces.length === 0) return EMPTY;
    if (pieces.length === 1) return pieces[0]!;
    const joined = new Uint8Array(this.#size);
    let offset = 0;
    for (const piece of pieces) {
      joined.set(piece, offset);
      offset += piece.length;
    }
    return joined;
  }

  #reset(): void {
    this.#opcode = 0;
    this.#fragments = 0;
    this.#size = 0;
    this.#text = [];
    this.#pieces = [];
    this.#block = undefined;
    this.#blockUsed = 0;
    this.#slack = 0;
  }
}

const closeReasonDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Turns a control frame into its message. Payloads are copied: they are small and may be kept. */
function controlMessage(frame: Frame): Message {
  const payload = frame.payload;
  if (frame.opcode === Opcode.Ping) return { type: "ping", data: payload.slice() };
  if (frame.opcode === Opcode.Pong) return { type: "pong", data: payload.slice() };
  // RFC 6455 §5.5.1: an empty close body, or a 2-byte code followed by a UTF-8 reason.
  if (payload.length === 0) return { type: "close", reason: "" };
  if (payload.length === 1) {
    throw new ProtocolError(
      "Cannot read close frame: a 1-byte payload cannot hold a close code",
      "INVALID_CLOSE_PAYLOAD",
    );
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) {
    throw new ProtocolError(
      `Cannot read close frame: close code "${code}" may not be sent`,
      "INVALID_CLOSE_CODE",
    );
  }
  let reason: string;
  try {
    reason = closeReasonDecoder.decode(payload.subarray(2));
  } catch {
    throw new InvalidDataError(
      "Cannot read close frame: the reason is not valid UTF-8",
      "INVALID_CLOSE_REASON",
    );
  }
  return { type: "close", code, reason };
}

/**
 * A `TransformStream` from {@linkcode Frame}s to {@linkcode Message}s. It errors with a
 * `WebSocketError` on the first violation, after the messages completed before it were read, and
 * with `TRUNCATED_MESSAGE` when the input ends inside a fragmented message.
 *
 * @example Assemble messages from a byte stream
 * ```ts
 * import { FrameParserStream, MessageAssemblerStream } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = ReadableStream.from([
 *   // "Hel" + "lo", unmasked as a client receives them (RFC 6455 §5.7)
 *   new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]),
 * ]);
 * const messages = await Array.fromAsync(
 *   bytes
 *     .pipeThrough(new FrameParserStream({ role: "client" }))
 *     .pipeThrough(new MessageAssemblerStream({ maxMessageSize: 1024 })),
 * );
 * assert.deepEqual(messages, [{ type: "text", data: "Hello" }]);
 * ```
 */
export class MessageAssemblerStream extends TransformStream<Frame, Message> {
  readonly #assembler: MessageAssembler;

  /** Creates the stream; throws a `RangeError` for an invalid option. */
  constructor(options: MessageAssemblerOptions = {}) {
    super({
      transform: (frame, controller) => this.#handle(frame, controller),
      flush: (controller) => this.#handleEnd(controller),
    });
    this.#assembler = new MessageAssembler(options);
  }

  #handle(
    frame: Frame,
    controller: TransformStreamDefaultController<Message>,
  ): Promise<void> | undefined {
    try {
      const message = this.#assembler.push(frame);
      if (message !== undefined) controller.enqueue(message);
    } catch (error) {
      return errorAfterDelivery(controller, error);
    }
  }

  #handleEnd(controller: TransformStreamDefaultController<Message>): void {
    if (this.#assembler.midMessage) {
      controller.error(
        new ProtocolError(
          "Cannot assemble message: the input ended inside a fragmented message",
          "TRUNCATED_MESSAGE",
        ),
      );
    }
  }
}
