/**
 * The web `Request` view of a parsed request head, for application code.
 *
 * @module
 */

import { quote, refusal } from "./errors.ts";
import { hostOf, type ParsedRequest } from "./request_head.ts";

/**
 * Converts a parsed request into a web `Request` for application code, such as an `onUpgrade`
 * callback. The URL is built from `Host` (or an absolute target) and `secure`; the `Request` has
 * no body. Throws a 400 {@linkcode HandshakeError}: `MISSING_HOST`, or
 * `INVALID_REQUEST` if no valid `Request` can be built.
 *
 * @example Give application code a web Request
 * ```ts
 * import { parseRequestHead, toRequest } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const head = "GET /chat?room=1 HTTP/1.1\r\nHost: a.test:8443\r\nCookie: id=7\r\n\r\n";
 * const parsed = parseRequestHead(new TextEncoder().encode(head), 8192);
 * assert.ok(parsed);
 * const request = toRequest(parsed, { secure: true });
 * assert.equal(request.url, "https://a.test:8443/chat?room=1");
 * assert.equal(request.headers.get("cookie"), "id=7");
 * ```
 */
export function toRequest(parsed: ParsedRequest, base: { secure: boolean }): Request {
  const host = hostOf(parsed);
  if (host === undefined) {
    throw refusal("MISSING_HOST", `Cannot convert request: missing "Host" header`);
  }
  const search = parsed.query === "" ? "" : `?${parsed.query}`;
  const url = `${base.secure ? "https" : "http"}://${host}${parsed.path}${search}`;
  try {
    return new Request(url, { method: parsed.method, headers: parsed.headers });
  } catch {
    throw refusal(
      "INVALID_REQUEST",
      `Cannot convert request: method ${quote(parsed.method)} and URL ${
        quote(url)
      } make no Request`,
    );
  }
}
