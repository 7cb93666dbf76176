import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HandshakeError } from "../src/handshake/errors.ts";
import { HandshakeError as RootHandshakeError } from "../mod.ts";
import { HandshakeError as SubpathHandshakeError } from "../src/handshake/mod.ts";
import { closeFrameFor, WebSocketError } from "../src/protocol/mod.ts";

describe("HandshakeError", () => {
  it("HandshakeError carries an HTTP status, a code, response headers and a body", () => {
    const error = new HandshakeError(
      "Cannot accept handshake: bad version",
      426,
      "UNSUPPORTED_VERSION",
      { "Sec-WebSocket-Version": "13" },
      "Version 13 only",
    );
    assert.ok(error instanceof Error);
    assert.equal(error.name, "HandshakeError");
    assert.equal(error.message, "Cannot accept handshake: bad version");
    assert.equal(error.status, 426);
    assert.equal(error.code, "UNSUPPORTED_VERSION");
    assert.deepEqual(error.headers, { "Sec-WebSocket-Version": "13" });
    assert.equal(error.body, "Version 13 only");
  });

  it("HandshakeError has no extra headers and no body by default", () => {
    const error = new HandshakeError("Cannot accept handshake: forbidden", 403, "FORBIDDEN");
    assert.deepEqual(error.headers, {});
    assert.equal(error.body, undefined);
  });

  it("HandshakeError keeps the positional form with an undefined body", () => {
    const error = new HandshakeError(
      "Cannot accept handshake: no",
      401,
      "FORBIDDEN",
      {},
      undefined,
    );
    assert.equal(error.status, 401);
    assert.equal(error.body, undefined);
  });

  it("HandshakeError is no WebSocketError and has no close code", () => {
    const error = new HandshakeError("Cannot accept handshake: forbidden", 403, "FORBIDDEN");
    assert.ok(!(error instanceof WebSocketError));
    assert.equal("closeCode" in error, false);
    // Should one reach the close path anyway, nothing of it is sent to the peer.
    assert.deepEqual(closeFrameFor(error), { code: 1011, reason: "Internal error" });
  });

  it("HandshakeError rejects a status that is not an error status", () => {
    for (const status of [101, 200, 399, 600, 404.5, Number.NaN]) {
      assert.throws(() => new HandshakeError("Cannot x: y", status, "FORBIDDEN"), RangeError);
    }
  });

  it("HandshakeError is one class on every import path", () => {
    assert.equal(RootHandshakeError, HandshakeError);
    assert.equal(SubpathHandshakeError, HandshakeError);
  });
});
