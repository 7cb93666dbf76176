/**
 * The sans-I/O wire core of RFC 6455: frames in and out, messages assembled under limits, and the
 * typed errors that carry the close code to send. Nothing here touches a socket or a clock.
 *
 * {@linkcode FrameParserStream} turns bytes into frames and {@linkcode MessageAssemblerStream}
 * turns frames into messages; {@linkcode FrameParser} and {@linkcode MessageAssembler} are the
 * same machines, driven synchronously. Underneath, {@linkcode FrameScanner} reads each frame
 * header and hands its payload on in slices as they arrive, and {@linkcode MessageBuilder} builds
 * messages from those slices, validating text as it comes; {@linkcode MessageReader} drives the
 * two together, as a server reads a connection.
 *
 * @example Parse client bytes into messages
 * ```ts
 * import { FrameParserStream, MessageAssemblerStream } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * // A masked "Hello" text frame from a client (RFC 6455 §5.7).
 * const bytes = ReadableStream.from([
 *   new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
 * ]);
 * const messages = bytes
 *   .pipeThrough(new FrameParserStream({ maxFrameSize: 65536 }))
 *   .pipeThrough(new MessageAssemblerStream({ maxMessageSize: 1 << 20, maxFragments: 64 }));
 * for await (const message of messages) {
 *   assert.deepEqual(message, { type: "text", data: "Hello" });
 * }
 * ```
 *
 * @module
 */

export {
  CloseCode,
  isControlOpcode,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  WEBSOCKET_GUID,
} from "./constants.ts";
export {
  type CloseFrameContent,
  closeFrameFor,
  InvalidDataError,
  MessageTooBigError,
  PolicyViolationError,
  ProtocolError,
  truncateUtf8,
  WebSocketError,
  type WebSocketErrorCode,
} from "./errors.ts";
export type { Frame } from "./frame.ts";
export {
  checkControlPayload,
  encodeClosePayload,
  encodeFrame,
  type EncodeFrameOptions,
} from "./frame_encoder.ts";
export { FrameParser, type FrameParserOptions } from "./frame_parser.ts";
export { FrameParserStream } from "./frame_parser_stream.ts";
export {
  type FrameHandler,
  FrameScanner,
  type FrameScannerOptions,
  type Role,
} from "./frame_scanner.ts";
export {
  checkLimit,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "./limits.ts";
export { type CompressedMessage, compressedSizeLimit } from "./compressed_message.ts";
export { applyMask } from "./mask.ts";
export type { Message } from "./message.ts";
export { MessageAssembler } from "./message_assembler.ts";
export { MessageAssemblerStream } from "./message_assembler_stream.ts";
export {
  type MessageAssemblerOptions,
  MessageBuilder,
  type MessageBuilderOptions,
} from "./message_builder.ts";
export { MessageReader, type MessageReaderOptions } from "./message_reader.ts";
