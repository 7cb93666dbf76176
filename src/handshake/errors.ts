/**
 * The error of a refused opening handshake. It is an HTTP answer, not a WebSocket close: no
 * connection was opened, so there is no close code, only a status, headers and a body.
 *
 * @module
 */

/**
 * Stable string codes carried by {@linkcode HandshakeError}: one for each reason netws refuses a
 * request, and four for the server and applications. The README lists what each means.
 */
export type HandshakeErrorCode =
  // The request head is not the HTTP/1.1 netws accepts (RFC 9112): 400, or 431 for size.
  | "NOT_HTTP"
  | "BARE_LF"
  | "INVALID_BYTE"
  | "INVALID_REQUEST_LINE"
  | "INVALID_METHOD"
  | "UNSUPPORTED_HTTP_VERSION"
  | "INVALID_TARGET"
  | "UNSUPPORTED_TARGET"
  | "FOLDED_HEADER"
  | "INVALID_HEADER_LINE"
  | "INVALID_HEADER_NAME"
  | "MISSING_HOST"
  | "DUPLICATE_HOST"
  | "INVALID_HOST"
  | "INVALID_REQUEST"
  | "HEADERS_TOO_LARGE"
  | "TOO_MANY_HEADERS"
  // The request is not a WebSocket handshake netws can accept (RFC 6455 §4.2.1): 400, 405, 426.
  | "METHOD_NOT_ALLOWED"
  | "UPGRADE_REQUIRED"
  | "MISSING_CONNECTION_UPGRADE"
  | "UNEXPECTED_BODY"
  | "UNSUPPORTED_VERSION"
  | "MISSING_KEY"
  | "DUPLICATE_KEY"
  | "INVALID_KEY"
  | "INVALID_PROTOCOL"
  | "DUPLICATE_PROTOCOL"
  // Raised by the server or by application code, with the status and body they choose.
  | "BAD_REQUEST"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "INTERNAL_ERROR";

/** The codes of the refusals netws makes itself, each with a fixed status, headers and body. */
type RefusalCode = Exclude<
  HandshakeErrorCode,
  "BAD_REQUEST" | "FORBIDDEN" | "NOT_FOUND" | "INTERNAL_ERROR"
>;

// Frozen: every error of a kind shares its headers object.
const NO_HEADERS = Object.freeze({});
const UPGRADE = Object.freeze({ Upgrade: "websocket", Connection: "Upgrade" });

// The answer to each refusal. A body names the reason in fixed words: it never repeats bytes of the
// request, so a response cannot carry what a hostile client wrote into it.
const REFUSALS: Readonly<Record<RefusalCode, Refusal>> = {
  // RFC 9112: the request head is not the HTTP/1.1 netws accepts.
  NOT_HTTP: [400, "The request does not start with an HTTP method"],
  BARE_LF: [400, "A line of the request head ends in LF without CR"],
  INVALID_BYTE: [400, "The request head holds a control or non-ASCII byte"],
  INVALID_REQUEST_LINE: [400, "The request line is not a method, a target and a version"],
  INVALID_METHOD: [400, "The method is not a token"],
  UNSUPPORTED_HTTP_VERSION: [400, "A WebSocket handshake needs HTTP/1.1"],
  INVALID_TARGET: [400, "The request target holds whitespace or a fragment"],
  UNSUPPORTED_TARGET: [400, "The request target is neither a path nor an http or https URL"],
  FOLDED_HEADER: [400, "The request head uses obsolete line folding"],
  INVALID_HEADER_LINE: [400, "A header line has no colon"],
  INVALID_HEADER_NAME: [400, "A header name is not a token"],
  MISSING_HOST: [400, 'The request has no "Host" header'],
  DUPLICATE_HOST: [400, 'The request has more than one "Host" header'],
  INVALID_HOST: [400, 'The "Host" header is not a valid host and port'],
  INVALID_REQUEST: [400, "The method and URL do not make a valid request"],
  HEADERS_TOO_LARGE: [431, "The request head is larger than the server accepts"],
  TOO_MANY_HEADERS: [431, "The request has more header fields than the server accepts"],
  // RFC 6455 §4.2.1: the request is HTTP, but not a WebSocket handshake netws can accept.
  METHOD_NOT_ALLOWED: [405, "A WebSocket handshake must use GET", Object.freeze({ Allow: "GET" })],
  UPGRADE_REQUIRED: [426, 'The "Upgrade" header does not name websocket', UPGRADE],
  MISSING_CONNECTION_UPGRADE: [426, 'The "Connection" header does not name upgrade', UPGRADE],
  UNEXPECTED_BODY: [400, "A WebSocket handshake cannot carry a body"],
  UNSUPPORTED_VERSION: [
    426,
    "Only WebSocket version 13 is supported",
    Object.freeze({
      ...UPGRADE,
      "Sec-WebSocket-Version": "13",
    }),
  ],
  MISSING_KEY: [400, 'The request has no "Sec-WebSocket-Key" header'],
  DUPLICATE_KEY: [400, 'The request has more than one "Sec-WebSocket-Key"'],
  INVALID_KEY: [400, '"Sec-WebSocket-Key" is not 16 bytes in base64'],
  INVALID_PROTOCOL: [400, '"Sec-WebSocket-Protocol" holds a subprotocol that is not a token'],
  DUPLICATE_PROTOCOL: [400, '"Sec-WebSocket-Protocol" names a subprotocol twice'],
};

type Refusal = readonly [status: number, body: string, headers?: Readonly<Record<string, string>>];

/**
 * The opening handshake failed: the server answers with `status`, `headers` and `body`, and no
 * WebSocket is opened. `code` is a stable string to branch on (messages may change, codes do not).
 *
 * @example Reject a handshake from application code
 * ```ts
 * import { HandshakeError } from "@netws/server";
 * import assert from "node:assert/strict";
 *
 * const error = new HandshakeError("Cannot accept handshake: origin not allowed", 403, "FORBIDDEN");
 * assert.equal(error.status, 403);
 * assert.equal(error.code, "FORBIDDEN");
 * assert.equal(error.body, undefined); // the response says "Forbidden"
 * ```
 */
export class HandshakeError extends Error {
  /** The HTTP status to answer with: 400 to 599. */
  readonly status: number;
  /** A stable string naming the kind of failure. */
  readonly code: HandshakeErrorCode;
  /** Extra response headers, such as `Sec-WebSocket-Version` for 426. */
  readonly headers: Readonly<Record<string, string>>;
  /** The response body; the reason phrase of `status` when undefined. */
  readonly body: string | undefined;

  /**
   * Creates a handshake error with its HTTP status and stable code. A `status` outside 400 to 599
   * throws a `RangeError`.
   */
  constructor(
    message: string,
    status: number,
    code: HandshakeErrorCode,
    headers: Readonly<Record<string, string>> = {},
    body?: string,
  ) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(
        `Cannot create handshake error: status ${status} is not an error status`,
      );
    }
    super(message);
    this.name = "HandshakeError";
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.body = body;
  }
}

/** Quotes a value for a message, cut short so a hostile header cannot bloat logs. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/**
 * The error for a refusal netws makes itself: its status, headers and fixed body come from `code`;
 * `message` may name the offending value, for logs.
 */
export function refusal(code: RefusalCode, message: string): HandshakeError {
  const [status, body, headers = NO_HEADERS] = REFUSALS[code];
  return new HandshakeError(message, status, code, headers, body);
}
