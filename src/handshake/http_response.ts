/**
 * Writing a web `Response` as HTTP/1.1 bytes, for plain HTTP requests answered on the WebSocket
 * port.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Headers the server sets itself: the connection closes after the response. */
const RESERVED = new Set(["connection", "content-length", "transfer-encoding", "keep-alive"]);

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
  431: "Request Header Fields Too Large",
  426: "Upgrade Required",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

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
