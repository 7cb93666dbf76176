/**
 * Reading an HTTP/1.1 request head (RFC 9112), without I/O, and the token and host rules the rest
 * of the handshake shares.
 *
 * The parser is strict where leniency has caused request smuggling: lines end in CRLF only,
 * obsolete line folding and whitespace before a colon are rejected, and header values are ASCII.
 *
 * @module
 */

import { quote, refusal } from "./errors.ts";
import { isAuthority, isToken, isTokenByte, trimOws } from "./_syntax.ts";

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

const HT = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;

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

const decoder = new TextDecoder();

/**
 * Reads an HTTP/1.1 request head from the start of `buffer`. Returns `undefined` until the head is
 * complete; call it again with the bytes received so far.
 *
 * Throws a {@linkcode HandshakeError} whose `code` names the fault and whose `body` says it in
 * fixed words: 431 `HEADERS_TOO_LARGE` once more than `maxHeaderSize` bytes arrived without a
 * complete head (or the head is longer), 431 `TOO_MANY_HEADERS` for more than `maxHeaderFields`
 * fields, and a 400 for a malformed head (`BARE_LF`, `INVALID_BYTE`, `MISSING_HOST`, … as the
 * README lists). A bare LF or a first byte that cannot start a method (`NOT_HTTP`) fails at once;
 * other faults once the head is complete. Bad options throw a `RangeError`.
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
  if (buffer.length > 0 && !isTokenByte(buffer[0]!)) {
    const hex = buffer[0]!.toString(16).padStart(2, "0");
    throw refusal("NOT_HTTP", `Cannot parse request: invalid first byte 0x${hex}`);
  }
  const limit = Math.min(buffer.length, maxHeaderSize);
  // A CRLF CRLF that ends just past the scanned bytes starts at most 3 bytes before their end.
  const headLength = findHeadEnd(buffer, Math.max(0, scannedLength - 3), limit);
  if (headLength === undefined) {
    if (buffer.length <= maxHeaderSize) return undefined;
    throw refusal(
      "HEADERS_TOO_LARGE",
      `Cannot parse request: head exceeds the limit of ${maxHeaderSize} bytes`,
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
      throw refusal(
        "TOO_MANY_HEADERS",
        `Cannot parse request: more than ${maxHeaderFields} header fields`,
      );
    }
    const next = head.indexOf("\r\n", start);
    addField(headers, head, start, next);
    start = next + 2;
  }
  // RFC 9112 §3.2: answer 400 to a request without Host, or with an invalid one.
  const host = headers.get("host");
  if (host === null) throw refusal("MISSING_HOST", `Cannot parse request: missing "Host" header`);
  if (!isAuthority(host)) {
    throw refusal("INVALID_HOST", `Cannot parse request: invalid "Host" ${quote(host)}`);
  }
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
      throw refusal("BARE_LF", `Cannot parse request: bare LF at offset ${lf}`);
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
    throw refusal("INVALID_BYTE", `Cannot parse request: invalid byte 0x${hex} at offset ${i}`);
  }
}

function parseRequestLine(
  line: string,
): { method: string; target: string; path: string; query: string } {
  // RFC 9112 §3: method SP request-target SP HTTP-version, single spaces.
  const first = line.indexOf(" ");
  const second = line.indexOf(" ", first + 1);
  if (first <= 0 || second === -1 || second === first + 1) {
    throw refusal(
      "INVALID_REQUEST_LINE",
      `Cannot parse request: invalid request line ${quote(line)}`,
    );
  }
  const method = line.slice(0, first);
  if (!isToken(method)) {
    throw refusal("INVALID_METHOD", `Cannot parse request: invalid method ${quote(method)}`);
  }
  // RFC 9112 §2.3: HTTP-version is "HTTP/" DIGIT "." DIGIT, case-sensitive; anything else means
  // the line is not what it seems (an extra space, say). RFC 6455 §4.1 needs HTTP/1.1.
  const version = line.slice(second + 1);
  if (version !== "HTTP/1.1" && !/^HTTP\/\d\.\d$/.test(version)) {
    throw refusal(
      "INVALID_REQUEST_LINE",
      `Cannot parse request: invalid request line ${quote(line)}`,
    );
  }
  if (version !== "HTTP/1.1") {
    throw refusal(
      "UNSUPPORTED_HTTP_VERSION",
      `Cannot parse request: unsupported version ${quote(version)}`,
    );
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
      throw refusal(
        "INVALID_TARGET",
        `Cannot parse request: invalid request target ${quote(target)}`,
      );
    }
  }
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f) {
    const authority = absoluteAuthority(target);
    if (authority === undefined || !isAuthority(authority) || authority.includes("@")) {
      throw refusal(
        "UNSUPPORTED_TARGET",
        `Cannot parse request: unsupported request target ${quote(target)}`,
      );
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
    throw refusal(
      "FOLDED_HEADER",
      `Cannot parse request: folded header line ${quote(head.slice(start, end))}`,
    );
  }
  const colon = head.indexOf(":", start);
  if (colon === -1 || colon >= end) {
    throw refusal(
      "INVALID_HEADER_LINE",
      `Cannot parse request: header line without colon ${quote(head.slice(start, end))}`,
    );
  }
  // RFC 9112 §5.1: whitespace between name and colon must be rejected with 400.
  const name = head.slice(start, colon);
  if (!isToken(name)) {
    throw refusal(
      "INVALID_HEADER_NAME",
      `Cannot parse request: invalid header name ${quote(name)}`,
    );
  }
  // RFC 9112 §3.2: a second Host is answered with 400.
  if (name.length === 4 && name.toLowerCase() === "host" && headers.has("host")) {
    throw refusal("DUPLICATE_HOST", `Cannot parse request: more than one "Host" header`);
  }
  headers.append(name, trimOws(head.slice(colon + 1, end)));
}

/**
 * The host a request asks for: the authority of an absolute-form target, which overrides the
 * `Host` header (RFC 9112 §3.2.2), else `Host`; `undefined` when neither is there.
 */
export function hostOf(request: ParsedRequest): string | undefined {
  const host = request.headers.get("host");
  if (host === null || host === "") return undefined;
  return (request.target.startsWith("/") ? undefined : absoluteAuthority(request.target)) ?? host;
}
