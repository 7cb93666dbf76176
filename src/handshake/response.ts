/**
 * The responses that refuse a request, and the one table of HTTP reason phrases: error responses
 * for failed handshakes, and web `Response`s written as HTTP/1.1 bytes for plain HTTP requests
 * answered on the WebSocket port.
 *
 * @module
 */

import { quote } from "./errors.ts";
import { isToken, trimOws } from "./_syntax.ts";

/** Options of {@linkcode buildErrorResponse}. */
export interface ErrorResponseOptions {
  /**
   * Extra headers, such as {@linkcode HandshakeError.headers}.
   *
   * @default {undefined} none
   */
  headers?: HeadersInit;
  /**
   * The body, sent as UTF-8 plain text unless `headers` sets another `Content-Type`.
   *
   * @default the reason phrase of `status`
   */
  body?: string;
}

/** Reason phrases (RFC 9110 §15) of the statuses the server answers with or applications commonly use. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Headers the server sets itself in an encoded `Response`: the connection closes after it. */
const RESERVED = new Set(["connection", "content-length", "transfer-encoding", "keep-alive"]);

const HT = 0x09;
const SP = 0x20;
const encoder = new TextEncoder();

/**
 * Builds a complete error response that ends the connection: `Connection: close`, a plain text
 * body (the reason phrase unless given) and its `Content-Length`. `status` is 400 to 599; a
 * `Connection` header among `headers` keeps its tokens but `close`, as 426 needs `Upgrade`.
 *
 * @example Answer a failed handshake
 * ```ts
 * import { buildErrorResponse, HandshakeError } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const error = new HandshakeError("Cannot accept handshake: origin not allowed", 403, "FORBIDDEN");
 * const text = new TextDecoder().decode(buildErrorResponse(error.status, { headers: error.headers }));
 * assert.equal(
 *   text,
 *   "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n" +
 *     "Content-Length: 9\r\n\r\nForbidden",
 * );
 * ```
 */
export function buildErrorResponse(status: number, options: ErrorResponseOptions = {}): Uint8Array {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new RangeError(`Cannot build response: status ${status} is not an error status`);
  }
  // RFC 9112 §4: the reason phrase may be empty, the space before it may not.
  const reason = REASON_PHRASES[status] ?? "";
  const body = encoder.encode(options.body ?? (reason || String(status)));
  const connection: string[] = [];
  let contentType = "Content-Type: text/plain; charset=utf-8\r\n";
  let fields = "";
  for (const [name, value] of headerPairs(options.headers)) {
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") {
      throw new TypeError(`Cannot build response: header ${quote(name)} is set from the body`);
    }
    if (lower === "connection") {
      for (const token of value.split(",")) {
        const option = trimOws(token);
        const known = option.toLowerCase();
        if (option !== "" && known !== "close" && known !== "keep-alive") connection.push(option);
      }
    } else if (lower === "content-type") {
      contentType = `${name}: ${value}\r\n`;
    } else {
      fields += `${name}: ${value}\r\n`;
    }
  }
  // RFC 9112 §9.6: "close" says the connection ends after this response.
  connection.push("close");
  const head = encoder.encode(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: ${connection.join(", ")}\r\n${contentType}` +
      `${fields}Content-Length: ${body.length}\r\n\r\n`,
  );
  const response = new Uint8Array(head.length + body.length);
  response.set(head);
  response.set(body, head.length);
  return response;
}

/**
 * Encodes `response` as a complete HTTP/1.1 response that ends the connection: status line,
 * headers (every `Set-Cookie` kept apart), `Content-Length` and the body, read in full. With
 * `head`, the body is left out (RFC 9110 §9.3.2).
 *
 * @example Encode a small page
 * ```ts
 * import { encodeResponse } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const bytes = await encodeResponse(new Response("hi", { headers: { "Content-Type": "text/plain" } }));
 * const text = new TextDecoder().decode(bytes);
 * assert.ok(text.startsWith("HTTP/1.1 200 OK\r\n"));
 * assert.ok(text.includes("\r\ncontent-length: 2\r\n"));
 * assert.ok(text.endsWith("\r\nconnection: close\r\n\r\nhi"));
 * ```
 */
export async function encodeResponse(
  response: Response,
  options: { head?: boolean } = {},
): Promise<Uint8Array> {
  const status = response.status;
  // RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no body.
  const bodyless = options.head === true || status < 200 || status === 204 || status === 304;
  const body = bodyless || response.body === null
    ? new Uint8Array(0)
    : new Uint8Array(await response.arrayBuffer());
  if (bodyless) await response.body?.cancel();
  let head = `HTTP/1.1 ${status} ${response.statusText || REASON_PHRASES[status] || ""}\r\n`;
  for (const [name, value] of response.headers) {
    if (name === "set-cookie" || RESERVED.has(name)) continue;
    head += `${name}: ${value}\r\n`;
  }
  for (const cookie of response.headers.getSetCookie()) head += `set-cookie: ${cookie}\r\n`;
  if (!bodyless || options.head === true) {
    const length = options.head === true ? response.headers.get("content-length") : body.length;
    if (length !== null) head += `content-length: ${length}\r\n`;
  }
  head += "connection: close\r\n\r\n";
  const headBytes = encoder.encode(head);
  const bytes = new Uint8Array(headBytes.length + body.length);
  bytes.set(headBytes);
  bytes.set(body, headBytes.length);
  return bytes;
}

/** Header pairs from any `HeadersInit`, checked so that no name or value can inject a line. */
export function headerPairs(init: HeadersInit | undefined): [string, string][] {
  const pairs: [string, string][] = [];
  if (init === undefined) return pairs;
  if (init instanceof Headers) {
    for (const [name, value] of init) if (name !== "set-cookie") pairs.push([name, value]);
    // Set-Cookie cannot be joined with commas (RFC 6265 §3); getSetCookie keeps each one.
    const cookies = typeof init.getSetCookie === "function"
      ? init.getSetCookie()
      : [init.get("set-cookie")].filter((value) => value !== null);
    for (const cookie of cookies) pairs.push(["set-cookie", cookie]);
  } else if (Symbol.iterator in init) {
    for (const pair of init) {
      if (pair.length !== 2) throw new TypeError(`Cannot build response: invalid header pair`);
      pairs.push([String(pair[0]), String(pair[1])]);
    }
  } else {
    for (const [name, value] of Object.entries(init)) pairs.push([name, String(value)]);
  }
  for (const pair of pairs) {
    if (!isToken(pair[0])) {
      throw new TypeError(`Cannot build response: invalid header name ${quote(pair[0])}`);
    }
    pair[1] = trimOws(pair[1]);
    for (let i = 0; i < pair[1].length; i++) {
      const c = pair[1].charCodeAt(i);
      if ((c < SP && c !== HT) || c >= 0x7f) {
        throw new TypeError(`Cannot build response: invalid header value for ${quote(pair[0])}`);
      }
    }
  }
  return pairs;
}
