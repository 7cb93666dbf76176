/**
 * The server side of the opening handshake (RFC 6455 §4.2), without I/O: bytes of a request head
 * in, a checked upgrade request out, and the bytes of the answer.
 *
 * The parser is strict where leniency has caused request smuggling: lines end in CRLF only,
 * obsolete line folding and whitespace before a colon are rejected, and header values are ASCII.
 *
 * @module
 */

import { WEBSOCKET_GUID } from "../protocol/constants.ts";
import { HandshakeError } from "../protocol/errors.ts";
import { REASON_PHRASES } from "./http_response.ts";
import { sha1 } from "./sha1.ts";

/** A request head, as read by {@linkcode parseRequestHead}. */
export interface ParsedRequest {
  /** The method, case-sensitive (RFC 9110 §9.1). */
  method: string;
  /** The request target as sent: origin-form (`/chat?room=1`) or absolute-form (`http://h/chat`). */
  target: string;
  /** The path of the target, still percent-encoded; always starts with `/`. */
  path: string;
  /** The query of the target without its leading `?`, still percent-encoded, or `""`. */
  query: string;
  /** The HTTP version: only HTTP/1.1 can carry an upgrade (RFC 6455 §4.1). */
  httpVersion: "1.1";
  /** The header fields; repeated fields are joined with `", "`. */
  headers: Headers;
  /** Bytes taken by the head, final CRLF CRLF included: what follows is WebSocket data. */
  headLength: number;
}

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

/** Options of {@linkcode parseRequestHead}. */
export interface ParseRequestHeadOptions {
  /**
   * How many header fields a head may have; more is answered with 431.
   *
   * @default {DEFAULT_MAX_HEADER_FIELDS} 100
   */
  maxHeaderFields?: number;
  /**
   * How many bytes at the start of `buffer` an earlier call already saw and returned `undefined`
   * for: the search for the end of the head resumes there. Passing it keeps a head that arrives
   * byte by byte linear to parse instead of quadratic.
   *
   * @default {0}
   */
  scannedLength?: number;
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

const HT = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;

// Character classes, one bit each, indexed by byte.
const TOKEN = 1; // RFC 9110 §5.6.2 tchar
const HOST = 2; // RFC 3986 §3.2.2 reg-name: unreserved, sub-delims, "%"
const classes = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) classes[c] = TOKEN | HOST;
for (let c = 0x41; c <= 0x5a; c++) classes[c] = TOKEN | HOST;
for (let c = 0x61; c <= 0x7a; c++) classes[c] = TOKEN | HOST;
for (const c of "!$%&'*+-.~_") classes[c.charCodeAt(0)] = TOKEN | HOST;
for (const c of "#^`|") classes[c.charCodeAt(0)] = TOKEN;
for (const c of "(),;=") classes[c.charCodeAt(0)] = HOST;

/**
 * How many header fields {@linkcode parseRequestHead} accepts by default. Browsers send about 15
 * with a WebSocket handshake.
 *
 * @example Read the default
 * ```ts
 * import { DEFAULT_MAX_HEADER_FIELDS } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_MAX_HEADER_FIELDS, 100);
 * ```
 */
export const DEFAULT_MAX_HEADER_FIELDS = 100;

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const GUID_BYTES = new TextEncoder().encode(WEBSOCKET_GUID);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: the base64 SHA-1 of the key and the
 * RFC 6455 GUID (RFC 6455 §4.2.2 item 5.4).
 *
 * @example Answer the key of RFC 6455 §1.3
 * ```ts
 * import { acceptKey } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export function acceptKey(key: string): string {
  // Keys are ASCII: copying code units beats TextEncoder on such short strings.
  let bytes: Uint8Array | undefined = new Uint8Array(key.length + GUID_BYTES.length);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) {
      bytes = undefined;
      break;
    }
    bytes[i] = c;
  }
  if (bytes === undefined) bytes = encoder.encode(key + WEBSOCKET_GUID);
  else bytes.set(GUID_BYTES, key.length);
  const digest = sha1(bytes);
  let out = "";
  for (let i = 0; i < 18; i += 3) {
    const n = (digest[i]! << 16) | (digest[i + 1]! << 8) | digest[i + 2]!;
    out += BASE64[n >>> 18]! + BASE64[(n >>> 12) & 63]! + BASE64[(n >>> 6) & 63]! + BASE64[n & 63]!;
  }
  const n = (digest[18]! << 8) | digest[19]!;
  return out + BASE64[n >>> 10]! + BASE64[(n >>> 4) & 63]! + BASE64[(n << 2) & 63]! + "=";
}

/**
 * Reads an HTTP/1.1 request head from the start of `buffer`. Returns `undefined` until the head is
 * complete; call it again with the bytes received so far.
 *
 * Throws a {@linkcode HandshakeError}: 431 `HEADERS_TOO_LARGE` once more than `maxHeaderSize`
 * bytes arrived without a complete head (or the head is longer) or with more than
 * `maxHeaderFields` header fields, 400 `BAD_REQUEST` for a malformed head. A bare LF or a first
 * byte that cannot start a method fails at once; other faults once the head is complete. Bad
 * options throw a `RangeError`.
 *
 * @example Read a head and keep the bytes after it
 * ```ts
 * import { parseRequestHead } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("GET /chat?room=1 HTTP/1.1\r\nHost: a.test\r\n\r\nnext");
 * assert.equal(parseRequestHead(bytes.subarray(0, 20), 8192), undefined);
 * const request = parseRequestHead(bytes, 8192);
 * assert.equal(request?.path, "/chat");
 * assert.equal(request?.query, "room=1");
 * assert.equal(request?.headers.get("host"), "a.test");
 * // What follows the head belongs to the WebSocket connection.
 * assert.equal(new TextDecoder().decode(bytes.subarray(request?.headLength)), "next");
 * ```
 *
 * @example Resume where the previous call stopped
 * ```ts
 * import { parseRequestHead } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
 * let scannedLength = 0;
 * for (let received = 1; received < bytes.length; received++) {
 *   const chunk = bytes.subarray(0, received);
 *   assert.equal(parseRequestHead(chunk, 8192, { scannedLength }), undefined);
 *   scannedLength = received;
 * }
 * assert.equal(parseRequestHead(bytes, 8192, { scannedLength })?.headLength, bytes.length);
 * ```
 */
export function parseRequestHead(
  buffer: Uint8Array,
  maxHeaderSize: number,
  options: ParseRequestHeadOptions = {},
): ParsedRequest | undefined {
  const { maxHeaderFields = DEFAULT_MAX_HEADER_FIELDS, scannedLength = 0 } = options;
  if (!Number.isSafeInteger(maxHeaderSize) || maxHeaderSize < 1) {
    throw new RangeError(
      `Cannot parse request: maxHeaderSize ${maxHeaderSize} is not a positive integer`,
    );
  }
  if (!Number.isSafeInteger(maxHeaderFields) || maxHeaderFields < 0) {
    throw new RangeError(
      `Cannot parse request: maxHeaderFields ${maxHeaderFields} is not a non-negative integer`,
    );
  }
  if (!Number.isSafeInteger(scannedLength) || scannedLength < 0 || scannedLength > buffer.length) {
    throw new RangeError(
      `Cannot parse request: scannedLength ${scannedLength} is outside the buffer`,
    );
  }
  // RFC 9112 §3: a request starts with a method token; fail garbage such as a TLS hello at once.
  if (buffer.length > 0 && (classes[buffer[0]!]! & TOKEN) === 0) {
    const hex = buffer[0]!.toString(16).padStart(2, "0");
    throw badRequest(`Cannot parse request: invalid first byte 0x${hex}`);
  }
  const limit = Math.min(buffer.length, maxHeaderSize);
  // A CRLF CRLF that ends just past the scanned bytes starts at most 3 bytes before their end.
  const headLength = findHeadEnd(buffer, Math.max(0, scannedLength - 3), limit);
  if (headLength === undefined) {
    if (buffer.length <= maxHeaderSize) return undefined;
    throw new HandshakeError(
      `Cannot parse request: head exceeds the limit of ${maxHeaderSize} bytes`,
      431,
      "HEADERS_TOO_LARGE",
    );
  }
  checkBytes(buffer, headLength);
  // Every byte is ASCII now, so string indices equal byte offsets.
  const head = decoder.decode(buffer.subarray(0, headLength));
  const lineEnd = head.indexOf("\r\n");
  const { method, target, path, query } = parseRequestLine(head.slice(0, lineEnd));
  const headers = new Headers();
  const end = headLength - 2;
  for (let start = lineEnd + 2, count = 1; start < end; count++) {
    // RFC 6585 §5: 431 also covers too many fields. Appending to Headers is not linear in every
    // runtime: thousands of tiny fields would cost milliseconds.
    if (count > maxHeaderFields) {
      throw new HandshakeError(
        `Cannot parse request: more than ${maxHeaderFields} header fields`,
        431,
        "HEADERS_TOO_LARGE",
      );
    }
    const next = head.indexOf("\r\n", start);
    addField(headers, head, start, next);
    start = next + 2;
  }
  // RFC 9112 §3.2: answer 400 to a request without Host, or with an invalid one.
  const host = headers.get("host");
  if (host === null) throw badRequest(`Cannot parse request: missing "Host" header`);
  if (!isAuthority(host)) throw badRequest(`Cannot parse request: invalid "Host" ${quote(host)}`);
  return { method, target, path, query, httpVersion: "1.1", headers, headLength };
}

// Finds the end of the head within `buffer[0, limit)`, looking at LFs from `from` on, or returns
// undefined if it is not there yet.
function findHeadEnd(buffer: Uint8Array, from: number, limit: number): number | undefined {
  const scan = buffer.subarray(0, limit);
  for (let lf = scan.indexOf(LF, from); lf !== -1; lf = scan.indexOf(LF, lf + 1)) {
    // RFC 9112 §2.2 lets a server accept a bare LF; netws rejects it: parsers that disagree on
    // line ends are how requests get smuggled.
    if (lf === 0 || scan[lf - 1] !== CR) {
      throw badRequest(`Cannot parse request: bare LF at offset ${lf}`);
    }
    if (lf + 2 < limit && scan[lf + 1] === CR && scan[lf + 2] === LF) return lf + 3;
  }
  return undefined;
}

// RFC 9112 §2.2, §5.5: CR only before LF; no NUL or other control bytes but HT; ASCII only.
function checkBytes(buffer: Uint8Array, headLength: number): void {
  for (let i = 0; i < headLength; i++) {
    const byte = buffer[i]!;
    if (byte >= SP && byte < 0x7f) continue;
    if (byte === HT || (byte === CR && buffer[i + 1] === LF)) continue;
    if (byte === LF && buffer[i - 1] === CR) continue;
    const hex = byte.toString(16).padStart(2, "0");
    throw badRequest(`Cannot parse request: invalid byte 0x${hex} at offset ${i}`);
  }
}

function parseRequestLine(
  line: string,
): { method: string; target: string; path: string; query: string } {
  // RFC 9112 §3: method SP request-target SP HTTP-version, single spaces.
  const first = line.indexOf(" ");
  const second = line.indexOf(" ", first + 1);
  if (first <= 0 || second === -1) {
    throw badRequest(`Cannot parse request: invalid request line ${quote(line)}`);
  }
  const method = line.slice(0, first);
  if (!isToken(method)) throw badRequest(`Cannot parse request: invalid method ${quote(method)}`);
  // RFC 9112 §2.3: the version is case-sensitive; RFC 6455 §4.1 needs at least HTTP/1.1.
  const version = line.slice(second + 1);
  if (version !== "HTTP/1.1") {
    throw badRequest(`Cannot parse request: unsupported version ${quote(version)}`);
  }
  const target = line.slice(first + 1, second);
  return { method, target, ...splitTarget(target) };
}

// RFC 9112 §3.2: origin-form, or absolute-form which a server must accept (§3.2.2). The
// authority-form and asterisk-form serve CONNECT and OPTIONS only and are rejected.
function splitTarget(target: string): { path: string; query: string } {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    // RFC 6455 §3: no fragment; RFC 9112 §3.2: no whitespace.
    if (c <= SP || c === 0x23) {
      throw badRequest(`Cannot parse request: invalid request target ${quote(target)}`);
    }
  }
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f) {
    const authority = absoluteAuthority(target);
    if (authority === undefined || !isAuthority(authority) || authority.includes("@")) {
      throw badRequest(`Cannot parse request: unsupported request target ${quote(target)}`);
    }
    start = target.indexOf("://") + 3 + authority.length;
  }
  const mark = target.indexOf("?", start);
  const path = mark === -1 ? target.slice(start) : target.slice(start, mark);
  const query = mark === -1 ? "" : target.slice(mark + 1);
  // RFC 9112 §3.2.2: an absolute target with an empty path stands for "/".
  return { path: path === "" ? "/" : path, query };
}

// The authority of an `http://` or `https://` target, or undefined for any other target.
function absoluteAuthority(target: string): string | undefined {
  const colon = target.indexOf("://");
  const scheme = target.slice(0, colon).toLowerCase();
  if (colon === -1 || (scheme !== "http" && scheme !== "https")) return undefined;
  let end = colon + 3;
  while (end < target.length && target[end] !== "/" && target[end] !== "?") end++;
  return target.slice(colon + 3, end);
}

function addField(headers: Headers, head: string, start: number, end: number): void {
  // RFC 9112 §5.2: obsolete line folding is rejected with 400.
  const first = head.charCodeAt(start);
  if (first === SP || first === HT) {
    throw badRequest(`Cannot parse request: folded header line ${quote(head.slice(start, end))}`);
  }
  const colon = head.indexOf(":", start);
  if (colon === -1 || colon >= end) {
    throw badRequest(
      `Cannot parse request: header line without colon ${quote(head.slice(start, end))}`,
    );
  }
  // RFC 9112 §5.1: whitespace between name and colon must be rejected with 400.
  const name = head.slice(start, colon);
  if (!isToken(name)) throw badRequest(`Cannot parse request: invalid header name ${quote(name)}`);
  // RFC 9112 §3.2: a second Host is answered with 400.
  if (name.length === 4 && name.toLowerCase() === "host" && headers.has("host")) {
    throw badRequest(`Cannot parse request: more than one "Host" header`);
  }
  headers.append(name, trimOws(head.slice(colon + 1, end)));
}

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
 * Throws a {@linkcode HandshakeError} whose `status`, `code` and `headers` make the response:
 * 405 `METHOD_NOT_ALLOWED` (with `Allow: GET`); 400 `BAD_REQUEST` for a missing `Host`, a request
 * with a body, or a bad `Sec-WebSocket-Key` or `Sec-WebSocket-Protocol`; 426 `UPGRADE_REQUIRED` when
 * `Upgrade` or `Connection` does not ask for WebSocket; 426 `UNSUPPORTED_VERSION` when
 * `Sec-WebSocket-Version` is not `13`. Both 426 carry `Upgrade: websocket`.
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
    throw new HandshakeError(
      `Cannot accept handshake: method ${quote(request.method)} is not "GET"`,
      405,
      "METHOD_NOT_ALLOWED",
      { Allow: "GET" },
    );
  }
  // RFC 6455 §4.2.1 item 2: a Host header.
  const host = hostOf(request);
  if (host === undefined) throw badRequest(`Cannot accept handshake: missing "Host" header`);
  // RFC 6455 §4.2.1 items 3-4; RFC 9110 §15.5.22: a 426 names the protocol to upgrade to, and
  // RFC 9110 §7.8: whoever sends Upgrade also sends "Connection: Upgrade".
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    throw upgradeRequired(`Cannot accept handshake: "Upgrade" header does not name "websocket"`);
  }
  if (!hasToken(headers.get("connection"), "upgrade")) {
    throw upgradeRequired(`Cannot accept handshake: "Connection" header does not name "upgrade"`);
  }
  // RFC 9112 §6.3: a body would sit where the first frames go; reject rather than guess.
  const contentLength = headers.get("content-length");
  if (headers.has("transfer-encoding") || (contentLength !== null && contentLength !== "0")) {
    throw badRequest(`Cannot accept handshake: a request with a body cannot upgrade`);
  }
  // RFC 6455 §4.2.2 item 4: answer an unknown version with the versions the server speaks.
  const version = headers.get("sec-websocket-version");
  if (version !== "13") {
    throw new HandshakeError(
      `Cannot accept handshake: unsupported "Sec-WebSocket-Version" ${quote(version ?? "")}`,
      426,
      "UNSUPPORTED_VERSION",
      { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13" },
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

// RFC 9112 §3.2.2: an absolute target's authority overrides the Host header.
function hostOf(request: ParsedRequest): string | undefined {
  const host = request.headers.get("host");
  if (host === null || host === "") return undefined;
  return (request.target.startsWith("/") ? undefined : absoluteAuthority(request.target)) ?? host;
}

// RFC 6455 §4.2.1 item 5: base64 of 16 bytes is 22 characters then "==". RFC 6455 §11.3.1: the
// header must not repeat (repeats show up as a comma). The last character must leave the padding
// bits zero (RFC 4648 §3.5), as every client's encoder does.
function readKey(headers: Headers): string {
  const key = headers.get("sec-websocket-key");
  if (key === null) throw badRequest(`Cannot accept handshake: missing "Sec-WebSocket-Key" header`);
  if (key.includes(",")) {
    throw badRequest(`Cannot accept handshake: "Sec-WebSocket-Key" holds more than one value`);
  }
  let valid = key.length === 24 && key.endsWith("==") && "AQgw".includes(key[21]!);
  for (let i = 0; valid && i < 21; i++) valid = BASE64.includes(key[i]!);
  if (!valid) {
    throw badRequest(
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
    if (!isToken(protocol) || protocols.includes(protocol)) {
      throw badRequest(`Cannot accept handshake: invalid subprotocol ${quote(protocol)}`);
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
 * Converts a parsed request into a web `Request` for application code, such as an `onUpgrade`
 * callback. The URL is built from `Host` (or an absolute target) and `secure`; the `Request` has
 * no body. Throws a 400 {@linkcode HandshakeError} if no valid URL can be built.
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
  if (host === undefined) throw badRequest(`Cannot convert request: missing "Host" header`);
  const search = parsed.query === "" ? "" : `?${parsed.query}`;
  const url = `${base.secure ? "https" : "http"}://${host}${parsed.path}${search}`;
  try {
    return new Request(url, { method: parsed.method, headers: parsed.headers });
  } catch {
    throw badRequest(
      `Cannot convert request: method ${quote(parsed.method)} and URL ${
        quote(url)
      } make no Request`,
    );
  }
}

// Header pairs from any HeadersInit, checked so no value can inject a line into a response.
function headerPairs(init: HeadersInit | undefined): [string, string][] {
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

// RFC 9110 §5.6.1: comma-separated list members compared case-insensitively, OWS around them.
function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const item of value.split(",")) if (trimOws(item).toLowerCase() === token) return true;
  return false;
}

function isToken(value: string): boolean {
  if (value === "") return false;
  for (let i = 0; i < value.length; i++) {
    if (((classes[value.charCodeAt(i)] ?? 0) & TOKEN) === 0) return false;
  }
  return true;
}

// RFC 3986 §3.2.2-3.2.3: host (reg-name, IPv4 or [IPv6]) and an optional port.
function isAuthority(value: string): boolean {
  let i = 0;
  if (value.startsWith("[")) {
    i = value.indexOf("]") + 1;
    if (i < 3) return false;
    for (let j = 1; j < i - 1; j++) {
      const c = value.charCodeAt(j); // hex digits, ":" and "."
      const hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
      if (!hex && c !== 0x3a && c !== 0x2e) return false;
    }
  } else {
    while (i < value.length && value[i] !== ":") {
      if (((classes[value.charCodeAt(i)] ?? 0) & HOST) === 0) return false;
      i++;
    }
    if (i === 0) return false;
  }
  if (i === value.length) return true;
  if (value[i] !== ":") return false;
  for (let j = i + 1; j < value.length; j++) {
    const c = value.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

// RFC 9110 §5.6.3: optional whitespace is SP and HT only.
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === " " || value[start] === "\t")) start++;
  while (end > start && (value[end - 1] === " " || value[end - 1] === "\t")) end--;
  return value.slice(start, end);
}

// Quotes a value for a message, cut short so a hostile header cannot bloat logs.
function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

function badRequest(message: string): HandshakeError {
  return new HandshakeError(message, 400, "BAD_REQUEST");
}

function upgradeRequired(message: string): HandshakeError {
  return new HandshakeError(message, 426, "UPGRADE_REQUIRED", {
    Upgrade: "websocket",
    Connection: "Upgrade",
  });
}
