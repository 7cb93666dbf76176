/**
 * Bytes in, messages out: the frame scanner and the message builder driven as one machine, the
 * way a server reads a connection.
 *
 * @module
 */

import { type FrameHandler, FrameScanner } from "./frame_scanner.ts";
import type { CompressedMessage } from "./compressed_message.ts";
import type { Message } from "./message.ts";
import { MessageBuilder } from "./message_builder.ts";

/** Options of {@linkcode MessageReader}: the limits of one connection's incoming side. */
export interface MessageReaderOptions {
  /**
   * The largest payload of one frame, in bytes, or `Infinity`.
   *
   * @default {16777216}
   */
  maxFrameSize?: number;
  /**
   * The largest assembled message, in bytes, or `Infinity`.
   *
   * @default {16777216}
   */
  maxMessageSize?: number;
  /**
   * The most frames in one message, or `Infinity`.
   *
   * @default {16384}
   */
  maxFragments?: number;
  /**
   * Turns on permessage-deflate (RFC 7692 §6): RSV1 is accepted on the first frame of a data
   * message, and each such message is handed here still compressed, in its place among the
   * others, instead of to `push`'s `onMessage`. Without it, RSV1 is a protocol error (1002).
   */
  onCompressed?: (message: CompressedMessage) => void;
}

/** The longest frame header, counted in `heldBytes` as the scanner's header buffer. */
const MAX_HEADER_SIZE = 14;

/**
 * Reads client frames (masked, RFC 6455 §5.1) into messages. It takes ownership of the chunks
 * pushed to it: payloads are unmasked in place.
 *
 * Payload bytes go from the chunk to the message as they arrive: every limit fails from a frame's
 * header, before its payload; invalid UTF-8 fails (1007) in the chunk that brings it, also in
 * the middle of a frame; a message that arrives in one chunk is handed out as a view of it, with
 * no copy, and any other is copied once into its buffer (small fragments of a fragmented binary
 * message twice, through 64 KiB blocks).
 *
 * @example Read a masked "Hello" (RFC 6455 §5.7)
 * ```ts
 * import { MessageReader } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const reader = new MessageReader({ maxMessageSize: 1024 });
 * const messages: unknown[] = [];
 * reader.push(
 *   new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
 *   (message) => messages.push(message),
 * );
 * assert.deepEqual(messages, [{ type: "text", data: "Hello" }]);
 * ```
 */
export class MessageReader {
  readonly #scanner: FrameScanner;
  readonly #builder: MessageBuilder;
  readonly #handler: FrameHandler;
  #onMessage: (message: Message) => void = () => {};

  /** Creates a reader; throws a `RangeError` for a limit that is not a positive integer. */
  constructor(options: MessageReaderOptions = {}) {
    const builder = new MessageBuilder({
      ...(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize }),
      ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
      ...(options.onCompressed === undefined ? {} : { onCompressed: options.onCompressed }),
    });
    this.#builder = builder;
    this.#scanner = new FrameScanner({
      ...(options.maxFrameSize === undefined ? {} : { maxFrameSize: options.maxFrameSize }),
      role: "server",
      allowRsv1: options.onCompressed !== undefined,
    });
    this.#handler = {
      onHeader: (opcode, fin, payloadLength, rsv1) =>
        builder.header(opcode, fin, payloadLength, rsv1),
      onPayload: (slice, end) => {
        const message = builder.payload(slice, end);
        if (message !== undefined) this.#onMessage(message);
      },
    };
  }

  /** Whether a frame or a fragmented message was started and not finished. */
  get midMessage(): boolean {
    return this.#scanner.midFrame || this.#builder.midMessage;
  }

  /**
   * Bytes of buffer memory held for the message being read, counting the whole buffer behind
   * every view kept.
   */
  get heldBytes(): number {
    return this.#builder.heldBytes + MAX_HEADER_SIZE;
  }

  /**
   * Feeds bytes. Calls `onMessage` with every message (data or control) they complete, in order,
   * and throws a `WebSocketError` for the first violation, after the messages before it; once it
   * threw, every later call throws the same error.
   */
  push(chunk: Uint8Array, onMessage: (message: Message) => void): void {
    this.#onMessage = onMessage;
    this.#scanner.push(chunk, this.#handler);
  }
}
