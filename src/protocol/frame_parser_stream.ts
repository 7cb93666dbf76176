/**
 * Frames from a byte stream, with the error after the frames before it.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import type { Frame } from "./frame.ts";
import { FrameParser, type FrameParserOptions } from "./frame_parser.ts";
import { orderedStage } from "./ordered_stage.ts";

/**
 * A transform stream from bytes, chunked in any way, to {@linkcode Frame}s. It takes ownership of
 * the chunks written to it (payloads are unmasked in place).
 *
 * Every frame completed before the first violation is delivered, then the stream errors with that
 * violation (a `WebSocketError`), or with `TRUNCATED_FRAME` when the input ends inside a frame,
 * or with the error its input was aborted with. That holds however the input is chunked and
 * whatever the queueing strategies: the error waits until the reader has read every frame before
 * it, and no timer is involved. The strategies work as in a `TransformStream`.
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
export class FrameParserStream implements TransformStream<Uint8Array, Frame> {
  /** The frames parsed. */
  readonly readable: ReadableStream<Frame>;
  /** Where the bytes go. */
  readonly writable: WritableStream<Uint8Array>;

  /** Creates the stream; throws a `RangeError` for an invalid option or strategy. */
  constructor(
    options: FrameParserOptions = {},
    writableStrategy?: QueuingStrategy<Uint8Array>,
    readableStrategy?: QueuingStrategy<Frame>,
  ) {
    const parser = new FrameParser(options);
    const stage = orderedStage<Uint8Array, Frame>(
      {
        write: (chunk, emit) => parser.push(chunk, emit),
        end: () => {
          if (parser.midFrame) {
            throw new ProtocolError(
              "Cannot parse frame: the input ended inside a frame",
              "TRUNCATED_FRAME",
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
