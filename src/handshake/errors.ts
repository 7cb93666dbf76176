/**
 * The error of a refused opening handshake. It is an HTTP answer, not a WebSocket close: no
 * connection was opened, so there is no close code, only a status, headers and a body.
 *
 * @module
 */

/** Stable string codes carried by {@linkcode HandshakeError}. The README lists what each means. */
export type HandshakeErrorCode =
  | "BAD_REQUEST"
  | "METHOD_NOT_ALLOWED"
  | "UPGRADE_REQUIRED"
  | "UNSUPPORTED_VERSION"
  | "FORBIDDEN"
  | "HEADERS_TOO_LARGE"
  | "NOT_FOUND"
  | "INTERNAL_ERROR";

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
