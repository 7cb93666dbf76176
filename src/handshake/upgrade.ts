/**
 * The upgrade checks of RFC 6455 §4.2.1 on a parsed request head, and the `101 Switching
 * Protocols` answer of §4.2.2.
 *
 * @module
 */

import { acceptKey, BASE64 } from "./accept_key.ts";
import { quote, refusal } from "./errors.ts";
import { hasToken, isToken, trimOws } from "./_syntax.ts";
import { hostOf, type ParsedRequest } from "./request_head.ts";
import { headerPairs } from "./response.ts";

/** A request that passed every check of RFC 6455 §4.2.1, as returned by {@linkcode validateUpgrade}. */
export interface UpgradeRequest {
  /** The request the upgrade was read from. */
  request: ParsedRequest;
  /** The `Sec-WebSocket-Key` to answer with {@linkcode buildAcceptResponse}. */
  key: string;
  /** The subprotocols the client offers, in its order of preference; may be empty. */
  protocols: string[];
  /** The raw `Sec-WebSocket-Extensions` offer, or `""`. */
  extensions: string;
  /** The `Origin` header, sent by browsers (RFC 6455 §4.2.1 item 7), or `undefined`. */
  origin: string | undefined;
  /** The host the client asked for: the `Host` header, or the authority of an absolute target. */
  host: string;
}

/** Options of {@linkcode buildAcceptResponse}. */
export interface AcceptResponseOptions {
  /**
   * The subprotocol chosen among those the client offered (RFC 6455 §4.2.2 item 5.4).
   *
   * @default {undefined} no `Sec-WebSocket-Protocol` header
   */
  protocol?: string;
  /**
   * Extra headers, such as `Sec-WebSocket-Extensions` or `Set-Cookie` (which may repeat).
   *
   * @default {undefined} none
   */
  headers?: HeadersInit;
}

const encoder = new TextEncoder();

/**
 * Tells whether a request asks to upgrade to WebSocket: its `Upgrade` header names `websocket`.
 * A server sends other requests to its plain HTTP handler; works on web `Request`s too.
 *
 * @example Route a plain HTTP request elsewhere
 * ```ts
 * import { isUpgradeRequest } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const upgrade = new Request("http://a.test/", { headers: { Upgrade: "WebSocket" } });
 * assert.equal(isUpgradeRequest(upgrade), true);
 * assert.equal(isUpgradeRequest(new Request("http://a.test/")), false);
 * ```
 */
export function isUpgradeRequest(request: { readonly headers: Headers }): boolean {
  return hasToken(request.headers.get("upgrade"), "websocket");
}

/**
 * Checks a request against RFC 6455 §4.2.1 and returns what the server needs to answer it.
 *
 * Throws a {@linkcode HandshakeError} whose `status`, `headers` and `body` make the response:
 * 405 `METHOD_NOT_ALLOWED` (with `Allow: GET`); 400 `MISSING_HOST`, `UNEXPECTED_BODY` (a request
 * with a body), `MISSING_KEY`, `DUPLICATE_KEY`, `INVALID_KEY`, `INVALID_PROTOCOL` or
 * `DUPLICATE_PROTOCOL`; 426 `UPGRADE_REQUIRED` or `MISSING_CONNECTION_UPGRADE` when `Upgrade` or
 * `Connection` does not ask for WebSocket; 426 `UNSUPPORTED_VERSION` when `Sec-WebSocket-Version`
 * is not `13`. Every 426 carries `Upgrade: websocket`.
 *
 * @example Accept a browser's handshake
 * ```ts
 * import { parseRequestHead, validateUpgrade } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const head = "GET /chat HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n" +
 *   "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
 *   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n";
 * const request = parseRequestHead(new TextEncoder().encode(head), 8192);
 * assert.ok(request);
 * const upgrade = validateUpgrade(request);
 * assert.equal(upgrade.key, "dGhlIHNhbXBsZSBub25jZQ==");
 * assert.deepEqual(upgrade.protocols, ["chat", "superchat"]);
 * assert.equal(upgrade.origin, undefined);
 * ```
 */
export function validateUpgrade(request: ParsedRequest): UpgradeRequest {
  const { headers } = request;
  // RFC 6455 §4.2.1 item 1: the method must be GET.
  if (request.method !== "GET") {
    throw refusal(
      "METHOD_NOT_ALLOWED",
      `Cannot accept handshake: method ${quote(request.method)} is not "GET"`,
    );
  }
  // RFC 6455 §4.2.1 item 2: a Host header.
  const host = hostOf(request);
  if (host === undefined) {
    throw refusal("MISSING_HOST", `Cannot accept handshake: missing "Host" header`);
  }
  // RFC 6455 §4.2.1 items 3-4; RFC 9110 §15.5.22: a 426 names the protocol to upgrade to, and
  // RFC 9110 §7.8: whoever sends Upgrade also sends "Connection: Upgrade".
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    throw refusal(
      "UPGRADE_REQUIRED",
      `Cannot accept handshake: "Upgrade" header does not name "websocket"`,
    );
  }
  if (!hasToken(headers.get("connection"), "upgrade")) {
    throw refusal(
      "MISSING_CONNECTION_UPGRADE",
      `Cannot accept handshake: "Connection" header does not name "upgrade"`,
    );
  }
  // RFC 9112 §6.3: a body would sit where the first frames go; reject rather than guess.
  const contentLength = headers.get("content-length");
  if (headers.has("transfer-encoding") || (contentLength !== null && contentLength !== "0")) {
    throw refusal(
      "UNEXPECTED_BODY",
      `Cannot accept handshake: a request with a body cannot upgrade`,
    );
  }
  // RFC 6455 §4.2.2 item 4: answer an unknown version with the versions the server speaks.
  const version = headers.get("sec-websocket-version");
  if (version !== "13") {
    throw refusal(
      "UNSUPPORTED_VERSION",
      `Cannot accept handshake: unsupported "Sec-WebSocket-Version" ${quote(version ?? "")}`,
    );
  }
  return {
    request,
    key: readKey(headers),
    protocols: readProtocols(headers),
    extensions: headers.get("sec-websocket-extensions") ?? "",
    origin: headers.get("origin") ?? undefined,
    host,
  };
}

// RFC 6455 §4.2.1 item 5: base64 of 16 bytes is 22 characters then "==". RFC 6455 §11.3.1: the
// header must not repeat (repeats show up as a comma). The last character must leave the padding
// bits zero (RFC 4648 §3.5), as every client's encoder does.
function readKey(headers: Headers): string {
  const key = headers.get("sec-websocket-key");
  if (key === null) {
    throw refusal("MISSING_KEY", `Cannot accept handshake: missing "Sec-WebSocket-Key" header`);
  }
  if (key.includes(",")) {
    throw refusal(
      "DUPLICATE_KEY",
      `Cannot accept handshake: "Sec-WebSocket-Key" holds more than one value`,
    );
  }
  let valid = key.length === 24 && key.endsWith("==") && "AQgw".includes(key[21]!);
  for (let i = 0; valid && i < 21; i++) valid = BASE64.includes(key[i]!);
  if (!valid) {
    throw refusal(
      "INVALID_KEY",
      `Cannot accept handshake: "Sec-WebSocket-Key" ${quote(key)} is not 16 bytes in base64`,
    );
  }
  return key;
}

// RFC 6455 §4.1: subprotocols are unique tokens; §11.3.4: the header may repeat.
function readProtocols(headers: Headers): string[] {
  const value = headers.get("sec-websocket-protocol");
  if (value === null) return [];
  const protocols: string[] = [];
  for (const item of value.split(",")) {
    const protocol = trimOws(item);
    if (protocol === "") continue;
    if (!isToken(protocol)) {
      throw refusal(
        "INVALID_PROTOCOL",
        `Cannot accept handshake: invalid subprotocol ${quote(protocol)}`,
      );
    }
    if (protocols.includes(protocol)) {
      throw refusal(
        "DUPLICATE_PROTOCOL",
        `Cannot accept handshake: subprotocol ${quote(protocol)} offered twice`,
      );
    }
    protocols.push(protocol);
  }
  return protocols;
}

/**
 * Builds the `101 Switching Protocols` response that opens the connection (RFC 6455 §4.2.2).
 * `key` is the client's `Sec-WebSocket-Key`. Throws a `TypeError` for an invalid header name or
 * value, or for a header the handshake sets itself.
 *
 * @example Answer the handshake of RFC 6455 §1.3
 * ```ts
 * import { buildAcceptResponse } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const bytes = buildAcceptResponse("dGhlIHNhbXBsZSBub25jZQ==", { protocol: "chat" });
 * assert.equal(
 *   new TextDecoder().decode(bytes),
 *   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
 *     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
 * );
 * ```
 */
export function buildAcceptResponse(key: string, options: AcceptResponseOptions = {}): Uint8Array {
  let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (options.protocol !== undefined) {
    // RFC 6455 §4.1: a subprotocol is a token.
    if (!isToken(options.protocol)) {
      throw new TypeError(`Cannot build response: invalid protocol ${quote(options.protocol)}`);
    }
    head += `Sec-WebSocket-Protocol: ${options.protocol}\r\n`;
  }
  for (const [name, value] of headerPairs(options.headers)) {
    // RFC 9110 §8.6: no Content-Length in a 1xx response.
    if (ACCEPT_RESERVED.has(name.toLowerCase())) {
      throw new TypeError(`Cannot build response: header ${quote(name)} is set by the handshake`);
    }
    head += `${name}: ${value}\r\n`;
  }
  return encoder.encode(head + "\r\n");
}

const ACCEPT_RESERVED = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "content-length",
  "transfer-encoding",
]);
