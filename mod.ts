/**
 * netws: a WebSocket server (RFC 6455) for Deno, Bun and Node, built to stay up when a client is
 * hostile. Every incoming frame and message is bounded as its bytes arrive.
 *
 * The protocol core is plain web-platform code: {@linkcode FrameParserStream} turns bytes into
 * frames, {@linkcode MessageAssemblerStream} turns frames into messages, and every violation is a
 * typed {@linkcode WebSocketError} carrying the close code to send.
 *
 * @example Quick start: parse client bytes into messages
 * ```ts
 * import { FrameParserStream, MessageAssemblerStream } from "@netws/server";
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
} from "./src/constants.ts";
export {
  type CloseFrameContent,
  closeFrameFor,
  HandshakeError,
  InvalidDataError,
  MessageTooBigError,
  PolicyViolationError,
  ProtocolError,
  truncateUtf8,
  WebSocketError,
  type WebSocketErrorCode,
} from "./src/errors.ts";
export type { Frame } from "./src/frame.ts";
export {
  checkControlPayload,
  encodeClosePayload,
  encodeFrame,
  type EncodeFrameOptions,
} from "./src/frame_encoder.ts";
export {
  FrameParser,
  type FrameParserOptions,
  FrameParserStream,
  type Role,
} from "./src/frame_parser.ts";
export {
  checkLimit,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "./src/limits.ts";
export { applyMask } from "./src/mask.ts";
export {
  type Message,
  MessageAssembler,
  type MessageAssemblerOptions,
  MessageAssemblerStream,
} from "./src/message_assembler.ts";
export {
  acceptKey,
  type AcceptResponseOptions,
  buildAcceptResponse,
  buildErrorResponse,
  DEFAULT_MAX_HEADER_FIELDS,
  type ErrorResponseOptions,
  isUpgradeRequest,
  type ParsedRequest,
  parseRequestHead,
  type ParseRequestHeadOptions,
  toRequest,
  type UpgradeRequest,
  validateUpgrade,
} from "./src/handshake.ts";
export { HandshakeRequest } from "./src/handshake_request.ts";
export { encodeResponse } from "./src/http_response.ts";
export {
  type CloseInfo,
  Connection,
  type ConnectionEventMap,
  type ConnectionListener,
  type ConnectionState,
  type DataMessage,
} from "./src/connection.ts";
export {
  DEFAULT_MAX_BUFFERED_AMOUNT,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_SEND_SIZE,
  serve,
  type ServeOptions,
  Server,
} from "./src/server.ts";
export type {
  ByteConnection,
  Listen,
  Listener,
  ListenOptions,
  RemoteAddress,
  TlsOptions,
} from "./src/adapters/types.ts";
