// The handshake as a whole: every refusal netws makes, from request bytes to response bytes, by
// the sans-I/O functions and by a real server on loopback.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../mod.ts";
import {
  buildErrorResponse,
  HandshakeError,
  parseRequestHead,
  toRequest,
  validateUpgrade,
} from "../src/handshake/mod.ts";
import { KEY } from "./helpers/handshake.ts";
import { rawRequest, test } from "./helpers/server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LIMIT = 8192;

// Written into every request, where the fault is when it can be: no response may repeat it.
const MARK = "zq7xk";

const FIELDS: Record<string, string> = {
  Host: "h.test",
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": KEY,
  "Sec-WebSocket-Version": "13",
  "X-Canary": `${MARK}-canary`,
};

/** A handshake head with fields replaced (`null` removes one) and `extra` lines added. */
function head(
  requestLine = `GET /${MARK} HTTP/1.1`,
  fields: Record<string, string | null> = {},
  extra: string[] = [],
): string {
  const lines = [requestLine];
  for (const [name, value] of Object.entries({ ...FIELDS, ...fields })) {
    if (value !== null) lines.push(`${name}: ${value}`);
  }
  return [...lines, ...extra].join("\r\n") + "\r\n\r\n";
}

interface Refusal {
  request: string;
  status: number;
  code: string;
  body: string;
  headers?: Record<string, string>;
  /** Which function refuses it; `validateUpgrade` (after `parseRequestHead`) when unset. */
  via?: "toRequest";
  /** False when a server answers it on another path (see the test over loopback). */
  wire?: false;
}

const UPGRADE = { Upgrade: "websocket", Connection: "Upgrade" };

const REFUSALS: Refusal[] = [
  {
    request: `\x16\x03\x01${MARK}`,
    status: 400,
    code: "NOT_HTTP",
    body: "The request does not start with an HTTP method",
  },
  {
    request: `GET /${MARK} HTTP/1.1\nHost: ${MARK}\n`,
    status: 400,
    code: "BARE_LF",
    body: "A line of the request head ends in LF without CR",
  },
  {
    request: head(undefined, { "X-Canary": `${MARK}\x01` }),
    status: 400,
    code: "INVALID_BYTE",
    body: "The request head holds a control or non-ASCII byte",
  },
  {
    request: head(`GET /${MARK} HTTP/1.1 ${MARK}`),
    status: 400,
    code: "INVALID_REQUEST_LINE",
    body: "The request line is not a method, a target and a version",
  },
  {
    request: head(`${MARK}(x) / HTTP/1.1`),
    status: 400,
    code: "INVALID_METHOD",
    body: "The method is not a token",
  },
  {
    request: head(`GET /${MARK} HTTP/1.0`),
    status: 400,
    code: "UNSUPPORTED_HTTP_VERSION",
    body: "A WebSocket handshake needs HTTP/1.1",
  },
  {
    request: head(`GET /${MARK}#${MARK} HTTP/1.1`),
    status: 400,
    code: "INVALID_TARGET",
    body: "The request target holds whitespace or a fragment",
  },
  {
    request: head(`GET ftp://${MARK}/ HTTP/1.1`),
    status: 400,
    code: "UNSUPPORTED_TARGET",
    body: "The request target is neither a path nor an http or https URL",
  },
  {
    request: head(undefined, {}, [`X-Folded: a`, ` ${MARK}`]),
    status: 400,
    code: "FOLDED_HEADER",
    body: "The request head uses obsolete line folding",
  },
  {
    request: head(undefined, {}, [`${MARK} without a colon`]),
    status: 400,
    code: "INVALID_HEADER_LINE",
    body: "A header line has no colon",
  },
  {
    request: head(undefined, {}, [`X-${MARK} : b`]),
    status: 400,
    code: "INVALID_HEADER_NAME",
    body: "A header name is not a token",
  },
  {
    request: head(undefined, { Host: null }),
    status: 400,
    code: "MISSING_HOST",
    body: 'The request has no "Host" header',
  },
  {
    request: head(undefined, { Host: `${MARK}.test` }, [`host: ${MARK}.test`]),
    status: 400,
    code: "DUPLICATE_HOST",
    body: 'The request has more than one "Host" header',
  },
  {
    request: head(undefined, { Host: `${MARK}/x` }),
    status: 400,
    code: "INVALID_HOST",
    body: 'The "Host" header is not a valid host and port',
  },
  {
    request: head(undefined, { Host: `${MARK}%zz` }),
    status: 400,
    code: "INVALID_REQUEST",
    body: "The method and URL do not make a valid request",
    via: "toRequest",
    wire: false,
  },
  {
    request: head(undefined, { "X-Canary": MARK.repeat(LIMIT / MARK.length + 1) }),
    status: 431,
    code: "HEADERS_TOO_LARGE",
    body: "The request head is larger than the server accepts",
  },
  {
    request: head(undefined, {}, Array.from({ length: 100 }, (_, i) => `X-${MARK}-${i}: ${MARK}`)),
    status: 431,
    code: "TOO_MANY_HEADERS",
    body: "The request has more header fields than the server accepts",
  },
  {
    request: head(`POST /${MARK} HTTP/1.1`),
    status: 405,
    code: "METHOD_NOT_ALLOWED",
    body: "A WebSocket handshake must use GET",
    headers: { Allow: "GET" },
  },
  {
    request: head(undefined, { Upgrade: MARK }),
    status: 426,
    code: "UPGRADE_REQUIRED",
    body: 'The "Upgrade" header does not name websocket',
    headers: UPGRADE,
    wire: false,
  },
  {
    request: head(undefined, { Connection: MARK }),
    status: 426,
    code: "MISSING_CONNECTION_UPGRADE",
    body: 'The "Connection" header does not name upgrade',
    headers: UPGRADE,
  },
  {
    request: head(undefined, { "Transfer-Encoding": MARK }),
    status: 400,
    code: "UNEXPECTED_BODY",
    body: "A WebSocket handshake cannot carry a body",
  },
  {
    request: head(undefined, { "Sec-WebSocket-Version": MARK }),
    status: 426,
    code: "UNSUPPORTED_VERSION",
    body: "Only WebSocket version 13 is supported",
    headers: { ...UPGRADE, "Sec-WebSocket-Version": "13" },
  },
  {
    request: head(undefined, { "Sec-WebSocket-Key": null }),
    status: 400,
    code: "MISSING_KEY",
    body: 'The request has no "Sec-WebSocket-Key" header',
  },
  {
    request: head(undefined, {}, [`sec-websocket-key: ${MARK}`]),
    status: 400,
    code: "DUPLICATE_KEY",
    body: 'The request has more than one "Sec-WebSocket-Key"',
  },
  {
    request: head(undefined, { "Sec-WebSocket-Key": `${MARK}${MARK}` }),
    status: 400,
    code: "INVALID_KEY",
    body: '"Sec-WebSocket-Key" is not 16 bytes in base64',
  },
  {
    request: head(undefined, { "Sec-WebSocket-Protocol": `${MARK}/1` }),
    status: 400,
    code: "INVALID_PROTOCOL",
    body: '"Sec-WebSocket-Protocol" holds a subprotocol that is not a token',
  },
  {
    request: head(undefined, { "Sec-WebSocket-Protocol": `${MARK}, ${MARK}` }),
    status: 400,
    code: "DUPLICATE_PROTOCOL",
    body: '"Sec-WebSocket-Protocol" names a subprotocol twice',
  },
];

const REASONS: Record<number, string> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
};

/** Refuses `refusal.request` as a server does: the error, and the bytes of its answer. */
function answer(refusal: Refusal): { error: HandshakeError; response: string } {
  try {
    const parsed = parseRequestHead(encoder.encode(refusal.request), LIMIT);
    assert.ok(parsed, "the head is complete");
    if (refusal.via === "toRequest") toRequest(parsed, { secure: false });
    else validateUpgrade(parsed);
  } catch (error) {
    assert.ok(error instanceof HandshakeError, `${refusal.code}: got ${error}`);
    const bytes = buildErrorResponse(error.status, {
      headers: error.headers,
      ...(error.body === undefined ? {} : { body: error.body }),
    });
    return { error, response: decoder.decode(bytes) };
  }
  assert.fail(`${refusal.code}: expected a HandshakeError`);
}

/** Checks that `text` holds nothing of the request: neither the mark nor the key. */
function assertNoEcho(text: string, what: string): void {
  assert.ok(!text.toLowerCase().includes(MARK), `${what} repeats request data: ${text}`);
}

describe("handshake refusals", () => {
  it("handshake refusals have one code and one body each", () => {
    assert.equal(new Set(REFUSALS.map((refusal) => refusal.code)).size, REFUSALS.length);
    assert.equal(new Set(REFUSALS.map((refusal) => refusal.body)).size, REFUSALS.length);
  });

  it("handshake refusals give their status, code, headers and fixed body", () => {
    for (const refusal of REFUSALS) {
      const { error, response } = answer(refusal);
      assert.equal(error.code, refusal.code);
      assert.equal(error.status, refusal.status, refusal.code);
      assert.deepEqual(error.headers, refusal.headers ?? {}, refusal.code);
      assert.ok(Object.isFrozen(error.headers), `${refusal.code}: headers shared, so frozen`);
      assert.equal(error.body, refusal.body, refusal.code);
      const [responseHead = "", body] = response.split("\r\n\r\n");
      const lines = responseHead.split("\r\n");
      assert.equal(lines[0], `HTTP/1.1 ${refusal.status} ${REASONS[refusal.status]}`);
      assert.equal(body, refusal.body, refusal.code);
      assert.ok(lines.includes(`Content-Length: ${encoder.encode(body).length}`), refusal.code);
      for (const [name, value] of Object.entries(refusal.headers ?? {})) {
        if (name !== "Connection") assert.ok(lines.includes(`${name}: ${value}`), refusal.code);
      }
    }
  });

  it("handshake refusals never repeat request data in the response", () => {
    for (const refusal of REFUSALS) {
      assert.ok(refusal.request.includes(MARK), `${refusal.code} carries the mark`);
      const { error, response } = answer(refusal);
      assertNoEcho(response, refusal.code);
      assertNoEcho(error.body ?? "", refusal.code);
    }
  });

  it("handshake refusals keep the detail in the message, for logs", () => {
    const { error } = answer(REFUSALS.find((refusal) => refusal.code === "INVALID_KEY")!);
    assert.match(error.message, new RegExp(`^Cannot accept handshake: .*"${MARK}${MARK}"`));
  });

  test("handshake refusals reach the client over loopback with their body", async (scope) => {
    const errors: unknown[] = [];
    const server = serve({
      port: 0,
      hostname: "127.0.0.1",
      maxHeaderSize: LIMIT,
      onConnect() {},
      onError: (error) => void errors.push(error),
    });
    scope.defer(() => server.shutdown(), true);
    await server.ready;
    for (const refusal of REFUSALS.filter((refusal) => refusal.wire !== false)) {
      const response = await rawRequest(scope, server.port, refusal.request);
      assert.equal(response.status, refusal.status, refusal.code);
      assert.equal(response.body, refusal.body, refusal.code);
      for (const [name, value] of Object.entries(refusal.headers ?? {})) {
        assert.ok(response.headers.get(name)?.includes(value), `${refusal.code}: ${name}`);
      }
      assertNoEcho(response.statusLine, refusal.code);
      for (const [name, value] of response.headers) assertNoEcho(`${name}: ${value}`, refusal.code);
      assertNoEcho(response.body, refusal.code);
    }
    // A refusal is the client's fault, not the application's.
    assert.deepEqual(errors, []);
  });
});
