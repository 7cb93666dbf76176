/**
 * Typed errors. Every failure that can end a connection is a {@linkcode WebSocketError} with the
 * close code to send and a stable `code` string; {@linkcode closeFrameFor} is the one place that
 * turns any error into the close frame to send.
 *
 * @module
 */

import { CloseCode, MAX_CLOSE_REASON_BYTES } from "./constants.ts";

/**
 * Stable string codes carried by {@linkcode WebSocketError}. The README lists what each means.
 */
export type WebSocketErrorCode =
  // 1002: the peer broke RFC 6455
  | "RESERVED_BITS"
  | "RESERVED_OPCODE"
  | "CONTROL_FRAME_TOO_BIG"
  | "FRAGMENTED_CONTROL_FRAME"
  | "INVALID_PAYLOAD_LENGTH"
  | "UNMASKED_FRAME"
  | "MASKED_FRAME"
  | "UNEXPECTED_CONTINUATION"
  | "EXPECTED_CONTINUATION"
  | "INVALID_CLOSE_PAYLOAD"
  | "INVALID_CLOSE_CODE"
  | "TRUNCATED_FRAME"
  | "TRUNCATED_MESSAGE"
  // 1007: data did not match its type
  | "INVALID_UTF8"
  | "INVALID_CLOSE_REASON"
  | "INVALID_COMPRESSED_DATA"
  // 1008: a policy of the server
  | "POLICY_VIOLATION"
  | "SEND_BUFFER_FULL"
  // 1009: a limit
  | "FRAME_TOO_BIG"
  | "MESSAGE_TOO_BIG"
  | "TOO_MANY_FRAGMENTS";

/**
 * The base of every error netws raises for a connection. `closeCode` is the code to close with,
 * `code` a stable string to branch on (messages may change, codes do not).
 *
 * @example Branch on the code of an error
 * ```ts
 * import { FrameParser, WebSocketError } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const parser = new FrameParser();
 * try {
 *   parser.push(new Uint8Array([0xf1, 0x80, 0, 0, 0, 0]), () => {}); // RSV bits set
 *   assert.fail("expected an error");
 * } catch (error) {
 *   assert.ok(error instanceof WebSocketError);
 *   assert.equal(error.closeCode, 1002);
 *   assert.equal(error.code, "RESERVED_BITS");
 * }
 * ```
 */
export class WebSocketError extends Error {
  /** The close code to send to the peer. */
  readonly closeCode: number;
  /** A stable string naming the kind of failure. */
  readonly code: WebSocketErrorCode;

  /** Creates an error; prefer the subclasses. */
  constructor(message: string, closeCode: number, code: WebSocketErrorCode) {
    super(message);
    this.name = "WebSocketError";
    this.closeCode = closeCode;
    this.code = code;
  }
}

/**
 * The peer broke RFC 6455: close code 1002.
 *
 * @example Recognise a protocol error
 * ```ts
 * import { ProtocolError } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const error = new ProtocolError("Cannot parse frame: reserved opcode 3", "RESERVED_OPCODE");
 * assert.equal(error.closeCode, 1002);
 * ```
 */
export class ProtocolError extends WebSocketError {
  /** Creates a protocol error with its stable code. */
  constructor(message: string, code: WebSocketErrorCode) {
    super(message, CloseCode.ProtocolError, code);
    this.name = "ProtocolError";
  }
}

/**
 * A message's data did not match its type (text that is not UTF-8): close code 1007.
 *
 * @example Recognise invalid data
 * ```ts
 * import { InvalidDataError } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const error = new InvalidDataError("Cannot decode text: invalid UTF-8", "INVALID_UTF8");
 * assert.equal(error.closeCode, 1007);
 * ```
 */
export class InvalidDataError extends WebSocketError {
  /** Creates an invalid-data error with its stable code. */
  constructor(message: string, code: WebSocketErrorCode) {
    super(message, CloseCode.InvalidPayload, code);
    this.name = "InvalidDataError";
  }
}

/**
 * The peer broke a policy of the server, such as not reading what it is sent: close code 1008.
 *
 * @example Recognise a policy violation
 * ```ts
 * import { PolicyViolationError } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const error = new PolicyViolationError("Cannot send: the peer is not reading", "SEND_BUFFER_FULL");
 * assert.equal(error.closeCode, 1008);
 * ```
 */
export class PolicyViolationError extends WebSocketError {
  /** Creates a policy error with its stable code. */
  constructor(message: string, code: WebSocketErrorCode) {
    super(message, CloseCode.PolicyViolation, code);
    this.name = "PolicyViolationError";
  }
}

/**
 * A frame, a message or a fragment count went over its limit: close code 1009. `size` is what the
 * peer reached (bytes, or frames for `TOO_MANY_FRAGMENTS`) and `limit` what it may reach.
 *
 * @example Read how far a limit was crossed
 * ```ts
 * import { MessageTooBigError } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const error = new MessageTooBigError("MESSAGE_TOO_BIG", 70000, 65536);
 * assert.equal(error.closeCode, 1009);
 * assert.ok(error.size > error.limit);
 * ```
 */
export class MessageTooBigError extends WebSocketError {
  /** What the peer reached: bytes, or frames for `TOO_MANY_FRAGMENTS`. */
  readonly size: number;
  /** The limit that was crossed. */
  readonly limit: number;

  /** Creates the error; the message is derived from the code, size and limit. */
  constructor(
    code: "FRAME_TOO_BIG" | "MESSAGE_TOO_BIG" | "TOO_MANY_FRAGMENTS",
    size: number,
    limit: number,
  ) {
    super(tooBigMessage(code, size, limit), CloseCode.MessageTooBig, code);
    this.name = "MessageTooBigError";
    this.size = size;
    this.limit = limit;
  }
}

function tooBigMessage(code: string, size: number, limit: number): string {
  switch (code) {
    case "FRAME_TOO_BIG":
      return `Cannot accept frame: payload of ${size} bytes exceeds the limit of ${limit}`;
    case "TOO_MANY_FRAGMENTS":
      return `Cannot accept message: ${size} frames exceed the limit of ${limit}`;
    default:
      return `Cannot accept message: ${size} bytes exceed the limit of ${limit}`;
  }
}

/** A close frame's content: the code and a UTF-8 reason of at most 123 bytes. */
export interface CloseFrameContent {
  /** The close code. */
  code: number;
  /** The reason, already cut to fit a control frame. */
  reason: string;
}

/**
 * Turns any error into the close frame to send. A {@linkcode WebSocketError} gives its own close
 * code and message; anything else gives 1011 with a generic reason, so no internal detail reaches
 * the peer.
 *
 * @example Map errors to close frames
 * ```ts
 * import { closeFrameFor, MessageTooBigError } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(closeFrameFor(new MessageTooBigError("FRAME_TOO_BIG", 10, 5)).code, 1009);
 * assert.deepEqual(closeFrameFor(new TypeError("secret")), { code: 1011, reason: "Internal error" });
 * ```
 */
export function closeFrameFor(error: unknown): CloseFrameContent {
  if (error instanceof WebSocketError) {
    return { code: error.closeCode, reason: truncateUtf8(error.message, MAX_CLOSE_REASON_BYTES) };
  }
  return { code: CloseCode.InternalError, reason: "Internal error" };
}

const encoder = new TextEncoder();

/**
 * Cuts a string so that its UTF-8 encoding fits in `maxBytes`, never splitting a character.
 *
 * @example Fit a reason into a close frame
 * ```ts
 * import { truncateUtf8 } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(truncateUtf8("héllo", 2), "h");
 * ```
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  // Each UTF-16 code unit encodes to at most 3 bytes, so short strings need no encoding.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
