/**
 * Messages from a frame stream, with the error after the messages before it.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import type { Frame } from "./frame.ts";
import type { Message } from "./message.ts";
import { MessageAssembler } from "./message_assembler.ts";
import type { MessageAssemblerOptions } from "./message_builder.ts";
import { orderedStage } from "./ordered_stage.ts";

/**
 * A transform stream from {@linkcode Frame}s to {@linkcode Message}s.
 *
 * Every message completed before the first violation is delivered, then the stream errors with
 * that violation (a `WebSocketError`), or with `TRUNCATED_MESSAGE` when the input ends inside a
 * fragmented message, or with the error its input was aborted with, such as a
 * `FrameParserStream`'s. So in a pipeline the error that comes first in the bytes is the one
 * reported, after every message before it, whatever the chunking and queueing strategies. The
 * strategies work as in a `TransformStream`.
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
export class MessageAssemblerStream implements TransformStream<Frame, Message> {
  /** The messages assembled. */
  readonly readable: ReadableStream<Message>;
  /** Where the frames go. */
  readonly writable: WritableStream<Frame>;

  /** Creates the stream; throws a `RangeError` for an invalid option or strategy. */
  constructor(
    options: MessageAssemblerOptions = {},
    writableStrategy?: QueuingStrategy<Frame>,
    readableStrategy?: QueuingStrategy<Message>,
  ) {
    const assembler = new MessageAssembler(options);
    const stage = orderedStage<Frame, Message>(
      {
        write: (frame, emit) => {
          const message = assembler.push(frame);
          if (message !== undefined) emit(message);
        },
        end: () => {
          if (assembler.midMessage) {
            throw new ProtocolError(
              "Cannot assemble message: the input ended inside a fragmented message",
              "TRUNCATED_MESSAGE",
            );
          }
        },
      },
      writableStrategy,
      readableStrategy,
    );
    this.readable = stage.readable;
    this.writable = stage.writable;
  }
}
