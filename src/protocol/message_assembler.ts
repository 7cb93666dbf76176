/**
 * Joining whole frames into messages (RFC 6455 §5.4), with UTF-8 validation and the message
 * limits.
 *
 * @module
 */

import type { Frame } from "./frame.ts";
import type { Message } from "./message.ts";
import { type MessageAssemblerOptions, MessageBuilder } from "./message_builder.ts";

export type { Message, MessageAssemblerOptions };

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
 * It is a `MessageBuilder` fed one slice per frame; the server reads through `MessageReader`,
 * which feeds the builder the slices as they arrive.
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
  readonly #builder: MessageBuilder;

  /** Creates an assembler; throws a `RangeError` for an invalid option. */
  constructor(options: MessageAssemblerOptions = {}) {
    this.#builder = new MessageBuilder(options);
  }

  /** Whether a fragmented message was started and not finished. */
  get midMessage(): boolean {
    return this.#builder.midMessage;
  }

  /**
   * Bytes of buffer memory held for the message being assembled, counting the whole buffer
   * behind every view kept, and two bytes per UTF-16 code unit of decoded text.
   */
  get heldBytes(): number {
    return this.#builder.heldBytes;
  }

  /**
   * Checks, before a frame's payload arrives, that a frame with this opcode and payload length
   * may come next. Throws what {@linkcode MessageAssembler.push} would throw for it. Pass it as a
   * `FrameParser`'s `onHeader` so a message limit fails while the bytes are still arriving.
   */
  checkHeader(opcode: number, payloadLength: number): void {
    this.#builder.checkHeader(opcode, payloadLength);
  }

  /**
   * Adds a frame. Returns the message it completes (a control frame completes at once), or
   * `undefined` while a fragmented message is incomplete. Throws a `WebSocketError` on a
   * violation; once it threw, every later call throws the same error.
   */
  push(frame: Frame): Message | undefined {
    const builder = this.#builder;
    builder.header(frame.opcode, frame.fin, frame.payload.length);
    return builder.payload(frame.payload, true);
  }
}
