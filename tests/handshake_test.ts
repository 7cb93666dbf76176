import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HandshakeError } from "../src/protocol/errors.ts";
import {
  acceptKey,
  buildAcceptResponse,
  buildErrorResponse,
  DEFAULT_MAX_HEADER_FIELDS,
  isUpgradeRequest,
  type ParsedRequest,
  parseRequestHead,
  toRequest,
  validateUpgrade,
} from "../src/handshake/handshake.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LIMIT = 8192;

// RFC 6455 §1.3 example key and answer.
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const UPGRADE_FIELDS: readonly string[] = [
  "Host: server.example.com",
  "Upgrade: websocket",
  "Connection: Upgrade",
  `Sec-WebSocket-Key: ${KEY}`,
  "Origin: http://example.com",
  "Sec-WebSocket-Protocol: chat, superchat",
  "Sec-WebSocket-Version: 13",
];

function bytes(lines: readonly string[]): Uint8Array {
  return encoder.encode(lines.join("\r\n") + "\r\n\r\n");
}

function parse(lines: readonly string[]): ParsedRequest {
  const request = parseRequestHead(bytes(lines), LIMIT);
  assert.ok(request, "the head is complete");
  return request;
}

// The RFC 6455 §1.3 request with some fields replaced: `{ Name: null }` removes a field.
function upgrade(fields: Record<string, string | null> = {}, requestLine = "GET /chat HTTP/1.1") {
  const lines = [requestLine];
  for (const line of UPGRADE_FIELDS) {
    const name = line.slice(0, line.indexOf(":"));
    if (!(name in fields)) lines.push(line);
  }
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null) lines.push(`${name}: ${value}`);
  }
  return parse(lines);
}

function rejects(
  action: () => unknown,
  status: number,
  code: string,
  headers: Record<string, string> = {},
): HandshakeError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${error}`);
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    assert.equal(error.closeCode, 1002);
    assert.deepEqual(error.headers, headers);
    assert.ok(error.message.startsWith("Cannot "), error.message);
    return error;
  }
  assert.fail("expected a HandshakeError");
}

function badRequest(text: string, reason = ""): HandshakeError {
  const error = rejects(() => parseRequestHead(encoder.encode(text), LIMIT), 400, "BAD_REQUEST");
  assert.ok(error.message.includes(reason), `"${error.message}" mentions "${reason}"`);
  return error;
}

describe("acceptKey", () => {
  it("acceptKey answers the RFC 6455 example key", () => {
    assert.equal(acceptKey(KEY), ACCEPT);
  });

  it("acceptKey hashes a non-ASCII key as UTF-8", () => {
    assert.equal(acceptKey("é"), "Q3nA4bowCsT/eKmBZYzoeYI576k=");
  });
});

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
      "BAD_REQUEST",
    );
    assert.match(error.message, /bare LF/);
  });

  it("parseRequestHead rejects a bare LF before scannedLength", () => {
    const text = encoder.encode("GET / HTTP/1.1\r\nHost: a\r\nX: 1\nY: 2\r\n\r\n");
    const error = rejects(
      () => parseRequestHead(text, LIMIT, { scannedLength: 36 }),
      400,
      "BAD_REQUEST",
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
    badRequest("GET / HTTP/1.1\nHost: a", "bare LF");
    badRequest("GET / HTTP/1.1\r\nHost: a\n\n", "bare LF");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\n\n", "bare LF");
  });

  it("parseRequestHead rejects bytes that cannot start a request at once", () => {
    badRequest("\x16\x03\x01");
    badRequest("\0");
    badRequest("\u00ff");
  });

  it("parseRequestHead rejects a bare CR", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "invalid byte 0x0d");
  });

  it("parseRequestHead rejects NUL and other control bytes", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", "invalid byte 0x00 at offset 29");
    badRequest("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n");
  });

  it("parseRequestHead accepts HT in a value", () => {
    assert.equal(parse(["GET / HTTP/1.1", "Host: a", "X: 1\t2"]).headers.get("x"), "1\t2");
  });

  it("parseRequestHead rejects non-ASCII bytes", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: caf\u00e9\r\n\r\n");
    const raw = new Uint8Array([...encoder.encode("GET / HTTP/1.1\r\nX: "), 0xff, 13, 10, 13, 10]);
    rejects(() => parseRequestHead(raw, LIMIT), 400, "BAD_REQUEST");
  });

  it("parseRequestHead rejects obsolete line folding", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", "folded");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tY: 2\r\n\r\n", "folded");
  });

  it("parseRequestHead rejects whitespace before a colon", () => {
    badRequest("GET / HTTP/1.1\r\nHost : a\r\n\r\n", `invalid header name "Host "`);
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX\t: b\r\n\r\n", "invalid header name");
  });

  it("parseRequestHead rejects invalid header names and lines without a colon", () => {
    badRequest("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n");
  });

  it("parseRequestHead rejects a non-token method", () => {
    badRequest("G(T / HTTP/1.1\r\nHost: a\r\n\r\n");
    badRequest("G\tT / HTTP/1.1\r\nHost: a\r\n\r\n");
    badRequest(" GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  });

  it("parseRequestHead rejects a malformed request line", () => {
    badRequest("\r\n\r\n");
    badRequest("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    badRequest("GET\r\nHost: a\r\n\r\n");
    badRequest("GET /\r\nHost: a\r\n\r\n");
    badRequest("GET  / HTTP/1.1\r\nHost: a\r\n\r\n");
    badRequest("GET / HTTP/1.1 \r\nHost: a\r\n\r\n");
    badRequest("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n");
  });

  it("parseRequestHead rejects any version but HTTP/1.1", () => {
    for (const version of ["HTTP/1.0", "HTTP/2.0", "http/1.1", "HTTP/1.10", "HTTP/1"]) {
      badRequest(`GET / ${version}\r\nHost: a\r\n\r\n`);
    }
  });

  it("parseRequestHead rejects targets that are neither origin-form nor absolute-form", () => {
    for (
      const target of ["*", "a.test:443", "chat", "ftp://a/b", "http://", "http://u@a/", "/a#b"]
    ) {
      badRequest(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
    }
  });

  it("parseRequestHead rejects a missing, repeated or invalid Host", () => {
    badRequest("GET / HTTP/1.1\r\n\r\n");
    badRequest("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", "more than one");
    for (const host of ["", "a b", "a/b", "a:8o", "[::1", "[zz]", "u@a", ":80"]) {
      badRequest(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
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
    rejects(() => parseRequestHead(over, LIMIT), 431, "HEADERS_TOO_LARGE");
    const one = bytes(["GET / HTTP/1.1", "Host: a"]);
    assert.equal(parseRequestHead(one, LIMIT, { maxHeaderFields: 1 })?.method, "GET");
    rejects(
      () => parseRequestHead(one, LIMIT, { maxHeaderFields: 0 }),
      431,
      "HEADERS_TOO_LARGE",
    );
  });
});

describe("isUpgradeRequest", () => {
  it("isUpgradeRequest finds websocket in an Upgrade token list", () => {
    assert.equal(isUpgradeRequest(upgrade()), true);
    assert.equal(isUpgradeRequest(upgrade({ Upgrade: "h2c, WebSocket" })), true);
    assert.equal(isUpgradeRequest(upgrade({ Upgrade: "h2c" })), false);
    assert.equal(isUpgradeRequest(upgrade({ Upgrade: null })), false);
    assert.equal(isUpgradeRequest(parse(["GET / HTTP/1.1", "Host: a"])), false);
  });
});

describe("validateUpgrade", () => {
  it("validateUpgrade accepts the RFC 6455 request", () => {
    const request = upgrade();
    assert.deepEqual(validateUpgrade(request), {
      request,
      key: KEY,
      protocols: ["chat", "superchat"],
      extensions: "",
      origin: "http://example.com",
      host: "server.example.com",
    });
  });

  it("validateUpgrade reads Connection and Upgrade as case-insensitive token lists", () => {
    for (
      const connection of ["keep-alive, Upgrade", "UPGRADE", "upgrade,keep-alive", " ,Upgrade\t"]
    ) {
      assert.equal(validateUpgrade(upgrade({ Connection: connection })).key, KEY, connection);
    }
    assert.equal(validateUpgrade(upgrade({ Upgrade: "WebSocket" })).key, KEY);
    const repeated = upgrade({ Connection: "keep-alive", "connection": "upgrade" });
    assert.equal(validateUpgrade(repeated).key, KEY);
  });

  it("validateUpgrade collects every subprotocol and the extensions", () => {
    const request = upgrade({
      "Sec-WebSocket-Protocol": "a, ,b",
      "sec-websocket-protocol": "c",
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    });
    const result = validateUpgrade(request);
    assert.deepEqual(result.protocols, ["a", "b", "c"]);
    assert.equal(result.extensions, "permessage-deflate; client_max_window_bits");
    assert.deepEqual(validateUpgrade(upgrade({ "Sec-WebSocket-Protocol": null })).protocols, []);
  });

  it("validateUpgrade takes the host of an absolute-form target", () => {
    const request = upgrade({}, "GET http://b.test:81/chat HTTP/1.1");
    assert.equal(validateUpgrade(request).host, "b.test:81");
  });

  it("validateUpgrade answers a method other than GET with 405", () => {
    rejects(
      () => validateUpgrade(upgrade({}, "POST /chat HTTP/1.1")),
      405,
      "METHOD_NOT_ALLOWED",
      { Allow: "GET" },
    );
    rejects(() => validateUpgrade(upgrade({}, "get /chat HTTP/1.1")), 405, "METHOD_NOT_ALLOWED", {
      Allow: "GET",
    });
  });

  it("validateUpgrade rejects a request without Host", () => {
    const request = upgrade();
    const headers = new Headers(request.headers);
    headers.delete("host");
    rejects(() => validateUpgrade({ ...request, headers }), 400, "BAD_REQUEST");
  });

  it("validateUpgrade answers a request that is not an upgrade with 426", () => {
    const expected = { Upgrade: "websocket", Connection: "Upgrade" };
    for (
      const fields of [
        { Upgrade: null },
        { Upgrade: "h2c" },
        { Upgrade: "websocket/13" },
        { Connection: null },
        { Connection: "keep-alive" },
        { Connection: "upgrade-insecure" },
      ]
    ) {
      rejects(() => validateUpgrade(upgrade(fields)), 426, "UPGRADE_REQUIRED", expected);
    }
  });

  it("validateUpgrade answers a version other than 13 with 426 and the supported version", () => {
    const expected = {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Version": "13",
    };
    for (const version of [null, "8", "13, 13", "130", ""]) {
      const request = upgrade({ "Sec-WebSocket-Version": version });
      rejects(() => validateUpgrade(request), 426, "UNSUPPORTED_VERSION", expected);
    }
  });

  it("validateUpgrade rejects a missing or malformed Sec-WebSocket-Key", () => {
    const keys = [
      null,
      "",
      "dGhlIHNhbXBsZSBub25jZQ", // no padding
      "dGhlIHNhbXBsZSBub25jZQ=", // one pad only
      "dGhlIHNhbXBsZSBub25jZR==", // non-zero padding bits
      "dGhlIHNhbXBsZSBub25j*Q==", // outside the alphabet
      "dGhlIHNhbXBsZSBub25jZSE=", // 17 bytes
      "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", // 20 bytes
    ];
    for (const key of keys) {
      rejects(
        () => validateUpgrade(upgrade({ "Sec-WebSocket-Key": key })),
        400,
        "BAD_REQUEST",
      );
    }
  });

  it("validateUpgrade rejects a repeated Sec-WebSocket-Key", () => {
    const request = upgrade({ "Sec-WebSocket-Key": KEY, "sec-websocket-key": KEY });
    const error = rejects(() => validateUpgrade(request), 400, "BAD_REQUEST");
    assert.match(error.message, /more than one value/);
  });

  it("validateUpgrade rejects invalid or repeated subprotocols", () => {
    for (const protocols of ["a b", "a, a", "chat/1.0(x)"]) {
      const request = upgrade({ "Sec-WebSocket-Protocol": protocols });
      rejects(() => validateUpgrade(request), 400, "BAD_REQUEST");
    }
  });

  it("validateUpgrade rejects a request with a body", () => {
    for (const fields of [{ "Content-Length": "5" }, { "Transfer-Encoding": "chunked" }]) {
      rejects(() => validateUpgrade(upgrade(fields)), 400, "BAD_REQUEST");
    }
    assert.equal(validateUpgrade(upgrade({ "Content-Length": "0" })).key, KEY);
  });
});

describe("buildAcceptResponse", () => {
  it("buildAcceptResponse answers the RFC 6455 example", () => {
    assert.equal(
      decoder.decode(buildAcceptResponse(KEY)),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
    );
  });

  it("buildAcceptResponse adds the protocol and extra headers, repeating Set-Cookie", () => {
    const headers = new Headers({ "Sec-WebSocket-Extensions": "permessage-deflate" });
    headers.append("Set-Cookie", "a=1; Path=/");
    headers.append("Set-Cookie", "b=2, c");
    const text = decoder.decode(buildAcceptResponse(KEY, { protocol: "chat", headers }));
    assert.equal(
      text,
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n` +
        "sec-websocket-extensions: permessage-deflate\r\nset-cookie: a=1; Path=/\r\n" +
        "set-cookie: b=2, c\r\n\r\n",
    );
  });

  it("buildAcceptResponse falls back to one Set-Cookie line without getSetCookie", () => {
    const headers = new Headers([["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]]);
    Object.defineProperty(headers, "getSetCookie", { value: undefined });
    const text = decoder.decode(buildAcceptResponse(KEY, { headers }));
    assert.ok(text.endsWith("\r\nset-cookie: a=1, b=2\r\n\r\n"), text);
  });

  it("buildAcceptResponse takes headers as pairs or a record", () => {
    const pairs = buildAcceptResponse(KEY, { headers: [["X-A", "1"], ["X-A", " 2 "]] });
    assert.ok(decoder.decode(pairs).endsWith("X-A: 1\r\nX-A: 2\r\n\r\n"));
    const record = buildAcceptResponse(KEY, { headers: { "X-B": "3" } });
    assert.ok(decoder.decode(record).endsWith("X-B: 3\r\n\r\n"));
  });

  it("buildAcceptResponse rejects header injection", () => {
    const cases: HeadersInit[] = [
      [["X", "a\r\nSet-Cookie: evil"]],
      [["X", "a\nb"]],
      { "X\r\nY": "a" },
      { "X Y": "a" },
      { "": "a" },
      { X: "\0" },
      { X: "caf\u00e9" },
    ];
    for (const headers of cases) {
      assert.throws(() => buildAcceptResponse(KEY, { headers }), {
        name: "TypeError",
        message: /^Cannot build response: invalid header/,
      });
    }
    assert.throws(() => buildAcceptResponse(KEY, { protocol: "a\r\nb" }), TypeError);
  });

  it("buildAcceptResponse refuses headers the handshake sets", () => {
    for (const name of ["Connection", "upgrade", "Sec-WebSocket-Accept", "Content-Length"]) {
      assert.throws(() => buildAcceptResponse(KEY, { headers: { [name]: "x" } }), TypeError);
    }
  });
});

describe("buildErrorResponse", () => {
  it("buildErrorResponse writes a complete response that closes the connection", () => {
    assert.equal(
      decoder.decode(buildErrorResponse(400)),
      "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\nBad Request",
    );
  });

  it("buildErrorResponse counts the body in UTF-8 bytes", () => {
    const text = decoder.decode(buildErrorResponse(503, { body: "réessayez" }));
    assert.ok(text.startsWith("HTTP/1.1 503 Service Unavailable\r\n"));
    assert.ok(text.endsWith("Content-Length: 10\r\n\r\nréessayez"));
  });

  it("buildErrorResponse sends the headers of a 426 and keeps Upgrade in Connection", () => {
    let error: unknown;
    try {
      validateUpgrade(upgrade({ "Sec-WebSocket-Version": "8" }));
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof HandshakeError);
    const text = decoder.decode(buildErrorResponse(error.status, { headers: error.headers }));
    assert.equal(
      text,
      "HTTP/1.1 426 Upgrade Required\r\nConnection: Upgrade, close\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Version: 13\r\nContent-Length: 16\r\n\r\nUpgrade Required",
    );
  });

  it("buildErrorResponse lets the caller choose the content type and drops keep-alive", () => {
    const text = decoder.decode(
      buildErrorResponse(403, {
        headers: { "Content-Type": "application/json", Connection: "keep-alive" },
        body: "{}",
      }),
    );
    assert.equal(
      text,
      "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\n" +
        "Content-Length: 2\r\n\r\n{}",
    );
  });

  it("buildErrorResponse has a reason phrase for every status netws sends", () => {
    for (const status of [400, 403, 404, 405, 426, 431, 500, 503]) {
      const line = decoder.decode(buildErrorResponse(status)).split("\r\n")[0];
      assert.match(line ?? "", new RegExp(`^HTTP/1\\.1 ${status} [A-Z]`));
    }
    assert.ok(decoder.decode(buildErrorResponse(418)).startsWith("HTTP/1.1 418 \r\n"));
    assert.ok(decoder.decode(buildErrorResponse(418)).endsWith("\r\n\r\n418"));
  });

  it("buildErrorResponse rejects a status that is not an error", () => {
    for (const status of [101, 200, 399, 600, 404.5]) {
      assert.throws(() => buildErrorResponse(status), RangeError);
    }
  });

  it("buildErrorResponse rejects header injection and body framing headers", () => {
    assert.throws(() => buildErrorResponse(400, { headers: { X: "a\r\nb" } }), TypeError);
    assert.throws(() => buildErrorResponse(400, { headers: { "Content-Length": "1" } }), TypeError);
  });
});

describe("toRequest", () => {
  it("toRequest builds a web Request from the Host header", () => {
    const request = toRequest(upgrade({}, "GET /chat?x=1 HTTP/1.1"), { secure: false });
    assert.equal(request.url, "http://server.example.com/chat?x=1");
    assert.equal(request.method, "GET");
    assert.equal(request.headers.get("sec-websocket-key"), KEY);
    assert.equal(request.body, null);
  });

  it("toRequest uses the authority of an absolute-form target", () => {
    const request = toRequest(upgrade({}, "GET http://b.test/x HTTP/1.1"), { secure: true });
    assert.equal(request.url, "https://b.test/x");
  });

  it("toRequest answers a URL it cannot build with 400", () => {
    const request = upgrade();
    const headers = new Headers(request.headers);
    headers.delete("host");
    rejects(() => toRequest({ ...request, headers }, { secure: false }), 400, "BAD_REQUEST");
    headers.set("host", "a%zz");
    rejects(() => toRequest({ ...request, headers }, { secure: false }), 400, "BAD_REQUEST");
  });
});
