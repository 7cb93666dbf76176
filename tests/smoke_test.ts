// Checks that the test setup itself works on every runtime: the sources load through mod.ts and
// directly, fixtures resolve next to the test file (also in the compiled npm/test_dist/), and
// `ws` is importable under Node.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { CloseCode, isValidCloseCode } from "../src/protocol/constants.ts";
import { closeFrameFor, MessageTooBigError } from "../src/protocol/errors.ts";
import * as netws from "../mod.ts";
import * as protocol from "../src/protocol/mod.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

describe("smoke", () => {
  it("isValidCloseCode accepts codes defined for use and rejects reserved ones", () => {
    assert.equal(isValidCloseCode(CloseCode.Normal), true);
    assert.equal(isValidCloseCode(4999), true);
    assert.equal(isValidCloseCode(CloseCode.NoStatusReceived), false);
    assert.equal(isValidCloseCode(1015), false);
  });

  it("closeFrameFor maps a limit error to 1009 and hides unexpected errors behind 1011", () => {
    assert.equal(closeFrameFor(new MessageTooBigError("FRAME_TOO_BIG", 10, 5)).code, 1009);
    assert.deepEqual(closeFrameFor(new TypeError("secret")), {
      code: 1011,
      reason: "Internal error",
    });
  });

  it("mod.ts and ./protocol export the same objects as the source files", () => {
    assert.equal(protocol.closeFrameFor, closeFrameFor);
    assert.equal(protocol.CloseCode, CloseCode);
    assert.equal(netws.CloseCode, CloseCode);
    assert.equal(netws.MessageTooBigError, MessageTooBigError);
  });

  it("TLS fixtures resolve next to the test file", async () => {
    const ca = await readFile(new URL("./fixtures/tls/ca.pem", import.meta.url), "utf8");
    assert.match(ca, /-----BEGIN CERTIFICATE-----/);
  });

  it("ws is importable under Node", { skip: runtime !== "node" }, async () => {
    const { WebSocket } = await import("ws");
    assert.equal(typeof WebSocket, "function");
  });
});
