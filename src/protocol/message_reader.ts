/**
 * Bytes in, messages out: the frame parser and the message assembler driven as one machine, the
 * way a server reads a connection.
 *
 * @module
 */

import { FrameParser } from "./frame_parser.ts";
import type { Frame } from "./frame.ts";
import { type Message, MessageAssembler } from "./message_assembler.ts";

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
}

/**
 * Reads client frames (masked, RFC 6455 §5.1) into messages. Every limit fails from a frame's
 * header, before its payload is buffered. It takes ownership of the chunks pushed to it.
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
  readonly #parser: FrameParser;
  readonly #assembler: MessageAssembler;
  #onMessage: (message: Message) => void = () => {};

  /** Creates a reader; throws a `RangeError` for a limit that is not a positive integer. */
  constructor(options: MessageReaderOptions = {}) {
    const assembler = new MessageAssembler({
      ...(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize }),
      ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
    });
    this.#assembler = assembler;
    this.#parser = new FrameParser({
      ...(options.maxFrameSize === undefined ? {} : { maxFrameSize: options.maxFrameSize }),
      role: "server",
      // Message limits fail from the header, before the frame's payload arrives.
      onHeader: (opcode, length) => assembler.checkHeader(opcode, length),
    });
  }

  /**
   * Feeds bytes. Calls `onMessage` with every message (data or control) they complete, in order,
   * and throws a `WebSocketError` for the first violation, after the messages before it.
   */
  push(chunk: Uint8Array, onMessage: (message: Message) => void): void {
    this.#onMessage = onMessage;
    this.#parser.push(chunk, this.#onFrame);
  }

  readonly #onFrame = (frame: Frame): void => {
    const message = this.#assembler.push(frame);
    if (message !== undefined) this.#onMessage(message);
  };
}
