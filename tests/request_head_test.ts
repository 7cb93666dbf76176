import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_HEADER_FIELDS, parseRequestHead } from "../src/handshake/request_head.ts";
import { bytes, KEY, LIMIT, parse, rejects, upgrade, UPGRADE_FIELDS } from "./helpers/handshake.ts";

const encoder = new TextEncoder();

function badRequest(text: string, code: string, reason = "") {
  const error = rejects(() => parseRequestHead(encoder.encode(text), LIMIT), 400, code);
  assert.ok(error.message.includes(reason), `"${error.message}" mentions "${reason}"`);
  return error;
}

describe("parseRequestHead", () => {
  it("parseRequestHead reads the RFC 6455 request", () => {
    const request = upgrade();
    assert.equal(request.method, "GET");
    assert.equal(request.target, "/chat");
    assert.equal(request.path, "/chat");
    assert.equal(request.query, "");
    assert.equal(request.httpVersion, "1.1");
    assert.equal(request.headers.get("sec-websocket-key"), KEY);
    assert.equal(request.headLength, bytes(["GET /chat HTTP/1.1", ...UPGRADE_FIELDS]).length);
  });

  it("parseRequestHead returns undefined for every prefix of a head", () => {
    const whole = bytes(["GET /chat?a=1 HTTP/1.1", ...UPGRADE_FIELDS]);
    for (let length = 0; length < whole.length; length++) {
      assert.equal(parseRequestHead(whole.subarray(0, length), LIMIT), undefined, `${length}`);
    }
    assert.equal(parseRequestHead(whole, LIMIT)?.headLength, whole.length);
  });

  it("parseRequestHead resumes at scannedLength for every split of a head", () => {
    const whole = bytes(["GET /chat HTTP/1.1", ...UPGRADE_FIELDS]);
    for (let first = 0; first < whole.length; first++) {
      assert.equal(parseRequestHead(whole.subarray(0, first), LIMIT), undefined);
      const request = parseRequestHead(whole, LIMIT, { scannedLength: first });
      assert.equal(request?.headLength, whole.length, `split at ${first}`);
    }
  });

  it("parseRequestHead still rejects a bare LF after scannedLength", () => {
    const text = encoder.encode("GET / HTTP/1.1\r\nHost: a\n");
    const error = rejects(
      () => parseRequestHead(text, LIMIT, { scannedLength: text.length - 1 }),
      400,
      "BARE_LF",
    );
    assert.match(error.message, /bare LF/);
  });

  it("parseRequestHead rejects a bare LF before scannedLength", () => {
    const text = encoder.encode("GET / HTTP/1.1\r\nHost: a\r\nX: 1\nY: 2\r\n\r\n");
    const error = rejects(
      () => parseRequestHead(text, LIMIT, { scannedLength: 36 }),
      400,
      "INVALID_BYTE",
    );
    assert.equal(error.message, "Cannot parse request: invalid byte 0x0a at offset 29");
  });

  it("parseRequestHead leaves the bytes after the head to the caller", () => {
    const head = bytes(["GET / HTTP/1.1", "Host: a"]);
    const frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    const buffer = new Uint8Array([...head, ...frame]);
    const request = parseRequestHead(buffer, LIMIT);
    assert.ok(request);
    assert.equal(request.headLength, head.length);
    assert.deepEqual(buffer.subarray(request.headLength), new Uint8Array(frame));
  });

  it("parseRequestHead reads a head from a subarray", () => {
    const head = bytes(["GET / HTTP/1.1", "Host: a"]);
    const buffer = new Uint8Array(head.length + 3);
    buffer.set(head, 3);
    assert.equal(parseRequestHead(buffer.subarray(3), LIMIT)?.headLength, head.length);
  });

  it("parseRequestHead splits path and query", () => {
    const request = parse(["GET /a/b%20c?x=1&y=?%2F HTTP/1.1", "Host: a"]);
    assert.equal(request.path, "/a/b%20c");
    assert.equal(request.query, "x=1&y=?%2F");
  });

  it("parseRequestHead accepts an absolute-form target", () => {
    const request = parse(["GET HTTPS://b.test:8443?q HTTP/1.1", "Host: a"]);
    assert.equal(request.target, "HTTPS://b.test:8443?q");
    assert.equal(request.path, "/");
    assert.equal(request.query, "q");
    assert.equal(parse(["GET http://[::1]:80/x HTTP/1.1", "Host: a"]).path, "/x");
  });

  it("parseRequestHead treats header names case-insensitively", () => {
    const request = parse(["GET / HTTP/1.1", "hOsT: a", "SEC-websocket-KEY: k"]);
    assert.equal(request.headers.get("Host"), "a");
    assert.equal(request.headers.get("sec-websocket-key"), "k");
  });

  it("parseRequestHead trims optional whitespace and joins repeated headers", () => {
    const request = parse(["GET / HTTP/1.1", "Host:a", "X:  \t1 2\t ", "x: 3", "Empty:"]);
    assert.equal(request.headers.get("host"), "a");
    assert.equal(request.headers.get("x"), "1 2, 3");
    assert.equal(request.headers.get("empty"), "");
  });

  it("parseRequestHead accepts a head of exactly the limit", () => {
    const head = bytes(["GET / HTTP/1.1", "Host: a"]);
    assert.equal(parseRequestHead(head, head.length)?.headLength, head.length);
    const buffer = new Uint8Array([...head, 1, 2, 3]);
    assert.equal(parseRequestHead(buffer, head.length)?.headLength, head.length);
  });

  it("parseRequestHead rejects a head one byte over the limit", () => {
    const head = bytes(["GET / HTTP/1.1", "Host: a"]);
    const limit = head.length - 1;
    assert.equal(parseRequestHead(head.subarray(0, limit), limit), undefined);
    rejects(() => parseRequestHead(head, limit), 431, "HEADERS_TOO_LARGE");
  });

  it("parseRequestHead rejects unterminated bytes as soon as they pass the limit", () => {
    const junk = new Uint8Array(101).fill(0x61);
    assert.equal(parseRequestHead(junk.subarray(0, 100), 100), undefined);
    rejects(() => parseRequestHead(junk, 100), 431, "HEADERS_TOO_LARGE");
  });

  it("parseRequestHead rejects a huge single header", () => {
    const huge = bytes(["GET / HTTP/1.1", "Host: a", `X: ${"x".repeat(LIMIT)}`]);
    rejects(() => parseRequestHead(huge, LIMIT), 431, "HEADERS_TOO_LARGE");
    rejects(() => parseRequestHead(huge.subarray(0, LIMIT + 1), LIMIT), 431, "HEADERS_TOO_LARGE");
  });

  it("parseRequestHead waits for a head that never ends in CRLF CRLF until the limit", () => {
    const text = "GET / HTTP/1.1\r\nHost: a\r\n";
    assert.equal(parseRequestHead(encoder.encode(text), LIMIT), undefined);
    assert.equal(parseRequestHead(encoder.encode(text + "\r"), LIMIT), undefined);
  });

  it("parseRequestHead rejects a bare LF before the head is complete", () => {
    badRequest("GET / HTTP/1.1\nHost: a", "BARE_LF", "bare LF");
    badRequest("GET / HTTP/1.1\r\nHost: a\n\n", "BARE_LF", "bare LF");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\n\n", "BARE_LF", "bare LF");
  });

  it("parseRequestHead rejects bytes that cannot start a request at once", () => {
    badRequest("\x16\x03\x01", "NOT_HTTP");
    badRequest("\0", "NOT_HTTP");
    badRequest("\u00ff", "NOT_HTTP");
  });

  it("parseRequestHead rejects a bare CR", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "INVALID_BYTE", "invalid byte 0x0d");
  });

  it("parseRequestHead rejects NUL and other control bytes", () => {
    badRequest(
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
      "INVALID_BYTE",
      "invalid byte 0x00 at offset 29",
    );
    badRequest("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", "INVALID_BYTE");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", "INVALID_BYTE");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n", "INVALID_BYTE");
  });

  it("parseRequestHead accepts HT in a value", () => {
    assert.equal(parse(["GET / HTTP/1.1", "Host: a", "X: 1\t2"]).headers.get("x"), "1\t2");
  });

  it("parseRequestHead rejects non-ASCII bytes", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: caf\u00e9\r\n\r\n", "INVALID_BYTE");
    const raw = new Uint8Array([...encoder.encode("GET / HTTP/1.1\r\nX: "), 0xff, 13, 10, 13, 10]);
    rejects(() => parseRequestHead(raw, LIMIT), 400, "INVALID_BYTE");
  });

  it("parseRequestHead rejects obsolete line folding", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", "FOLDED_HEADER", "folded");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tY: 2\r\n\r\n", "FOLDED_HEADER", "folded");
  });

  it("parseRequestHead rejects whitespace before a colon", () => {
    badRequest(
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
      "INVALID_HEADER_NAME",
      `invalid header name "Host "`,
    );
    badRequest(
      "GET / HTTP/1.1\r\nHost: a\r\nX\t: b\r\n\r\n",
      "INVALID_HEADER_NAME",
      "invalid header name",
    );
  });

  it("parseRequestHead rejects invalid header names and lines without a colon", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", "INVALID_HEADER_NAME");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", "INVALID_HEADER_NAME");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n", "INVALID_HEADER_LINE");
  });

  it("parseRequestHead rejects a non-token method", () => {
    badRequest("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "INVALID_METHOD");
    badRequest("G\tT / HTTP/1.1\r\nHost: a\r\n\r\n", "INVALID_METHOD");
    badRequest(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", "NOT_HTTP");
  });

  it("parseRequestHead rejects a malformed request line", () => {
    badRequest("\r\n\r\n", "NOT_HTTP");
    badRequest("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "NOT_HTTP");
    badRequest("GET\r\nHost: a\r\n\r\n", "INVALID_REQUEST_LINE");
    badRequest("GET /\r\nHost: a\r\n\r\n", "INVALID_REQUEST_LINE");
    badRequest("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "INVALID_REQUEST_LINE");
    badRequest("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "INVALID_REQUEST_LINE");
    badRequest("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "INVALID_REQUEST_LINE");
  });

  it("parseRequestHead rejects any version but HTTP/1.1", () => {
    for (const version of ["HTTP/1.0", "HTTP/2.0", "HTTP/0.9"]) {
      badRequest(`GET / ${version}\r\nHost: a\r\n\r\n`, "UNSUPPORTED_HTTP_VERSION");
    }
    // RFC 9112 §2.3: not an HTTP-version at all, so the line is malformed.
    for (const version of ["http/1.1", "HTTP/1.10", "HTTP/1", "HTTP/1.1x"]) {
      badRequest(`GET / ${version}\r\nHost: a\r\n\r\n`, "INVALID_REQUEST_LINE");
    }
  });

  it("parseRequestHead rejects targets that are neither origin-form nor absolute-form", () => {
    for (
      const target of ["*", "a.test:443", "chat", "ftp://a/b", "http://", "http://u@a/"]
    ) {
      badRequest(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`, "UNSUPPORTED_TARGET");
    }
    badRequest("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", "INVALID_TARGET");
    badRequest("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", "INVALID_TARGET");
    badRequest("GET  HTTP/1.1\r\nHost: a\r\n\r\n", "INVALID_REQUEST_LINE");
  });

  it("parseRequestHead rejects a missing, repeated or invalid Host", () => {
    badRequest("GET / HTTP/1.1\r\n\r\n", "MISSING_HOST");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", "DUPLICATE_HOST", "more than one");
    for (const host of ["", "a b", "a/b", "a:8o", "[::1", "[zz]", "u@a", ":80"]) {
      badRequest(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, "INVALID_HOST");
    }
    assert.equal(parse(["GET / HTTP/1.1", "Host: [::1]:8080"]).headers.get("host"), "[::1]:8080");
  });

  it("parseRequestHead rejects a bad limit", () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => parseRequestHead(new Uint8Array(0), limit), RangeError);
    }
    for (const maxHeaderFields of [-1, 1.5, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => parseRequestHead(new Uint8Array(0), LIMIT, { maxHeaderFields }),
        RangeError,
      );
    }
    for (const scannedLength of [-1, 1.5, 4]) {
      assert.throws(
        () => parseRequestHead(new Uint8Array(3), LIMIT, { scannedLength }),
        RangeError,
      );
    }
  });

  it("parseRequestHead accepts up to maxHeaderFields fields and answers 431 above", () => {
    const fields = Array.from({ length: DEFAULT_MAX_HEADER_FIELDS - 1 }, (_, i) => `X-${i}: ${i}`);
    const atLimit = bytes(["GET / HTTP/1.1", "Host: a", ...fields]);
    assert.equal(parseRequestHead(atLimit, LIMIT)?.headers.get("x-98"), "98");
    const over = bytes(["GET / HTTP/1.1", "Host: a", ...fields, "X: y"]);
    rejects(() => parseRequestHead(over, LIMIT), 431, "TOO_MANY_HEADERS");
    const one = bytes(["GET / HTTP/1.1", "Host: a"]);
    assert.equal(parseRequestHead(one, LIMIT, { maxHeaderFields: 1 })?.method, "GET");
    rejects(
      () => parseRequestHead(one, LIMIT, { maxHeaderFields: 0 }),
      431,
      "TOO_MANY_HEADERS",
    );
  });
});
