import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HandshakeError } from "../src/handshake/errors.ts";
import { buildErrorResponse } from "../src/handshake/response.ts";
import { validateUpgrade } from "../src/handshake/upgrade.ts";
import { upgrade } from "./helpers/handshake.ts";

const decoder = new TextDecoder();

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
