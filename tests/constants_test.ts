import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CloseCode,
  isControlOpcode,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  WEBSOCKET_GUID,
} from "../src/protocol/constants.ts";
import {
  checkLimit,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "../src/protocol/limits.ts";

describe("Opcode", () => {
  it("Opcode has the values of RFC 6455 §5.2", () => {
    assert.deepEqual(
      { ...Opcode },
      { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa },
    );
  });
});

describe("isControlOpcode", () => {
  it("isControlOpcode is true exactly for opcodes with the high bit set (RFC 6455 §5.5)", () => {
    for (let opcode = 0; opcode <= 0xf; opcode++) {
      assert.equal(isControlOpcode(opcode), opcode >= 0x8, `opcode ${opcode}`);
    }
  });
});

describe("CloseCode", () => {
  it("CloseCode has the values of RFC 6455 §7.4.1 and the IANA registry", () => {
    assert.deepEqual({ ...CloseCode }, {
      Normal: 1000,
      GoingAway: 1001,
      ProtocolError: 1002,
      UnsupportedData: 1003,
      NoStatusReceived: 1005,
      Abnormal: 1006,
      InvalidPayload: 1007,
      PolicyViolation: 1008,
      MessageTooBig: 1009,
      MandatoryExtension: 1010,
      InternalError: 1011,
      ServiceRestart: 1012,
      TryAgainLater: 1013,
      BadGateway: 1014,
    });
  });
});

describe("isValidCloseCode", () => {
  it("isValidCloseCode accepts the boundaries of every allowed range", () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1010, 1014, 3000, 3999, 4000, 4999]) {
      assert.equal(isValidCloseCode(code), true, `code ${code}`);
    }
  });

  it("isValidCloseCode rejects the boundaries of every forbidden range", () => {
    for (
      const code of [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535, 65536]
    ) {
      assert.equal(isValidCloseCode(code), false, `code ${code}`);
    }
  });

  it("isValidCloseCode accepts exactly 1000–1003, 1007–1014 and 3000–4999 of all 16-bit codes", () => {
    const valid: number[] = [];
    for (let code = 0; code <= 0xffff; code++) if (isValidCloseCode(code)) valid.push(code);
    const expected: number[] = [];
    for (let code = 1000; code <= 1003; code++) expected.push(code);
    for (let code = 1007; code <= 1014; code++) expected.push(code);
    for (let code = 3000; code <= 4999; code++) expected.push(code);
    assert.deepEqual(valid, expected);
  });

  it("isValidCloseCode rejects values that are not integers", () => {
    for (const code of [1000.5, 3000.1, NaN, Infinity, -Infinity, -1000]) {
      assert.equal(isValidCloseCode(code), false, `code ${code}`);
    }
  });
});

describe("MAX_CONTROL_PAYLOAD", () => {
  it("MAX_CONTROL_PAYLOAD is 125 bytes (RFC 6455 §5.5)", () => {
    assert.equal(MAX_CONTROL_PAYLOAD, 125);
  });
});

describe("MAX_CLOSE_REASON_BYTES", () => {
  it("MAX_CLOSE_REASON_BYTES leaves room for the 2-byte code (RFC 6455 §5.5.1)", () => {
    assert.equal(MAX_CLOSE_REASON_BYTES, 123);
  });
});

describe("WEBSOCKET_GUID", () => {
  it("WEBSOCKET_GUID gives the accept key of the RFC 6455 §1.3 example", async () => {
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + WEBSOCKET_GUID),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    assert.equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });
});

// The limits of src/limits.ts are constants too; they are tested here.
describe("DEFAULT_MAX_FRAME_SIZE", () => {
  it("DEFAULT_MAX_FRAME_SIZE is 16 MiB", () => {
    assert.equal(DEFAULT_MAX_FRAME_SIZE, 16 * 1024 * 1024);
  });
});

describe("DEFAULT_MAX_MESSAGE_SIZE", () => {
  it("DEFAULT_MAX_MESSAGE_SIZE is 16 MiB", () => {
    assert.equal(DEFAULT_MAX_MESSAGE_SIZE, 16 * 1024 * 1024);
  });
});

describe("DEFAULT_MAX_FRAGMENTS", () => {
  it("DEFAULT_MAX_FRAGMENTS is 16384", () => {
    assert.equal(DEFAULT_MAX_FRAGMENTS, 16384);
  });
});

describe("checkLimit", () => {
  it("checkLimit returns the fallback for undefined", () => {
    assert.equal(checkLimit("maxFrameSize", undefined, 1024), 1024);
  });

  it("checkLimit returns positive safe integers and Infinity as they are", () => {
    for (const value of [1, 2, 125, 16777216, Number.MAX_SAFE_INTEGER, Infinity]) {
      assert.equal(checkLimit("maxFrameSize", value, 1024), value);
    }
  });

  it("checkLimit rejects values that are not positive integers or Infinity with a RangeError", () => {
    const values: unknown[] = [0, -0, -1, 1.5, NaN, -Infinity, 2 ** 53, "10", null, true, {}, 10n];
    for (const value of values) {
      assert.throws(
        () => checkLimit("maxFrameSize", value as number, 1024),
        (error) =>
          error instanceof RangeError && /^Cannot set maxFrameSize: .*[^.]$/.test(error.message),
        String(value),
      );
    }
  });
});
