/**
 * Wire constants of RFC 6455: opcodes, close codes and the rules for which close codes may travel
 * in a close frame.
 *
 * @module
 */

/**
 * Frame opcodes (RFC 6455 §5.2, §11.8).
 *
 * @example Tell control frames from data frames
 * ```ts
 * import { isControlOpcode, Opcode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isControlOpcode(Opcode.Ping), true);
 * assert.equal(isControlOpcode(Opcode.Text), false);
 * ```
 */
export const Opcode = {
  /** Continues a fragmented message. */
  Continuation: 0x0,
  /** First (or only) frame of a UTF-8 text message. */
  Text: 0x1,
  /** First (or only) frame of a binary message. */
  Binary: 0x2,
  /** Starts or answers the closing handshake. */
  Close: 0x8,
  /** Asks the peer for a pong. */
  Ping: 0x9,
  /** Answers a ping, or serves as a one-way heartbeat. */
  Pong: 0xa,
} as const;

/** One of the opcodes defined by RFC 6455. */
export type Opcode = typeof Opcode[keyof typeof Opcode];

/**
 * Tells whether an opcode is a control opcode (RFC 6455 §5.5: the most significant bit is set).
 *
 * @example Check an opcode
 * ```ts
 * import { isControlOpcode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isControlOpcode(0x8), true);
 * ```
 */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * Close codes (RFC 6455 §7.4.1, IANA registry).
 *
 * @example Close a connection normally
 * ```ts
 * import { CloseCode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(CloseCode.Normal, 1000);
 * assert.equal(CloseCode.MessageTooBig, 1009);
 * ```
 */
export const CloseCode = {
  /** The purpose of the connection was fulfilled. */
  Normal: 1000,
  /** The endpoint is going away: server shutdown, or the peer went silent. */
  GoingAway: 1001,
  /** The peer broke the protocol. */
  ProtocolError: 1002,
  /** The peer sent a kind of data the endpoint cannot accept. */
  UnsupportedData: 1003,
  /** Reserved: never sent in a close frame. Reported when a close frame had no status code. */
  NoStatusReceived: 1005,
  /** Reserved: never sent in a close frame. Reported when the connection ended without a close frame. */
  Abnormal: 1006,
  /** A message's data did not match its type, such as text that is not UTF-8. */
  InvalidPayload: 1007,
  /** The peer broke a policy of the endpoint. */
  PolicyViolation: 1008,
  /** A frame or message was bigger than the endpoint accepts. */
  MessageTooBig: 1009,
  /** The client expected an extension that the server did not negotiate. */
  MandatoryExtension: 1010,
  /** The server met an unexpected condition. */
  InternalError: 1011,
  /** The service is restarting. */
  ServiceRestart: 1012,
  /** The service is overloaded: try again later. */
  TryAgainLater: 1013,
  /** A gateway received an invalid response. */
  BadGateway: 1014,
} as const;

/** One of the close codes named in {@linkcode CloseCode}. */
export type CloseCode = typeof CloseCode[keyof typeof CloseCode];

/**
 * Tells whether a close code may appear in a close frame on the wire.
 *
 * RFC 6455 §7.4.1–§7.4.2: 1000–1003 and 1007–1014 are defined for use; 3000–3999 are registered
 * by libraries and frameworks; 4000–4999 are private. Everything else, including 1004–1006 and
 * 1015, must not be sent and is a protocol error when received.
 *
 * @example Validate a code before sending it
 * ```ts
 * import { isValidCloseCode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isValidCloseCode(1000), true);
 * assert.equal(isValidCloseCode(1005), false);
 * assert.equal(isValidCloseCode(4999), true);
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** RFC 6455 §5.5: a control frame's payload is at most 125 bytes. */
export const MAX_CONTROL_PAYLOAD: number = 125;

/** RFC 6455 §5.5.1: a close reason fits in a control frame after the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES: number = MAX_CONTROL_PAYLOAD - 2;

/** RFC 6455 §1.3: the GUID appended to `Sec-WebSocket-Key` before hashing. */
export const WEBSOCKET_GUID: string = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
